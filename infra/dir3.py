"""DIR3 codes: the common directory of Spanish administrative units.

A municipality's DIR3 code is ``L01`` + its 5-digit INE code + the INE control
digit (Madrid: ``L01280796``). Registry offices are ``O`` + 8 digits and local
units carry their own prefixes (``LA``, ``L0``…); all DIR3 codes are 9 characters.
"""

from __future__ import annotations

import re

_INE_WEIGHTS = (
    (0, 2, 4, 6, 8, 1, 3, 5, 7, 9),
    (0, 3, 8, 2, 7, 4, 1, 5, 9, 6),
    (0, 1, 2, 3, 4, 5, 6, 7, 8, 9),
)
_MUNICIPALITY = re.compile(r"^L01(\d{5})(\d)$")
_OFFICE = re.compile(r"^O\d{8}$")
_UNIT = re.compile(r"^[A-Z][A-Z0-9]{8}$")


class InvalidDir3Code(ValueError):
    """A code that is not a well-formed DIR3 code of the expected kind."""

    def __init__(self, code: str, kind: str) -> None:
        super().__init__(f"{code!r} is not a valid DIR3 {kind} code")
        self.code = code
        self.kind = kind


def ine_control_digit(ine5: str) -> int:
    """The INE control digit of a 5-digit municipality code."""
    if not (len(ine5) == 5 and ine5.isdigit()):
        raise ValueError("an INE municipality code has 5 digits")
    total = sum(_INE_WEIGHTS[i % 3][int(d)] for i, d in enumerate(ine5))
    return (10 - total % 10) % 10


def municipality_code(ine5: str) -> str:
    """The DIR3 code for a 5-digit INE code."""
    return f"L01{ine5}{ine_control_digit(ine5)}"


def check_municipality(code: str) -> str:
    m = _MUNICIPALITY.match(code)
    if not m or ine_control_digit(m.group(1)) != int(m.group(2)):
        raise InvalidDir3Code(code, "municipality")
    return code


def check_office(code: str) -> str:
    if not _OFFICE.match(code):
        raise InvalidDir3Code(code, "office")
    return code


def check_unit(code: str) -> str:
    if not _UNIT.match(code):
        raise InvalidDir3Code(code, "unit")
    return code
