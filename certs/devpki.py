"""The development PKI: a root and issuing CA with certificates shaped like the real ones.

``init_dev_pki`` builds, under one folder, everything a deployment needs to run
without a real trust service provider: the CAs, a TLS server certificate, a TSA
and an OCSP-responder certificate, an electronic seal per municipality and sample
people (FNMT-style citizen, DNIe, company representative, public employee, plus a
revoked and an expired citizen). Profiles follow FNMT-RCM, DNIe, the AGE 2016
profiles and ETSI EN 319 412 so that the login and validation code is exercised
against realistic fields.

It is idempotent: an existing key is never regenerated (certificates issued with
it stay valid), and missing pieces (a new municipality's seal) are added.

Layout::

    root.pem root.key.pem issuing.pem issuing.key.pem chain.pem (issuing + root)
    tls/server.pem tls/server.key.pem tls/client-ca.pem (root + issuing)
    tsa/tsa.pem tsa/tsa.key.pem          ocsp/ocsp.pem ocsp/ocsp.key.pem
    seals/<DIR3>.pem .key.pem .p12       people/<name>.pem .key.pem .p12

A seal's ``.pem`` holds the seal certificate followed by its chain (issuing, root),
so that ``pem:`` key specs yield the chain a signature embeds; every other ``.pem``
holds one certificate. PKCS#12 files carry the chain and use ``PKCS12_PASSWORD``.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import AuthorityInformationAccessOID, NameOID
from sqlalchemy import select
from sqlalchemy.orm import Session

from certs import oids, qcstatements, revocation
from certs.keys import KeyLoadError, load_certificate

#: Password of every PKCS#12 file of the development PKI.
PKCS12_PASSWORD = "demo"  # noqa: S105 (sample credentials, published on purpose)
#: The sample people, by file name.
PEOPLE = ("citizen", "dnie", "representative", "employee", "revoked", "expired")

ROOT = "root"
ISSUING = "issuing"

#: The key types the dev PKI generates.
_Key = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey

_CA_LIFETIME = timedelta(days=20 * 365)
_LEAF_LIFETIME = timedelta(days=2 * 365)
#: CAs are back-dated so that the expired citizen lies inside their validity.
_CA_BACKDATE = timedelta(days=3 * 365)


@dataclass(frozen=True)
class SealSubject:
    """A municipality that gets an electronic seal (and, for the first, the sample employee)."""

    code: str
    name: str
    cif: str
    #: The AGE "nombre del sistema o componente" of the seal.
    system_name: str = "REGISTRO ELECTRONICO"
    #: For the sample employee: the unit and post they hold.
    unit: str = "Oficina de Asistencia en Materia de Registros"


@dataclass(frozen=True)
class IssuedFile:
    """One certificate of the dev PKI: ``label`` is its path without ``.pem`` (``people/dnie``)."""

    label: str
    #: ``root`` (self-signed), or the CA that signed it: ``root`` or ``issuing``.
    issuer: str
    path: Path

    def load(self) -> x509.Certificate:
        return load_certificate(self.path)


@dataclass(frozen=True)
class DevPkiResult:
    pki_dir: Path
    #: Every certificate of the PKI (the root first).
    issued: tuple[IssuedFile, ...]
    #: Labels whose key or certificate was created by this run.
    created: tuple[str, ...] = field(default=())

    def path(self, label: str) -> Path:
        return next(f.path for f in self.issued if f.label == label)


@dataclass(frozen=True)
class _Person:
    nif: str
    given: str
    surname1: str
    surname2: str
    email: str


_CITIZEN = _Person("99999999R", "JUAN", "ESPAÑOL", "ESPAÑOL", "juan.espanol@example.com")
_DNIE = _Person("12345678Z", "MARÍA", "GARCÍA", "LÓPEZ", "")
_REPRESENTATIVE = _Person("X1234567L", "PEDRO", "EJEMPLO", "MUESTRA", "pedro@empresa.example")
_EMPLOYEE = _Person("11111111H", "ANA", "REGISTRO", "SÁNCHEZ", "ana.registro@villademo.example")
_REVOKED = _Person("22222222J", "LUIS", "REVOCADO", "PRUEBA", "luis.revocado@example.com")
_EXPIRED = _Person("33333333P", "CARMEN", "CADUCADO", "PRUEBA", "carmen.caducado@example.com")
_COMPANY = ("EMPRESA DEMO SL", "B12345674")
_DEFAULT_ENTITY = SealSubject("L01289993", "Ayuntamiento de Villademo", "P2899900A")


class _Builder:
    def __init__(self, pki_dir: Path, base_url: str) -> None:
        self.dir = pki_dir
        self.base = base_url.rstrip("/")
        self.now = datetime.now(UTC).replace(microsecond=0)
        self.created: list[str] = []
        self.issued: list[IssuedFile] = []
        self.root_cert: x509.Certificate
        self.root_key: _Key
        self.issuing_cert: x509.Certificate
        self.issuing_key: _Key

    # --- files ------------------------------------------------------------------------------
    def _write(self, rel: str, data: bytes, *, secret: bool = False) -> None:
        path = self.dir / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600 if secret else 0o644)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)

    def _existing_key(self, rel: str) -> _Key | None:
        path = self.dir / rel
        if not path.exists():
            return None
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
        if not isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
            raise KeyLoadError(f"{path} holds a key type the dev PKI does not use", path=str(path))
        return key

    def _existing_cert(self, rel: str) -> x509.Certificate | None:
        path = self.dir / rel
        if not path.exists():
            return None
        return x509.load_pem_x509_certificate(path.read_bytes())

    # --- issuing ----------------------------------------------------------------------------
    def ensure(
        self,
        label: str,
        *,
        issuer: str,
        make_key: str,
        subject: x509.Name,
        extensions: list[tuple[x509.ExtensionType, bool]],
        not_before: datetime | None = None,
        not_after: datetime | None = None,
        p12: bool = False,
        chain_in_pem: bool = False,
    ) -> tuple[x509.Certificate, _Key]:
        """Load ``label``'s key and certificate, creating whichever is missing."""
        key_rel, cert_rel = f"{label}.key.pem", f"{label}.pem"
        key = self._existing_key(key_rel)
        cert = self._existing_cert(cert_rel) if key is not None else None
        if key is None:
            key = _new_key(make_key)
            self._write(key_rel, key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption()), secret=True)
        if cert is None or cert.public_key() != key.public_key():
            if issuer == "self":
                signer_key, issuer_name = key, subject
                issuer_pub: rsa.RSAPublicKey | ec.EllipticCurvePublicKey = key.public_key()
            else:
                signer_cert, signer_key = self._ca(issuer)
                issuer_name = signer_cert.subject
                issuer_pub = signer_key.public_key()
            builder = (
                x509.CertificateBuilder()
                .subject_name(subject)
                .issuer_name(issuer_name)
                .public_key(key.public_key())
                .serial_number(x509.random_serial_number())
                .not_valid_before(not_before or self.now - timedelta(hours=1))
                .not_valid_after(not_after or self.now + _LEAF_LIFETIME)
                .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
                .add_extension(
                    x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_pub), False
                )
            )
            for ext, critical in extensions:
                builder = builder.add_extension(ext, critical)
            cert = builder.sign(signer_key, hashes.SHA256())
            pem = cert.public_bytes(serialization.Encoding.PEM)
            if chain_in_pem:
                pem += b"".join(c.public_bytes(serialization.Encoding.PEM)
                                for c in (self.issuing_cert, self.root_cert))
            self._write(cert_rel, pem)
            self.created.append(label)
        if p12 and (label in self.created or not (self.dir / f"{label}.p12").exists()):
            name = subject.get_attributes_for_oid(NameOID.COMMON_NAME)
            friendly = str(name[0].value).encode() if name else label.encode()
            self._write(f"{label}.p12", pkcs12.serialize_key_and_certificates(
                friendly, key, cert, [self.issuing_cert, self.root_cert],
                _PKCS12_ENCRYPTION,
            ), secret=True)
        self.issued.append(IssuedFile(label, ROOT if issuer == "self" else issuer,
                                      self.dir / cert_rel))
        return cert, key

    def _ca(self, name: str) -> tuple[x509.Certificate, _Key]:
        if name == ROOT:
            return self.root_cert, self.root_key
        return self.issuing_cert, self.issuing_key

    def leaf_extensions(self) -> list[tuple[x509.ExtensionType, bool]]:
        """AIA and CRL distribution point of everything the issuing CA signs."""
        return [
            (x509.AuthorityInformationAccess([
                x509.AccessDescription(AuthorityInformationAccessOID.OCSP,
                                       x509.UniformResourceIdentifier(f"{self.base}/pki/ocsp")),
                x509.AccessDescription(
                    AuthorityInformationAccessOID.CA_ISSUERS,
                    x509.UniformResourceIdentifier(f"{self.base}/pki/ca/{ISSUING}.cer")),
            ]), False),
            (_crl_dp(f"{self.base}/pki/crl/{ISSUING}.crl"), False),
        ]

    # --- the PKI ----------------------------------------------------------------------------
    def cas(self) -> None:
        start = self.now - _CA_BACKDATE
        self.root_cert, self.root_key = self.ensure(
            ROOT, issuer="self", make_key="rsa", subject=_name(
                (NameOID.COUNTRY_NAME, "ES"), (NameOID.ORGANIZATION_NAME, "eLocal DESARROLLO"),
                (NameOID.ORGANIZATIONAL_UNIT_NAME, "Solo para pruebas"),
                (NameOID.COMMON_NAME, "AC RAIZ eLocal DESARROLLO")),
            extensions=[
                (x509.BasicConstraints(ca=True, path_length=1), True),
                (_ku(key_cert_sign=True, crl_sign=True), True),
            ],
            not_before=start, not_after=start + _CA_LIFETIME,
        )
        self.issuing_cert, self.issuing_key = self.ensure(
            ISSUING, issuer=ROOT, make_key="rsa", subject=_name(
                (NameOID.COUNTRY_NAME, "ES"), (NameOID.ORGANIZATION_NAME, "eLocal DESARROLLO"),
                (NameOID.ORGANIZATIONAL_UNIT_NAME, "Ceres DESARROLLO"),
                (NameOID.COMMON_NAME, "AC eLocal Usuarios DESARROLLO")),
            extensions=[
                (x509.BasicConstraints(ca=True, path_length=0), True),
                (_ku(key_cert_sign=True, crl_sign=True), True),
                (_crl_dp(f"{self.base}/pki/crl/{ROOT}.crl"), False),
                (_policies(_ANY_POLICY), False),
            ],
            not_before=start, not_after=start + _CA_LIFETIME - timedelta(days=365),
        )
        pem = serialization.Encoding.PEM
        chain = self.issuing_cert.public_bytes(pem) + self.root_cert.public_bytes(pem)
        bundle = self.root_cert.public_bytes(pem) + self.issuing_cert.public_bytes(pem)
        if _differs(self.dir / "chain.pem", chain):
            self._write("chain.pem", chain)
        if _differs(self.dir / "tls/client-ca.pem", bundle):
            self._write("tls/client-ca.pem", bundle)

    def services(self) -> None:
        self.ensure(
            "tls/server", issuer=ISSUING, make_key="ec",
            subject=_name((NameOID.COUNTRY_NAME, "ES"),
                          (NameOID.ORGANIZATION_NAME, "eLocal DESARROLLO"),
                          (NameOID.COMMON_NAME, "localhost")),
            extensions=[
                (_ku(digital_signature=True), True),
                (x509.ExtendedKeyUsage([oids.SERVER_AUTH]), False),
                (x509.SubjectAlternativeName([
                    x509.DNSName("localhost"),
                    x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                    x509.IPAddress(ipaddress.ip_address("::1")),
                ]), False),
                *self.leaf_extensions(),
            ],
        )
        self.ensure(
            "tsa/tsa", issuer=ISSUING, make_key="rsa",
            subject=_name((NameOID.COUNTRY_NAME, "ES"),
                          (NameOID.ORGANIZATION_NAME, "eLocal DESARROLLO"),
                          (oids.ORGANIZATION_IDENTIFIER, "VATES-Q0000000J"),
                          (NameOID.COMMON_NAME, "eLocal TSA DESARROLLO")),
            extensions=[
                (_ku(digital_signature=True, content_commitment=True), True),
                # RFC 3161 §2.3: the only EKU, and critical.
                (x509.ExtendedKeyUsage([oids.TIME_STAMPING]), True),
                *self.leaf_extensions(),
            ],
        )
        self.ensure(
            "ocsp/ocsp", issuer=ISSUING, make_key="ec",
            subject=_name((NameOID.COUNTRY_NAME, "ES"),
                          (NameOID.ORGANIZATION_NAME, "eLocal DESARROLLO"),
                          (NameOID.COMMON_NAME, "eLocal OCSP Responder DESARROLLO")),
            extensions=[
                (_ku(digital_signature=True), True),
                (x509.ExtendedKeyUsage([oids.OCSP_SIGNING]), False),
                (x509.OCSPNoCheck(), False),
                *self.leaf_extensions(),
            ],
        )

    def seal(self, m: SealSubject) -> None:
        prefix = oids.AGE_SELLO_MEDIUM
        self.ensure(
            f"seals/{m.code}", issuer=ISSUING, make_key="rsa", p12=True, chain_in_pem=True,
            subject=_name(
                (NameOID.COUNTRY_NAME, "ES"), (NameOID.ORGANIZATION_NAME, m.name),
                (oids.ORGANIZATION_IDENTIFIER, f"VATES-{m.cif}"),
                (NameOID.SERIAL_NUMBER, m.cif),
                (NameOID.COMMON_NAME, f"{m.system_name} - {m.name.upper()}")),
            extensions=[
                (_ku(digital_signature=True, content_commitment=True), True),
                (x509.SubjectAlternativeName([x509.DirectoryName(_name(
                    (oids.age_field(prefix, oids.SELLO_TYPE), "SELLO ELECTRONICO DE NIVEL MEDIO"),
                    (oids.age_field(prefix, oids.SELLO_ENTITY), m.name.upper()),
                    (oids.age_field(prefix, oids.SELLO_ENTITY_CIF), m.cif),
                    (oids.age_field(prefix, oids.SELLO_SYSTEM_NAME), m.system_name),
                ))]), False),
                (_policies(prefix, oids.QCP_L), False),
                (qcstatements.extension(qcstatements.QcStatements(
                    compliance=True, types=(oids.QC_TYPE_ESEAL,),
                    semantics=oids.SEMANTICS_LEGAL)), False),
                *self.leaf_extensions(),
            ],
        )

    def people(self, entity: SealSubject) -> None:
        self._fnmt("citizen", _CITIZEN)
        self._fnmt("revoked", _REVOKED)
        self._fnmt("expired", _EXPIRED, not_before=self.now - timedelta(days=400),
                   not_after=self.now - timedelta(days=1))
        self._dnie()
        self._representative()
        self._employee(entity)

    def _fnmt(self, label: str, p: _Person, *, not_before: datetime | None = None,
              not_after: datetime | None = None) -> None:
        self.ensure(
            f"people/{label}", issuer=ISSUING, make_key="ec", p12=True,
            not_before=not_before, not_after=not_after,
            subject=_name(
                (NameOID.COUNTRY_NAME, "ES"), (NameOID.SERIAL_NUMBER, f"IDCES-{p.nif}"),
                (NameOID.SURNAME, f"{p.surname1} {p.surname2}"), (NameOID.GIVEN_NAME, p.given),
                (NameOID.COMMON_NAME, f"{p.surname1} {p.surname2} {p.given} - {p.nif}")),
            extensions=[
                (_ku(digital_signature=True, content_commitment=True), True),
                (x509.ExtendedKeyUsage([oids.CLIENT_AUTH, oids.EMAIL_PROTECTION]), False),
                (x509.SubjectAlternativeName(_fnmt_san(p)), False),
                (_policies(oids.FNMT_CITIZEN_POLICY.dotted_string, oids.QCP_N), False),
                (qcstatements.extension(qcstatements.QcStatements(
                    compliance=True, types=(oids.QC_TYPE_ESIGN,),
                    semantics=oids.SEMANTICS_NATURAL)), False),
                *self.leaf_extensions(),
            ],
        )

    def _dnie(self) -> None:
        p = _DNIE
        # The DNIe profile is deliberately bare: no SAN, no EKU, no QCStatements.
        self.ensure(
            "people/dnie", issuer=ISSUING, make_key="ec", p12=True,
            subject=_name(
                (NameOID.COUNTRY_NAME, "ES"), (NameOID.SERIAL_NUMBER, p.nif),
                (NameOID.SURNAME, p.surname1), (NameOID.GIVEN_NAME, p.given),
                (NameOID.COMMON_NAME, f"{p.surname1} {p.surname2}, {p.given} (AUTENTICACIÓN)")),
            extensions=[
                (_ku(digital_signature=True), True),
                (_policies(oids.DNIE_AUTHENTICATION_POLICY.dotted_string), False),
                *self.leaf_extensions(),
            ],
        )

    def _representative(self) -> None:
        p, (company, cif) = _REPRESENTATIVE, _COMPANY
        self.ensure(
            "people/representative", issuer=ISSUING, make_key="ec", p12=True,
            subject=_name(
                (NameOID.COUNTRY_NAME, "ES"), (NameOID.ORGANIZATION_NAME, company),
                (oids.ORGANIZATION_IDENTIFIER, f"VATES-{cif}"),
                (NameOID.SERIAL_NUMBER, f"IDCES-{p.nif}"),
                (NameOID.SURNAME, f"{p.surname1} {p.surname2}"), (NameOID.GIVEN_NAME, p.given),
                (NameOID.COMMON_NAME, f"{p.nif} {p.given} {p.surname1} (R: {cif})")),
            extensions=[
                (_ku(digital_signature=True, content_commitment=True), True),
                (x509.ExtendedKeyUsage([oids.CLIENT_AUTH, oids.EMAIL_PROTECTION]), False),
                (x509.SubjectAlternativeName(_fnmt_san(p)), False),
                (_policies(oids.QCP_N.dotted_string), False),
                (qcstatements.extension(qcstatements.QcStatements(
                    compliance=True, types=(oids.QC_TYPE_ESIGN,),
                    semantics=oids.SEMANTICS_NATURAL)), False),
                *self.leaf_extensions(),
            ],
        )

    def _employee(self, entity: SealSubject) -> None:
        p, prefix = _EMPLOYEE, oids.AGE_EMPLEADO_MEDIUM
        post = "Registradora"

        def f(suffix: int) -> x509.ObjectIdentifier:
            return oids.age_field(prefix, suffix)

        self.ensure(
            "people/employee", issuer=ISSUING, make_key="ec", p12=True,
            subject=_name(
                (NameOID.COUNTRY_NAME, "ES"), (NameOID.ORGANIZATION_NAME, entity.name),
                (oids.ORGANIZATION_IDENTIFIER, f"VATES-{entity.cif}"),
                (NameOID.ORGANIZATIONAL_UNIT_NAME, entity.unit), (NameOID.TITLE, post),
                (NameOID.SERIAL_NUMBER, f"IDCES-{p.nif}"),
                (NameOID.SURNAME, f"{p.surname1} {p.surname2}"), (NameOID.GIVEN_NAME, p.given),
                (NameOID.COMMON_NAME, f"{p.given} {p.surname1} {p.surname2} - DNI {p.nif}")),
            extensions=[
                (_ku(digital_signature=True, content_commitment=True), True),
                (x509.ExtendedKeyUsage([oids.CLIENT_AUTH, oids.EMAIL_PROTECTION]), False),
                (x509.SubjectAlternativeName([
                    x509.RFC822Name(p.email),
                    x509.DirectoryName(_name(
                        (f(oids.EMPLEADO_TYPE), "CERTIFICADO ELECTRONICO DE EMPLEADO PUBLICO"),
                        (f(oids.EMPLEADO_ENTITY), entity.name.upper()),
                        (f(oids.EMPLEADO_ENTITY_CIF), entity.cif),
                        (f(oids.EMPLEADO_DNI), p.nif),
                        (f(oids.EMPLEADO_PERSONNEL_NUMBER), "A0123456"),
                        (f(oids.EMPLEADO_NAME), p.given),
                        (f(oids.EMPLEADO_SURNAME1), p.surname1),
                        (f(oids.EMPLEADO_SURNAME2), p.surname2),
                        (f(oids.EMPLEADO_EMAIL), p.email),
                        (f(oids.EMPLEADO_UNIT), entity.unit),
                        (f(oids.EMPLEADO_POST), post),
                    )),
                ]), False),
                (_policies(prefix, oids.QCP_N), False),
                (qcstatements.extension(qcstatements.QcStatements(
                    compliance=True, types=(oids.QC_TYPE_ESIGN,),
                    semantics=oids.SEMANTICS_NATURAL)), False),
                *self.leaf_extensions(),
            ],
        )


_ANY_POLICY = x509.ObjectIdentifier("2.5.29.32.0")
# AES-256/SHA-256 as openssl, browsers and NSS expect; few KDF rounds because the password
# is published anyway and every test session generates these files.
_PKCS12_ENCRYPTION = (
    serialization.PrivateFormat.PKCS12.encryption_builder()
    .kdf_rounds(2048)
    .key_cert_algorithm(pkcs12.PBES.PBESv2SHA256AndAES256CBC)
    .hmac_hash(hashes.SHA256())
    .build(PKCS12_PASSWORD.encode())
)


def init_dev_pki(pki_dir: Path, base_url: str, municipalities: Sequence[SealSubject]
                 ) -> DevPkiResult:
    """Create (or complete) the development PKI under ``pki_dir``; see the module docstring.

    ``base_url`` is the server's public URL, written into AIA and CRL distribution
    points. The first municipality employs the sample public employee.
    """
    pki_dir.mkdir(parents=True, exist_ok=True)
    b = _Builder(pki_dir, base_url)
    b.cas()
    b.services()
    for m in municipalities:
        b.seal(m)
    b.people(municipalities[0] if municipalities else _DEFAULT_ENTITY)
    return DevPkiResult(pki_dir=pki_dir, issued=tuple(b.issued), created=tuple(b.created))


def _new_key(kind: str) -> _Key:
    if kind == "rsa":
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return ec.generate_private_key(ec.SECP256R1())


def _name(*attrs: tuple[x509.ObjectIdentifier | str, str]) -> x509.Name:
    return x509.Name([
        x509.NameAttribute(oid if isinstance(oid, x509.ObjectIdentifier)
                           else x509.ObjectIdentifier(oid), value)
        for oid, value in attrs
    ])


def _fnmt_san(p: _Person) -> list[x509.GeneralName]:
    names: list[x509.GeneralName] = []
    if p.email:
        names.append(x509.RFC822Name(p.email))
    names.append(x509.DirectoryName(_name(
        (oids.FNMT_NAME, p.given), (oids.FNMT_SURNAME1, p.surname1),
        (oids.FNMT_SURNAME2, p.surname2), (oids.FNMT_NIF, p.nif),
    )))
    return names


def _policies(*policy_oids: str | x509.ObjectIdentifier) -> x509.CertificatePolicies:
    return x509.CertificatePolicies([
        x509.PolicyInformation(o if isinstance(o, x509.ObjectIdentifier)
                               else x509.ObjectIdentifier(o), None)
        for o in policy_oids
    ])


def _crl_dp(url: str) -> x509.CRLDistributionPoints:
    return x509.CRLDistributionPoints([x509.DistributionPoint(
        full_name=[x509.UniformResourceIdentifier(url)], relative_name=None, reasons=None,
        crl_issuer=None)])


def _ku(*, digital_signature: bool = False, content_commitment: bool = False,
        key_cert_sign: bool = False, crl_sign: bool = False) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=digital_signature, content_commitment=content_commitment,
        key_encipherment=False, data_encipherment=False, key_agreement=False,
        key_cert_sign=key_cert_sign, crl_sign=crl_sign, encipher_only=False, decipher_only=False)


def _differs(path: Path, data: bytes) -> bool:
    return not path.exists() or path.read_bytes() != data


def record_dev_pki(session: Session, result: DevPkiResult) -> int:
    """Record every certificate of the dev PKI for CRL/OCSP and revoke the ``revoked`` sample.

    Idempotent: certificates already recorded are left alone. Returns how many
    certificates were newly recorded.
    """
    IssuedCertificate = revocation.IssuedCertificate
    known = set(session.execute(select(IssuedCertificate.issuer_key_id, IssuedCertificate.serial))
                .tuples())
    added = 0
    for item in result.issued:
        if item.label == ROOT:
            continue  # a trust anchor is not revoked through its own CRL
        cert = item.load()
        row = revocation.record_issued(session, cert, label=item.label)
        added += (row.issuer_key_id, row.serial) not in known
        if item.label == "people/revoked" and row.status != "revoked":
            revocation.revoke(session, cert.serial_number, x509.ReasonFlags.key_compromise,
                              issuer_key_id=row.issuer_key_id)
    return added
