"""Who a certificate names, and in what capacity.

Spanish certificates follow several overlapping profiles: ETSI EN 319 412 semantics
identifiers (``IDCES-…``, ``VATES-…``), FNMT's own SAN attributes, the DNIe (bare
NIF in ``serialNumber``, no SAN) and the public-administration profiles of the AGE
(employee and seal fields in the SAN directoryName). ``identify`` reads all of them
and returns one typed identity, or refuses with ``unknown_identity_format``: a
certificate that names nobody eLocal can recognise never becomes a session.

Every attribute is read with ``get_attributes_for_oid`` so that multi-valued RDNs
(``serialNumber+CN=…`` in one RDN) are seen like any other attribute.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import Any, ClassVar, Literal

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.x509.oid import NameOID, ObjectIdentifier

from certs import oids, qcstatements
from certs.identifiers import InvalidIdentifier, check_cif, check_nif, parse_semantics_identifier
from infra.errors import ElocalError

__all__ = [
    "CertificateIdentity",
    "ElectronicSeal",
    "LoA",
    "NaturalPerson",
    "PublicEmployee",
    "Representative",
    "UnknownIdentityFormat",
    "identify",
    "level_of_assurance",
]

LoA = Literal["low", "substantial", "high"]
Capacity = Literal["citizen", "representative", "employee", "seal"]

_FNMT_NAME = oids.FNMT_NAME.dotted_string
_FNMT_SURNAME1 = oids.FNMT_SURNAME1.dotted_string
_FNMT_SURNAME2 = oids.FNMT_SURNAME2.dotted_string
_FNMT_NIF = oids.FNMT_NIF.dotted_string

# AGE public-administration profiles: <prefix>.<level>.<field> (2016) or <prefix>.<field>.
_EMPLOYEE_PREFIXES = ("2.16.724.1.3.5.7", "2.16.724.1.3.5.3")
_SEAL_PREFIXES = ("2.16.724.1.3.5.6", "2.16.724.1.3.5.2")
_EMPLOYEE_FIELDS = {
    str(oids.EMPLEADO_ENTITY): "entity_name",
    str(oids.EMPLEADO_ENTITY_CIF): "entity_cif",
    str(oids.EMPLEADO_DNI): "nif",
    str(oids.EMPLEADO_PERSONNEL_NUMBER): "employee_number",
    str(oids.EMPLEADO_NAME): "given_name",
    str(oids.EMPLEADO_SURNAME1): "first_surname",
    str(oids.EMPLEADO_SURNAME2): "second_surname",
    str(oids.EMPLEADO_EMAIL): "email",
    str(oids.EMPLEADO_UNIT): "unit",
    str(oids.EMPLEADO_POST): "post",
}
_SEAL_FIELDS = {
    str(oids.SELLO_ENTITY): "entity_name",
    str(oids.SELLO_ENTITY_CIF): "entity_cif",
    str(oids.SELLO_SYSTEM_NAME): "system_name",
}

_DNIE_POLICIES = frozenset(
    {oids.DNIE_AUTHENTICATION_POLICY.dotted_string, oids.DNIE_SIGNING_POLICY.dotted_string}
)
_QCP = frozenset({oids.QCP_N.dotted_string, oids.QCP_L.dotted_string})
_QCP_QSCD = frozenset({oids.QCP_N_QSCD.dotted_string, oids.QCP_L_QSCD.dotted_string})

_DNIE_CN = re.compile(
    r"^(?P<surnames>[^,]+),\s*(?P<given>.+?)\s*\((?:AUTENTICACI[OÓ]N|FIRMA)\)\s*$"
)


class UnknownIdentityFormat(ElocalError):
    code = "unknown_identity_format"
    status = 401
    title = "The certificate does not name a person or entity eLocal recognises"


@dataclass(frozen=True)
class CertificateIdentity:
    """What every identity has: a capacity, a stable subject and an assurance level."""

    capacity: ClassVar[Capacity]
    loa: LoA
    qualified: bool

    @property
    def subject(self) -> str:
        raise NotImplementedError

    def to_dict(self) -> dict[str, Any]:
        data = {k: v for k, v in asdict(self).items() if v not in (None, "", ())}
        data["capacity"] = self.capacity
        data["subject"] = self.subject
        return data


@dataclass(frozen=True)
class NaturalPerson(CertificateIdentity):
    capacity: ClassVar[Capacity] = "citizen"
    nif: str = ""
    given_name: str = ""
    family_name: str = ""
    email: str | None = None

    @property
    def subject(self) -> str:
        return self.nif


@dataclass(frozen=True)
class Representative(NaturalPerson):
    """A person acting for a legal entity (FNMT AC Representación and similar)."""

    capacity: ClassVar[Capacity] = "representative"
    entity_cif: str = ""
    entity_name: str = ""


@dataclass(frozen=True)
class PublicEmployee(NaturalPerson):
    """A civil servant's certificate under the AGE public-employee profile."""

    capacity: ClassVar[Capacity] = "employee"
    entity_cif: str = ""
    entity_name: str = ""
    unit: str | None = None
    post: str | None = None
    employee_number: str | None = None


@dataclass(frozen=True)
class ElectronicSeal(CertificateIdentity):
    """An organ's seal: names an entity and a system, never a person."""

    capacity: ClassVar[Capacity] = "seal"
    entity_cif: str = ""
    entity_name: str = ""
    system_name: str = ""

    @property
    def subject(self) -> str:
        return self.entity_cif


def _attr(name: x509.Name, oid: ObjectIdentifier) -> str | None:
    values = [a.value for a in name.get_attributes_for_oid(oid)]
    for v in values:
        if isinstance(v, str) and v.strip():
            return v.strip()
    return None


def _san_directory_attrs(cert: x509.Certificate) -> dict[str, str]:
    """Every attribute of every directoryName in the SAN, by dotted OID."""
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return {}
    out: dict[str, str] = {}
    for dn in san.get_values_for_type(x509.DirectoryName):
        for attr in dn:
            if isinstance(attr.value, str) and attr.value.strip():
                out.setdefault(attr.oid.dotted_string, attr.value.strip())
    return out


def _san_email(cert: x509.Certificate) -> str | None:
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return None
    emails = san.get_values_for_type(x509.RFC822Name)
    return emails[0] if emails else None


def _policies(cert: x509.Certificate) -> set[str]:
    try:
        ext = cert.extensions.get_extension_for_class(x509.CertificatePolicies).value
    except x509.ExtensionNotFound:
        return set()
    return {p.policy_identifier.dotted_string for p in ext}


def _qc(cert: x509.Certificate) -> qcstatements.QcStatements:
    try:
        return qcstatements.of_certificate(cert) or qcstatements.QcStatements()
    except ValueError as exc:
        raise UnknownIdentityFormat(f"unreadable QCStatements: {exc}") from exc


def is_dnie(cert: x509.Certificate) -> bool:
    """The Spanish national ID card's authentication or signing certificate."""
    return bool(_policies(cert) & _DNIE_POLICIES)


def level_of_assurance(cert: x509.Certificate) -> tuple[LoA, bool]:
    """eIDAS level of assurance and whether the certificate claims qualified status.

    High for the DNIe or a certificate whose key is on a qualified device (QcSSCD or a
    QSCD policy); substantial for other qualified certificates; low otherwise. The
    claim comes from the certificate itself; the EU Trusted List, consulted through
    the municipality's trust store, is what makes the issuer one to believe.
    """
    if is_dnie(cert):
        return "high", True
    qcs = _qc(cert)
    policies = _policies(cert)
    qualified = qcs.compliance or bool(policies & (_QCP | _QCP_QSCD))
    if qualified and (qcs.sscd or policies & _QCP_QSCD):
        return "high", True
    if qualified:
        return "substantial", True
    return "low", False


def _nif(value: str | None, what: str) -> str:
    if not value:
        raise UnknownIdentityFormat(f"the certificate carries no {what}")
    try:
        return check_nif(value)
    except InvalidIdentifier as exc:
        raise UnknownIdentityFormat(f"invalid {what}: {exc}") from exc


def _cif(value: str | None, what: str) -> str:
    if not value:
        raise UnknownIdentityFormat(f"the certificate carries no {what}")
    try:
        return check_cif(value)
    except InvalidIdentifier as exc:
        raise UnknownIdentityFormat(f"invalid {what}: {exc}") from exc


def _profile_fields(
    attrs: dict[str, str], prefixes: tuple[str, ...], names: dict[str, str]
) -> dict[str, str] | None:
    found: dict[str, str] = {}
    for oid, value in attrs.items():
        for prefix in prefixes:
            if not oid.startswith(prefix + "."):
                continue
            rest = oid[len(prefix) + 1 :].split(".")
            if len(rest) == 2 and rest[0] in ("1", "2") and rest[1] in names:
                found.setdefault(names[rest[1]], value)
    return found or None


def _person_nif(cert: x509.Certificate, san: dict[str, str]) -> str | None:
    """The person's NIF from serialNumber (``IDCES-…``, ``PNOES-…``, ``TINES-…`` or bare)."""
    serial = _attr(cert.subject, NameOID.SERIAL_NUMBER)
    if serial:
        sem = parse_semantics_identifier(serial)
        if sem is None:
            return serial  # DNIe: the bare NIF
        if sem.country == "ES" and sem.type in ("IDC", "PNO", "TIN"):
            return sem.value
        raise UnknownIdentityFormat(f"identifier {serial!r} is not a Spanish NIF or NIE")
    return san.get(_FNMT_NIF)


def _person_names(cert: x509.Certificate, san: dict[str, str]) -> tuple[str, str]:
    given = san.get(_FNMT_NAME) or _attr(cert.subject, NameOID.GIVEN_NAME) or ""
    if _FNMT_SURNAME1 in san:
        family = " ".join(s for s in (san.get(_FNMT_SURNAME1), san.get(_FNMT_SURNAME2)) if s)
    else:
        family = _attr(cert.subject, NameOID.SURNAME) or ""
        cn = _attr(cert.subject, NameOID.COMMON_NAME) or ""
        m = _DNIE_CN.match(cn)
        if m:  # the DNIe puts only the first surname in ``surname``; the CN has both
            family = m.group("surnames").strip()
            given = given or m.group("given").strip()
    return given, family


def _entity_cif(cert: x509.Certificate) -> str | None:
    org_id = _attr(cert.subject, NameOID.ORGANIZATION_IDENTIFIER)
    if not org_id:
        return None
    sem = parse_semantics_identifier(org_id)
    if sem is None or sem.country != "ES" or sem.type not in ("VAT", "NTR"):
        raise UnknownIdentityFormat(f"organisation identifier {org_id!r} is not a Spanish CIF")
    return sem.value


def identify(cert: x509.Certificate) -> CertificateIdentity:
    """The typed identity a (validated) certificate names; see the module docstring."""
    try:
        return _identify(cert)
    except (ValueError, TypeError, AttributeError, UnsupportedAlgorithm) as exc:
        if isinstance(exc, UnknownIdentityFormat):
            raise
        raise UnknownIdentityFormat(f"unreadable certificate fields: {exc}") from exc


def _identify(cert: x509.Certificate) -> CertificateIdentity:
    loa, qualified = level_of_assurance(cert)
    san = _san_directory_attrs(cert)
    email = _san_email(cert)

    emp = _profile_fields(san, _EMPLOYEE_PREFIXES, _EMPLOYEE_FIELDS)
    if emp is not None:
        family = " ".join(s for s in (emp.get("first_surname"), emp.get("second_surname")) if s)
        return PublicEmployee(
            loa=loa,
            qualified=qualified,
            nif=_nif(emp.get("nif") or _person_nif(cert, san), "employee DNI/NIE"),
            given_name=emp.get("given_name") or _attr(cert.subject, NameOID.GIVEN_NAME) or "",
            family_name=family or _attr(cert.subject, NameOID.SURNAME) or "",
            email=emp.get("email") or email,
            entity_cif=_cif(emp.get("entity_cif") or _entity_cif(cert), "entity CIF"),
            entity_name=emp.get("entity_name")
            or _attr(cert.subject, NameOID.ORGANIZATION_NAME)
            or "",
            unit=emp.get("unit"),
            post=emp.get("post"),
            employee_number=emp.get("employee_number"),
        )

    seal = _profile_fields(san, _SEAL_PREFIXES, _SEAL_FIELDS)
    qc_types = _qc(cert).types
    person_nif = _person_nif(cert, san)
    entity_cif = _entity_cif(cert)
    if seal is not None or (person_nif is None and entity_cif and oids.QC_TYPE_ESEAL in qc_types):
        seal = seal or {}
        return ElectronicSeal(
            loa=loa,
            qualified=qualified,
            entity_cif=_cif(seal.get("entity_cif") or entity_cif, "entity CIF"),
            entity_name=seal.get("entity_name")
            or _attr(cert.subject, NameOID.ORGANIZATION_NAME)
            or "",
            system_name=seal.get("system_name") or _attr(cert.subject, NameOID.COMMON_NAME) or "",
        )

    nif = _nif(person_nif, "NIF or NIE")
    given, family = _person_names(cert, san)
    if entity_cif:
        return Representative(
            loa=loa,
            qualified=qualified,
            nif=nif,
            given_name=given,
            family_name=family,
            email=email,
            entity_cif=_cif(entity_cif, "entity CIF"),
            entity_name=_attr(cert.subject, NameOID.ORGANIZATION_NAME) or "",
        )
    return NaturalPerson(
        loa=loa, qualified=qualified, nif=nif, given_name=given, family_name=family, email=email
    )
