"""NIF, NIE and CIF check characters (certs.identifiers)."""

from __future__ import annotations

import re

import pytest
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from fastapi.testclient import TestClient
from hypothesis import given
from hypothesis import strategies as st

from api.context import Context
from certs.identifiers import (
    InvalidIdentifier,
    check_cif,
    check_nif,
    is_valid_cif,
    is_valid_nif,
    parse_semantics_identifier,
)
from tests.identity.conftest import Issued, TestPki, challenge_login, name, oids, set_soft_fail

LETTERS = "TRWAGMYFPDXBNJZSQVHLCKE"


@pytest.mark.parametrize(
    ("nif", "normalised"),
    [
        ("12345678Z", "12345678Z"),
        ("99999999R", "99999999R"),
        ("00000000T", "00000000T"),
        ("X1234567L", "X1234567L"),
        ("Y1234567X", "Y1234567X"),
        ("Z1234567R", "Z1234567R"),
        ("K1234567L", "K1234567L"),
        (" 12345678-z ", "12345678Z"),
        ("x 1234567 l", "X1234567L"),
    ],
)
def test_valid_nifs_and_nies_are_normalised(nif: str, normalised: str) -> None:
    assert check_nif(nif) == normalised
    assert is_valid_nif(nif)


FULL_WIDTH = str.maketrans("0123456789", "０１２３４５６７８９")
ARABIC_INDIC = str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")


@pytest.mark.parametrize("table", [FULL_WIDTH, ARABIC_INDIC])
@pytest.mark.parametrize("nif", ["12345678Z", "X1234567L", "K1234567L"])
def test_non_ascii_digits_are_not_a_nif(nif: str, table: dict[int, str]) -> None:
    lookalike = nif.translate(table)
    assert lookalike != nif and not is_valid_nif(lookalike)
    with pytest.raises(InvalidIdentifier):
        check_nif(lookalike)


@pytest.mark.parametrize("table", [FULL_WIDTH, ARABIC_INDIC])
@pytest.mark.parametrize("cif", ["B12345674", "P2899900A", "A58818501"])
def test_non_ascii_digits_are_not_a_cif(cif: str, table: dict[int, str]) -> None:
    lookalike = cif.translate(table)
    assert lookalike != cif and not is_valid_cif(lookalike)


@pytest.mark.parametrize(
    ("lookalike", "real"),
    [("00000015\u017f", "00000015S"), ("P1000009\u0131", "P1000009I")],
)
def test_letters_that_upper_case_into_ascii_are_refused(lookalike: str, real: str) -> None:
    # "\u017f".upper() == "S" and "\u0131".upper() == "I"
    assert lookalike.upper() == real and (is_valid_nif(real) or is_valid_cif(real))
    assert not is_valid_nif(lookalike) and not is_valid_cif(lookalike)


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


ASCII_NIF = re.compile(r"(?:[0-9]{8}|[XYZKLM][0-9]{7})[A-Z]")
ASCII_CIF = re.compile(r"[A-Z][0-9]{7}[0-9A-J]")


@given(st.text(max_size=30))
def test_arbitrary_text_is_refused_or_yields_a_canonical_ascii_identifier(text: str) -> None:
    """Whatever the input, a result is plain ASCII, canonical and stable under re-checking."""
    for check, is_valid, shape in ((check_nif, is_valid_nif, ASCII_NIF),
                                   (check_cif, is_valid_cif, ASCII_CIF)):
        try:
            out = check(text)
        except InvalidIdentifier:
            assert not is_valid(text)
            continue
        assert is_valid(text) and shape.fullmatch(out) and check(out) == out
    sem = parse_semantics_identifier(text)
    assert sem is None or str(sem) == text.strip()


def test_semantics_identifiers() -> None:
    sem = parse_semantics_identifier("VATES-B12345674")
    assert sem is not None and (sem.type, sem.country, sem.value) == ("VAT", "ES", "B12345674")
    assert str(sem) == "VATES-B12345674"
    assert parse_semantics_identifier("12345678Z") is None


def _fnmt_citizen(test_pki: TestPki, nif: str) -> Issued:
    """FNMT style: the NIF in a SAN directoryName attribute (a UTF8String)."""
    san = [x509.DirectoryName(name(
        (oids.FNMT_NAME, "JUAN"), (oids.FNMT_SURNAME1, "ESPAÑOL"), (oids.FNMT_NIF, nif)))]
    return test_pki.leaf(name((NameOID.COMMON_NAME, "JUAN ESPAÑOL")), san=san,
                         eku=[ExtendedKeyUsageOID.CLIENT_AUTH])


def test_login_with_a_full_width_dni_is_refused(
    client: TestClient, ctx: Context, test_pki: TestPki, test_municipality: str
) -> None:
    """A certificate whose DNI is written in full-width digits names nobody."""
    set_soft_fail(ctx, test_municipality)
    real = _fnmt_citizen(test_pki, "12345678Z")
    r = challenge_login(client, test_municipality, real.pem, real.key)
    assert r.status_code == 200 and r.json()["subject"] == "12345678Z", r.text
    fake = _fnmt_citizen(test_pki, "12345678Z".translate(FULL_WIDTH))
    r = challenge_login(client, test_municipality, fake.pem, fake.key)
    assert r.status_code == 401 and r.json()["code"] == "unknown_identity_format", r.text
