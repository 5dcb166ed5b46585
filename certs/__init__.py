"""Certificates: OIDs and profiles, key loading, trust stores, the development CA, revocation."""

from certs.devpki import PKCS12_PASSWORD, DevPkiResult, SealSubject, init_dev_pki, record_dev_pki
from certs.identifiers import InvalidIdentifier, check_cif, check_nif
from certs.keys import (
    KeyLoadError,
    KeyMaterial,
    load_certificate,
    load_certificates,
    load_key,
    register_loader,
)
from certs.pathvalidation import (
    CertificateRejected,
    ValidatedPath,
    ValidationPolicy,
    load_trust_anchors,
    validate_certificate,
)
from certs.profiles import (
    CertificateIdentity,
    ElectronicSeal,
    NaturalPerson,
    PublicEmployee,
    Representative,
    UnknownIdentityFormat,
    identify,
)
from certs.revocation import IssuedCertificate, record_issued, revoke, status
from certs.store import Pki, UnknownCa, load_trust_store

__all__ = [
    "PKCS12_PASSWORD",
    "CertificateIdentity",
    "CertificateRejected",
    "DevPkiResult",
    "ElectronicSeal",
    "InvalidIdentifier",
    "IssuedCertificate",
    "KeyLoadError",
    "KeyMaterial",
    "NaturalPerson",
    "Pki",
    "PublicEmployee",
    "Representative",
    "SealSubject",
    "UnknownCa",
    "UnknownIdentityFormat",
    "ValidatedPath",
    "ValidationPolicy",
    "check_cif",
    "check_nif",
    "identify",
    "init_dev_pki",
    "load_certificate",
    "load_certificates",
    "load_key",
    "load_trust_anchors",
    "load_trust_store",
    "record_dev_pki",
    "record_issued",
    "register_loader",
    "revoke",
    "status",
    "validate_certificate",
]
