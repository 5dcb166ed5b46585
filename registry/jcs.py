"""JSON Canonicalization Scheme (RFC 8785).

Log leaves are hashed as bytes, so the same facts must always give the same bytes,
whichever process, library version or database round-trip produced them. JCS fixes
that: sorted keys (by UTF-16 code units), no insignificant whitespace, ECMAScript
string escaping and ECMAScript number formatting.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["NotCanonicalizable", "canonical_text", "canonicalize"]

#: Integers beyond this are not exactly representable as IEEE 754 doubles (I-JSON).
_MAX_SAFE_INTEGER = 2**53

_ESCAPES = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r",
            "\t": "\\t"}


class NotCanonicalizable(ValueError):
    """The value has no JCS form (NaN, infinities, lone surrogates, unsafe integers...)."""


def canonicalize(value: Any) -> bytes:
    """The RFC 8785 canonical UTF-8 bytes of a JSON-compatible value."""
    return canonical_text(value).encode("utf-8")


def canonical_text(value: Any) -> str:
    parts: list[str] = []
    _emit(value, parts)
    return "".join(parts)


def _emit(value: Any, out: list[str]) -> None:
    if value is None:
        out.append("null")
    elif value is True:
        out.append("true")
    elif value is False:
        out.append("false")
    elif isinstance(value, str):
        out.append(_string(value))
    elif isinstance(value, int):
        if abs(value) > _MAX_SAFE_INTEGER:
            raise NotCanonicalizable(f"integer {value} is not exactly representable in JSON")
        out.append(str(value))
    elif isinstance(value, float):
        out.append(_number(value))
    elif isinstance(value, Mapping):
        items = []
        for key in value:
            if not isinstance(key, str):
                raise NotCanonicalizable(f"object key {key!r} is not a string")
            items.append((key.encode("utf-16-be", "surrogatepass"), key))
        items.sort()
        out.append("{")
        for i, (_, key) in enumerate(items):
            if i:
                out.append(",")
            out.append(_string(key))
            out.append(":")
            _emit(value[key], out)
        out.append("}")
    elif isinstance(value, Sequence) and not isinstance(value, bytes | bytearray):
        out.append("[")
        for i, item in enumerate(value):
            if i:
                out.append(",")
            _emit(item, out)
        out.append("]")
    else:
        raise NotCanonicalizable(f"{type(value).__name__} is not a JSON type")


def _string(s: str) -> str:
    chunks = ['"']
    for ch in s:
        cp = ord(ch)
        if ch in _ESCAPES:
            chunks.append(_ESCAPES[ch])
        elif cp < 0x20:
            chunks.append(f"\\u{cp:04x}")
        elif 0xD800 <= cp <= 0xDFFF:
            raise NotCanonicalizable("lone surrogate in string")
        else:
            chunks.append(ch)
    chunks.append('"')
    return "".join(chunks)


def _number(x: float) -> str:
    """ECMAScript ``Number.prototype.toString`` (ECMA-262 §6.1.6.1.20) of a double."""
    if math.isnan(x) or math.isinf(x):
        raise NotCanonicalizable("NaN and infinities have no JSON form")
    if x == 0:
        return "0"  # also for -0
    sign = "-" if x < 0 else ""
    # repr() yields the shortest digit string that round-trips, as ECMAScript requires.
    mantissa, _, exp_text = repr(abs(x)).partition("e")
    int_part, _, frac_part = mantissa.partition(".")
    digits = (int_part + frac_part).lstrip("0")
    stripped = digits.rstrip("0")
    exp10 = int(exp_text or 0) - len(frac_part) + (len(digits) - len(stripped))
    s, k = stripped, len(stripped)
    n = exp10 + k  # x = 0.s × 10^n
    if k <= n <= 21:
        return sign + s + "0" * (n - k)
    if 0 < n <= 21:
        return sign + s[:n] + "." + s[n:]
    if -6 < n <= 0:
        return sign + "0." + "0" * (-n) + s
    e = n - 1
    exp = f"e{'+' if e >= 0 else '-'}{abs(e)}"
    return sign + (s if k == 1 else s[0] + "." + s[1:]) + exp
