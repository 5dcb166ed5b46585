"""Who a certificate names, in what capacity, at which level of assurance (certs.profiles)."""

from __future__ import annotations

import pytest
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from api.context import Context
from certs import oids, qcstatements
from certs.pathvalidation import parse_certificate
from certs.profiles import (
    ElectronicSeal,
    NaturalPerson,
    PublicEmployee,
    Representative,
    UnknownIdentityFormat,
    identify,
)
from tests.identity.conftest import TestPki, name


def demo(ctx: Context, who: str) -> x509.Certificate:
    return parse_certificate((ctx.settings.pki_dir / "people" / f"{who}.pem").read_bytes())


def test_demo_people(session_ctx: Context) -> None:
    citizen = identify(demo(session_ctx, "citizen"))
    assert isinstance(citizen, NaturalPerson) and citizen.capacity == "citizen"
    assert (citizen.nif, citizen.loa) == ("99999999R", "substantial")
    dnie = identify(demo(session_ctx, "dnie"))
    assert (dnie.capacity, dnie.subject, dnie.loa) == ("citizen", "12345678Z", "high")
    assert isinstance(dnie, NaturalPerson) and dnie.family_name == "GARCÍA LÓPEZ"
    rep = identify(demo(session_ctx, "representative"))
    assert isinstance(rep, Representative)
    assert (rep.nif, rep.entity_cif, rep.entity_name) == (
        "X1234567L",
        "B12345674",
        "EMPRESA DEMO SL",
    )
    emp = identify(demo(session_ctx, "employee"))
    assert isinstance(emp, PublicEmployee)
    assert (emp.nif, emp.entity_cif, emp.post) == ("11111111H", "P2899900A", "Registradora")
    assert emp.unit


def test_dnie_without_san_eku_or_qcstatements(test_pki: TestPki) -> None:
    leaf = test_pki.leaf(
        name(
            (NameOID.COUNTRY_NAME, "ES"),
            (NameOID.SERIAL_NUMBER, "12345678Z"),
            (NameOID.SURNAME, "GARCÍA"),
            (NameOID.GIVEN_NAME, "MARÍA"),
            (NameOID.COMMON_NAME, "GARCÍA LÓPEZ, MARÍA (AUTENTICACIÓN)"),
        ),
        policies=[oids.DNIE_AUTHENTICATION_POLICY.dotted_string],
    )
    who = identify(leaf.cert)
    assert isinstance(who, NaturalPerson)
    assert (who.nif, who.given_name, who.family_name, who.loa) == (
        "12345678Z",
        "MARÍA",
        "GARCÍA LÓPEZ",
        "high",
    )


def test_fnmt_san_oids_without_serial_number(test_pki: TestPki) -> None:
    san = [
        x509.DirectoryName(
            name(
                (oids.FNMT_NAME, "JUAN"),
                (oids.FNMT_SURNAME1, "ESPAÑOL"),
                (oids.FNMT_SURNAME2, "ESPAÑOL"),
                (oids.FNMT_NIF, "99999999R"),
            )
        )
    ]
    who = identify(test_pki.leaf(name((NameOID.COMMON_NAME, "JUAN")), san=san).cert)
    assert (who.subject, who.given_name, who.family_name) == (  # type: ignore[attr-defined]
        "99999999R",
        "JUAN",
        "ESPAÑOL ESPAÑOL",
    )


def test_multi_valued_rdn(test_pki: TestPki) -> None:
    subject = x509.Name(
        [
            x509.RelativeDistinguishedName([x509.NameAttribute(NameOID.COUNTRY_NAME, "ES")]),
            x509.RelativeDistinguishedName(
                [
                    x509.NameAttribute(NameOID.SERIAL_NUMBER, "IDCES-99999999R"),
                    x509.NameAttribute(NameOID.COMMON_NAME, "ESPAÑOL JUAN"),
                    x509.NameAttribute(NameOID.GIVEN_NAME, "JUAN"),
                ]
            ),
        ]
    )
    who = identify(test_pki.leaf(subject).cert)
    assert (who.subject, who.given_name) == ("99999999R", "JUAN")  # type: ignore[attr-defined]


def test_employee_2012_profile_and_seal(test_pki: TestPki) -> None:
    p = "2.16.724.1.3.5.3.2"
    emp = identify(
        test_pki.leaf(
            name((NameOID.COMMON_NAME, "x")),
            san=[
                x509.DirectoryName(
                    name(
                        (x509.ObjectIdentifier(f"{p}.3"), "P2899900A"),
                        (x509.ObjectIdentifier(f"{p}.4"), "X1234567L"),
                        (x509.ObjectIdentifier(f"{p}.6"), "PEDRO"),
                        (x509.ObjectIdentifier(f"{p}.10"), "Registro"),
                    )
                )
            ],
        ).cert
    )
    assert isinstance(emp, PublicEmployee)
    assert (emp.nif, emp.entity_cif, emp.unit, emp.capacity) == (
        "X1234567L",
        "P2899900A",
        "Registro",
        "employee",
    )
    s = oids.AGE_SELLO_HIGH
    seal = identify(
        test_pki.leaf(
            name((NameOID.COMMON_NAME, "SEDE")),
            san=[
                x509.DirectoryName(
                    name(
                        (oids.age_field(s, oids.SELLO_ENTITY_CIF), "P2899900A"),
                        (oids.age_field(s, oids.SELLO_SYSTEM_NAME), "REGISTRO ELECTRONICO"),
                    )
                )
            ],
        ).cert
    )
    assert isinstance(seal, ElectronicSeal)
    assert (seal.subject, seal.system_name, seal.capacity) == (
        "P2899900A",
        "REGISTRO ELECTRONICO",
        "seal",
    )


def test_qc_eseal_with_organization_identifier_only(test_pki: TestPki) -> None:
    cert = test_pki.leaf(
        name(
            (NameOID.ORGANIZATION_NAME, "AYTO"),
            (oids.ORGANIZATION_IDENTIFIER, "VATES-P2899900A"),
            (NameOID.COMMON_NAME, "SELLO REGISTRO"),
        ),
        qc=qcstatements.QcStatements(compliance=True, types=(oids.QC_TYPE_ESEAL,)),
    ).cert
    who = identify(cert)
    assert isinstance(who, ElectronicSeal) and who.system_name == "SELLO REGISTRO"


@pytest.mark.parametrize(
    ("qc", "policies", "loa"),
    [
        (qcstatements.QcStatements(compliance=True, sscd=True), [], "high"),
        (qcstatements.QcStatements(compliance=True), [], "substantial"),
        (None, [oids.QCP_N_QSCD.dotted_string], "high"),
        (None, [oids.QCP_N.dotted_string], "substantial"),
        (None, [], "low"),
    ],
)
def test_level_of_assurance(
    test_pki: TestPki, qc: qcstatements.QcStatements | None, policies: list[str], loa: str
) -> None:
    who = identify(test_pki.citizen(qc=qc, policies=policies or None).cert)
    assert who.loa == loa


@pytest.mark.parametrize(
    "serial", ["IDCES-12345678A", "PASES-AB123456", "IDCFR-123456789", "12345678"]
)
def test_unrecognised_or_invalid_identifiers(test_pki: TestPki, serial: str) -> None:
    cert = test_pki.leaf(
        name((NameOID.SERIAL_NUMBER, serial), (NameOID.COMMON_NAME, "X")),
        eku=[ExtendedKeyUsageOID.CLIENT_AUTH],
    ).cert
    with pytest.raises(UnknownIdentityFormat):
        identify(cert)


def test_representative_with_bad_cif_is_refused(test_pki: TestPki) -> None:
    cert = test_pki.leaf(
        name(
            (NameOID.SERIAL_NUMBER, "IDCES-12345678Z"),
            (oids.ORGANIZATION_IDENTIFIER, "VATES-B12345675"),
        )
    ).cert
    with pytest.raises(UnknownIdentityFormat):
        identify(cert)


def test_certificate_naming_nobody(test_pki: TestPki) -> None:
    with pytest.raises(UnknownIdentityFormat):
        identify(test_pki.leaf(name((NameOID.COMMON_NAME, "www.example.com"))).cert)
