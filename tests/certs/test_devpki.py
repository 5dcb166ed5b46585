"""The dev PKI: certificates openssl accepts, with the real-world profiles' fields."""

from __future__ import annotations

import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.x509.oid import AuthorityInformationAccessOID, ExtensionOID, NameOID

from api.context import Context
from api.demo import DEMO_CODE, DEMO_MUNICIPALITIES, SECOND_CODE, initialise_pki
from api.settings import Settings
from certs import oids, qcstatements, revocation
from certs.devpki import PKCS12_PASSWORD, SealSubject, init_dev_pki
from certs.store import Pki
from infra import tenancy
from tests.certs.conftest import LEAVES, CliRunner, InProcessCli, cert_of

DNI_LETTERS = "TRWAGMYFPDXBNJZSQVHLCKE"


def nif_ok(nif: str) -> bool:
    digits = nif[:-1].replace("X", "0").replace("Y", "1").replace("Z", "2")
    return DNI_LETTERS[int(digits) % 23] == nif[-1]


def cif_ok(cif: str) -> bool:
    digits = [int(c) for c in cif[1:8]]
    total = sum(digits[1::2]) + sum(sum(divmod(2 * d, 10)) for d in digits[0::2])
    control = (10 - total % 10) % 10
    return cif[-1] in (str(control), "JABCDEFGHI"[control])


def attr(name: x509.Name, oid: x509.ObjectIdentifier) -> str:
    values = name.get_attributes_for_oid(oid)
    assert len(values) == 1, f"{oid.dotted_string} in {name.rfc4514_string()}"
    return str(values[0].value)


def ext(cert: x509.Certificate, cls: type) -> x509.Extension:  # type: ignore[type-arg]
    return cert.extensions.get_extension_for_class(cls)


def san_dirname(cert: x509.Certificate) -> x509.Name:
    names = ext(cert, x509.SubjectAlternativeName).value.get_values_for_type(x509.DirectoryName)
    assert len(names) == 1
    return names[0]  # type: ignore[no-any-return]


def policies(cert: x509.Certificate) -> set[str]:
    return {p.policy_identifier.dotted_string for p in ext(cert, x509.CertificatePolicies).value}


def all_certificate_files(pki: Pki) -> list[Path]:
    seals = sorted((pki.dir / "seals").glob("*[0-9].pem"))
    return [pki.dir / "issuing.pem", *(pki.dir / f"{label}.pem" for label in LEAVES), *seals]


def test_openssl_verifies_every_certificate_except_the_expired_one(
        openssl: str, pki: Pki) -> None:
    files = all_certificate_files(pki)
    assert len(files) == 1 + len(LEAVES) + len(DEMO_MUNICIPALITIES)
    for path in files:
        out = subprocess.run(
            [openssl, "verify", "-CAfile", str(pki.root_path), "-untrusted",
             str(pki.dir / "issuing.pem"), str(path)], capture_output=True, text=True)
        if path.name == "expired.pem":
            assert out.returncode != 0
            assert "certificate has expired" in out.stdout + out.stderr
        else:
            assert out.returncode == 0, f"{path}: {out.stdout}{out.stderr}"


def test_the_expired_citizen_is_genuinely_expired(pki: Pki) -> None:
    expired = cert_of(pki, "people/expired")
    assert expired.not_valid_after_utc < datetime.now(UTC)
    assert pki.issuing.not_valid_before_utc <= expired.not_valid_before_utc


def test_pkcs12_files_open_in_openssl_with_the_demo_password(openssl: str, pki: Pki) -> None:
    for p12 in [*(pki.dir / "people").glob("*.p12"), pki.seal_paths(DEMO_CODE)[2]]:
        out = subprocess.run(
            [openssl, "pkcs12", "-in", str(p12), "-passin", f"pass:{PKCS12_PASSWORD}",
             "-nodes"], capture_output=True, text=True, errors="replace")
        assert out.returncode == 0, out.stderr
        assert out.stdout.count("BEGIN CERTIFICATE") == 3  # leaf, issuing, root
        assert "PRIVATE KEY" in out.stdout


def test_every_leaf_points_at_the_running_server(pki: Pki, settings: Settings) -> None:
    base = settings.public_url
    for label in [*LEAVES, f"seals/{DEMO_CODE}"]:
        cert = cert_of(pki, label)
        aia = {(d.access_method, d.access_location.value)
               for d in ext(cert, x509.AuthorityInformationAccess).value}
        assert (AuthorityInformationAccessOID.OCSP, f"{base}/pki/ocsp") in aia
        assert (AuthorityInformationAccessOID.CA_ISSUERS, f"{base}/pki/ca/issuing.cer") in aia
        dp = ext(cert, x509.CRLDistributionPoints).value[0].full_name[0].value
        assert dp == f"{base}/pki/crl/issuing.crl"
    issuing_dp = ext(pki.issuing, x509.CRLDistributionPoints).value[0].full_name[0].value
    assert issuing_dp == f"{base}/pki/crl/root.crl"


def test_fnmt_citizen_profile(pki: Pki) -> None:
    cert = cert_of(pki, "people/citizen")
    assert attr(cert.subject, NameOID.SERIAL_NUMBER) == "IDCES-99999999R"
    assert attr(cert.subject, NameOID.COMMON_NAME).endswith(" - 99999999R")
    dirname = san_dirname(cert)
    assert attr(dirname, oids.FNMT_NIF) == "99999999R" and nif_ok("99999999R")
    assert attr(dirname, oids.FNMT_NAME) == attr(cert.subject, NameOID.GIVEN_NAME)
    assert attr(dirname, oids.FNMT_SURNAME1) and attr(dirname, oids.FNMT_SURNAME2)
    assert oids.FNMT_CITIZEN_POLICY.dotted_string in policies(cert)
    assert oids.CLIENT_AUTH in ext(cert, x509.ExtendedKeyUsage).value
    assert ext(cert, x509.KeyUsage).value.digital_signature
    qc = qcstatements.of_certificate(cert)
    assert qc is not None and qc.compliance and qc.types == (oids.QC_TYPE_ESIGN,)
    assert qc.semantics == oids.SEMANTICS_NATURAL


def test_dnie_profile_is_bare(pki: Pki) -> None:
    cert = cert_of(pki, "people/dnie")
    nif = attr(cert.subject, NameOID.SERIAL_NUMBER)
    assert nif_ok(nif) and not nif.startswith("IDCES-")
    assert attr(cert.subject, NameOID.COMMON_NAME).endswith("(AUTENTICACIÓN)")
    assert " " not in attr(cert.subject, NameOID.SURNAME)  # first surname only
    present = {e.oid for e in cert.extensions}
    assert ExtensionOID.SUBJECT_ALTERNATIVE_NAME not in present
    assert ExtensionOID.EXTENDED_KEY_USAGE not in present
    assert oids.QC_STATEMENTS not in present
    ku = ext(cert, x509.KeyUsage).value
    assert ku.digital_signature and not ku.content_commitment and not ku.key_encipherment
    assert policies(cert) == {oids.DNIE_AUTHENTICATION_POLICY.dotted_string}


def test_representative_profile(pki: Pki) -> None:
    cert = cert_of(pki, "people/representative")
    org_id = attr(cert.subject, NameOID.ORGANIZATION_IDENTIFIER)
    assert org_id.startswith("VATES-") and cif_ok(org_id[6:])
    person = attr(cert.subject, NameOID.SERIAL_NUMBER)
    assert person.startswith("IDCES-") and nif_ok(person[6:])
    assert attr(cert.subject, NameOID.ORGANIZATION_NAME)
    assert oids.CLIENT_AUTH in ext(cert, x509.ExtendedKeyUsage).value


def test_public_employee_profile_names_the_municipality(pki: Pki) -> None:
    cert = cert_of(pki, "people/employee")
    demo = DEMO_MUNICIPALITIES[0]
    dirname = san_dirname(cert)

    def field(suffix: int) -> str:
        return attr(dirname, oids.age_field(oids.AGE_EMPLEADO_MEDIUM, suffix))

    assert field(oids.EMPLEADO_TYPE) == "CERTIFICADO ELECTRONICO DE EMPLEADO PUBLICO"
    assert field(oids.EMPLEADO_ENTITY_CIF) == demo.cif and cif_ok(demo.cif)
    assert field(oids.EMPLEADO_ENTITY).lower() == demo.name.lower()
    assert nif_ok(field(oids.EMPLEADO_DNI))
    assert attr(cert.subject, NameOID.SERIAL_NUMBER) == f"IDCES-{field(oids.EMPLEADO_DNI)}"
    assert field(oids.EMPLEADO_UNIT) and field(oids.EMPLEADO_POST)
    assert "@" in field(oids.EMPLEADO_EMAIL)
    assert oids.CLIENT_AUTH in ext(cert, x509.ExtendedKeyUsage).value


def test_seal_profile_has_the_age_fields_and_qctype_eseal(pki: Pki) -> None:
    for spec in DEMO_MUNICIPALITIES:
        cert = pki.seal(spec.code).certificate
        dirname = san_dirname(cert)

        def field(suffix: int, dirname: x509.Name = dirname) -> str:
            return attr(dirname, oids.age_field(oids.AGE_SELLO_MEDIUM, suffix))

        assert field(oids.SELLO_ENTITY_CIF) == spec.cif
        assert field(oids.SELLO_ENTITY).lower() == spec.name.lower()
        assert field(oids.SELLO_SYSTEM_NAME)
        assert attr(cert.subject, NameOID.ORGANIZATION_IDENTIFIER) == f"VATES-{spec.cif}"
        qc = qcstatements.of_certificate(cert)
        assert qc is not None and qc.compliance
        assert oids.QC_TYPE_ESEAL in qc.types and qc.semantics == oids.SEMANTICS_LEGAL
        assert ext(cert, x509.KeyUsage).value.content_commitment


def test_tsa_and_ocsp_certificates(pki: Pki) -> None:
    tsa = pki.tsa.certificate
    eku = ext(tsa, x509.ExtendedKeyUsage)
    assert eku.critical and list(eku.value) == [oids.TIME_STAMPING]
    responder = pki.ocsp.certificate
    assert list(ext(responder, x509.ExtendedKeyUsage).value) == [oids.OCSP_SIGNING]
    assert isinstance(ext(responder, x509.OCSPNoCheck).value, x509.OCSPNoCheck)
    server = cert_of(pki, "tls/server")
    assert "localhost" in ext(server, x509.SubjectAlternativeName).value.get_values_for_type(
        x509.DNSName)


def test_demo_municipalities_are_configured_with_their_seal_and_trust_store(
        ctx: Context, pki: Pki) -> None:
    with ctx.transaction() as s:
        for code in (DEMO_CODE, SECOND_CODE):
            muni = tenancy.get_municipality(s, code)
            assert muni.seal_key and muni.seal_key.startswith("pem:")
            assert muni.seal_cert
            assert [Path(p) for p in muni.trust_store] == [pki.root_path.resolve()]
            assert pki.seal(code).certificate.subject == x509.load_pem_x509_certificate(
                Path(muni.seal_cert).read_bytes()).subject


def test_init_is_idempotent_and_adds_missing_seals(pki: Pki, tmp_path: Path,
                                                    settings: Settings) -> None:
    copy = tmp_path / "pki"
    shutil.copytree(pki.dir, copy)
    before = {p: p.read_bytes() for p in copy.rglob("*") if p.is_file()}
    subjects = [SealSubject(m.code, m.name, m.cif) for m in DEMO_MUNICIPALITIES]
    again = init_dev_pki(copy, settings.public_url, subjects)
    assert again.created == ()
    assert {p: p.read_bytes() for p in copy.rglob("*") if p.is_file()} == before

    newcomer = SealSubject("L01280796", "Ayuntamiento de Madrid", "P2807900B")
    grown = init_dev_pki(copy, settings.public_url, [*subjects, newcomer])
    assert grown.created == ("seals/L01280796",)
    assert all(p.read_bytes() == data for p, data in before.items())
    assert (copy / "seals/L01280796.p12").exists()


def test_cli_init_creates_a_pki_once_in_a_fresh_data_folder(
        elocal: CliRunner, cli: InProcessCli, tmp_path: Path) -> None:
    first = elocal("pki", "init", data_dir=tmp_path)
    assert first.returncode == 0, first.stderr
    assert "new" in first.stdout and " 0 new" not in first.stdout
    root = (tmp_path / "pki" / "root.key.pem").read_bytes()
    second = cli("pki", "init", data_dir=tmp_path)
    assert second.returncode == 0, second.stderr
    assert " 0 new" in second.stdout
    assert (tmp_path / "pki" / "root.key.pem").read_bytes() == root


@pytest.mark.parametrize("label", ["people/citizen", "people/employee", "seals/" + DEMO_CODE])
def test_identifiers_in_subjects_have_valid_check_characters(pki: Pki, label: str) -> None:
    cert = cert_of(pki, label)
    for value in [a.value for a in cert.subject if a.oid in (
            NameOID.SERIAL_NUMBER, NameOID.ORGANIZATION_IDENTIFIER)]:
        ident = str(value).split("-", 1)[-1]
        assert (cif_ok(ident) if ident[0] in "ABCDEFGHJNPQRSUVW" else nif_ok(ident)), ident


def test_initialising_again_records_nothing_new_and_keeps_revocations(ctx: Context) -> None:
    with ctx.transaction() as s:
        before = [(r.serial, r.status, r.revoked_at) for r in revocation.list_issued(s)]
    initialise_pki(ctx)
    with ctx.transaction() as s:
        after = [(r.serial, r.status, r.revoked_at) for r in revocation.list_issued(s)]
    assert after == before
    assert [status for _, status, _ in after].count("revoked") == 1
