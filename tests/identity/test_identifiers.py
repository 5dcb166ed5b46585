"""NIF, NIE and CIF check characters (certs.identifiers)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from certs.identifiers import (
    InvalidIdentifier,
    check_cif,
    check_nif,
    is_valid_cif,
    is_valid_nif,
    parse_semantics_identifier,
)

LETTERS = "TRWAGMYFPDXBNJZSQVHLCKE"


@pytest.mark.parametrize(
    "nif",
    [
        "12345678Z",
        "99999999R",
        "00000000T",
        "X1234567L",
        "Y1234567X",
        "Z1234567R",
        "K1234567L",
        " 12345678-z ",
    ],
)
def test_valid_nifs_and_nies_are_normalised(nif: str) -> None:
    out = check_nif(nif)
    assert out == out.strip().upper() and "-" not in out and len(out) == 9


@pytest.mark.parametrize(
    "nif", ["12345678A", "X1234567A", "1234567Z", "123456789Z", "ABCDEFGHZ", "", "W1234567L"]
)
def test_wrong_check_letters_and_shapes_are_refused(nif: str) -> None:
    with pytest.raises(InvalidIdentifier):
        check_nif(nif)


@given(st.integers(min_value=0, max_value=99_999_999))
def test_dni_rule_holds_for_every_number(n: int) -> None:
    right = LETTERS[n % 23]
    assert is_valid_nif(f"{n:08d}{right}")
    wrong = LETTERS[(n + 1) % 23]
    assert not is_valid_nif(f"{n:08d}{wrong}")


@pytest.mark.parametrize(
    "cif", ["B12345674", "P2899900A", "P2899800C", "A58818501", "Q2826000H", "S2833002E"]
)
def test_valid_cifs(cif: str) -> None:
    assert check_cif(cif) == cif


@pytest.mark.parametrize(
    "cif", ["B12345675", "P28999001", "A5881850A", "I12345674", "B1234567", "12345678Z"]
)
def test_invalid_cifs(cif: str) -> None:
    assert not is_valid_cif(cif)


@given(st.text(max_size=30))
def test_arbitrary_text_never_crashes(text: str) -> None:
    assert isinstance(is_valid_nif(text), bool)
    assert isinstance(is_valid_cif(text), bool)
    parse_semantics_identifier(text)


def test_semantics_identifiers() -> None:
    sem = parse_semantics_identifier("VATES-B12345674")
    assert sem is not None and (sem.type, sem.country, sem.value) == ("VAT", "ES", "B12345674")
    assert str(sem) == "VATES-B12345674"
    assert parse_semantics_identifier("12345678Z") is None
