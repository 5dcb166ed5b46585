"""Spanish tax identifiers (NIF, NIE, CIF) and ETSI EN 319 412-1 semantics identifiers.

Certificates name people and entities by these identifiers, and a login is only as
good as the identifier it yields: a value whose check character does not match is
refused rather than normalised, because it means the certificate (or whoever made
it) is not what it claims to be.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = [
    "InvalidIdentifier",
    "SemanticsIdentifier",
    "check_cif",
    "check_nif",
    "is_valid_cif",
    "is_valid_nif",
    "parse_semantics_identifier",
]

_DNI_LETTERS = "TRWAGMYFPDXBNJZSQVHLCKE"
_CIF_LETTERS = "JABCDEFGHI"
# ASCII only: ``\d`` would also match full-width and other Unicode digits, which
# ``int()`` happily converts, so "１２３４５６７８Z" would pass as a valid DNI.
_NIF_RE = re.compile(r"(?:[0-9]{8}|[XYZ][0-9]{7}|[KLM][0-9]{7})[A-Z]", re.ASCII)
_CIF_RE = re.compile(r"[ABCDEFGHJNPQRSUVW][0-9]{7}[0-9A-J]", re.ASCII)
#: Entities whose CIF control character is always a letter / always a digit.
_CIF_LETTER_ONLY = frozenset("PQSNW")
_CIF_DIGIT_ONLY = frozenset("ABEH")
_SEMANTICS_RE = re.compile(r"([A-Z]{3})([A-Z]{2})-(.+)", re.ASCII)


class InvalidIdentifier(ValueError):
    """A NIF, NIE or CIF is malformed or its check character does not match."""


def _normalise(value: str) -> str:
    """Upper-case without separators; non-ASCII input is refused before ``upper()``.

    ``str.upper`` maps some non-ASCII letters onto ASCII ones (``"ſ"`` becomes
    ``"S"``), which would let a look-alike identifier normalise into a real one.
    """
    if not value.isascii():
        raise InvalidIdentifier(f"{value!r} is not ASCII")
    return value.strip().upper().replace("-", "").replace(" ", "")


def check_nif(value: str) -> str:
    """The normalised NIF (DNI, NIE or K/L/M NIF) if its check letter matches.

    NIE: X/Y/Z stand for 0/1/2 and then the DNI rule applies. K/L/M NIFs (people
    without a DNI) apply the DNI rule to their seven digits.
    """
    nif = _normalise(value)
    if not _NIF_RE.fullmatch(nif):
        raise InvalidIdentifier(f"{value!r} is not a NIF or NIE")
    head, letter = nif[:-1], nif[-1]
    if head[0] in "XYZ":
        number = int(str("XYZ".index(head[0])) + head[1:])
    elif head[0] in "KLM":
        number = int(head[1:])
    else:
        number = int(head)
    if _DNI_LETTERS[number % 23] != letter:
        raise InvalidIdentifier(f"{value!r} has a wrong check letter")
    return nif


def check_cif(value: str) -> str:
    """The normalised CIF of a legal entity if its control character matches."""
    cif = _normalise(value)
    if not _CIF_RE.fullmatch(cif):
        raise InvalidIdentifier(f"{value!r} is not a CIF")
    kind, digits, control = cif[0], cif[1:8], cif[8]
    total = 0
    for i, ch in enumerate(digits):
        d = int(ch)
        if i % 2 == 0:  # positions 1, 3, 5, 7 (odd, counting from one)
            doubled = d * 2
            total += doubled // 10 + doubled % 10
        else:
            total += d
    c = (10 - total % 10) % 10
    if kind in _CIF_LETTER_ONLY:
        ok = control == _CIF_LETTERS[c]
    elif kind in _CIF_DIGIT_ONLY:
        ok = control == str(c)
    else:
        ok = control in (str(c), _CIF_LETTERS[c])
    if not ok:
        raise InvalidIdentifier(f"{value!r} has a wrong control character")
    return cif


def is_valid_nif(value: str) -> bool:
    try:
        check_nif(value)
    except InvalidIdentifier:
        return False
    return True


def is_valid_cif(value: str) -> bool:
    try:
        check_cif(value)
    except InvalidIdentifier:
        return False
    return True


@dataclass(frozen=True)
class SemanticsIdentifier:
    """``IDCES-12345678Z``: type (IDC, PAS, PNO, TIN, VAT, NTR, LEI…), country, value."""

    type: str
    country: str
    value: str

    def __str__(self) -> str:
        return f"{self.type}{self.country}-{self.value}"


def parse_semantics_identifier(text: str) -> SemanticsIdentifier | None:
    """Parse an EN 319 412-1 identifier; None if ``text`` does not have that shape."""
    m = _SEMANTICS_RE.fullmatch(text.strip())
    if m is None:
        return None
    return SemanticsIdentifier(m.group(1), m.group(2), m.group(3))
