"""ETSI EN 319 412-5 QCStatements: encoding for the dev CA, decoding for everyone.

``cryptography`` treats the extension as opaque, so it is (de)serialised here with
asn1crypto. Decoding is lenient about statements it does not know (they are kept
by OID) and strict about structure: a malformed extension raises ``ValueError``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from asn1crypto import core
from cryptography import x509

from certs import oids


class _SemanticsInformation(core.Sequence):
    # nameRegistrationAuthorities (GeneralNames) is never written; decoding keeps it opaque.
    _fields = [
        ("semantics_identifier", core.ObjectIdentifier, {"optional": True}),
        ("name_registration_authorities", core.Any, {"optional": True}),
    ]


class _QcStatement(core.Sequence):
    _fields = [
        ("statement_id", core.ObjectIdentifier),
        ("statement_info", core.Any, {"optional": True}),
    ]


class _QcStatements(core.SequenceOf):
    _child_spec = _QcStatement


class _QcTypes(core.SequenceOf):
    _child_spec = core.ObjectIdentifier


@dataclass(frozen=True)
class QcStatements:
    """The statements of one certificate, as far as eLocal cares about them."""

    compliance: bool = False
    sscd: bool = False
    types: tuple[x509.ObjectIdentifier, ...] = ()
    semantics: x509.ObjectIdentifier | None = None
    other: tuple[x509.ObjectIdentifier, ...] = field(default=())


def encode(statements: QcStatements) -> bytes:
    """DER of the extension value (a ``QCStatements`` SEQUENCE)."""
    items: list[_QcStatement] = []
    if statements.compliance:
        items.append(_QcStatement({"statement_id": oids.QC_COMPLIANCE.dotted_string}))
    if statements.sscd:
        items.append(_QcStatement({"statement_id": oids.QC_SSCD.dotted_string}))
    if statements.types:
        info = _QcTypes([t.dotted_string for t in statements.types])
        items.append(_QcStatement({
            "statement_id": oids.QC_TYPE.dotted_string,
            "statement_info": core.Any.load(info.dump()),
        }))
    if statements.semantics is not None:
        sem = _SemanticsInformation({"semantics_identifier": statements.semantics.dotted_string})
        items.append(_QcStatement({
            "statement_id": oids.QCS_PKIX_SYNTAX_V2.dotted_string,
            "statement_info": core.Any.load(sem.dump()),
        }))
    return bytes(_QcStatements(items).dump())


def extension(statements: QcStatements) -> x509.UnrecognizedExtension:
    return x509.UnrecognizedExtension(oids.QC_STATEMENTS, encode(statements))


def decode(der: bytes) -> QcStatements:
    try:
        parsed = _QcStatements.load(der, strict=True)
        compliance = sscd = False
        types: list[x509.ObjectIdentifier] = []
        semantics: x509.ObjectIdentifier | None = None
        other: list[x509.ObjectIdentifier] = []
        for st in parsed:
            oid = x509.ObjectIdentifier(st["statement_id"].dotted)
            info = st["statement_info"]
            if oid == oids.QC_COMPLIANCE:
                compliance = True
            elif oid == oids.QC_SSCD:
                sscd = True
            elif oid == oids.QC_TYPE and info.native is not None:
                qc_types = _QcTypes.load(info.dump(), strict=True)
                types.extend(x509.ObjectIdentifier(t.dotted) for t in qc_types)
            elif oid == oids.QCS_PKIX_SYNTAX_V2 and info.native is not None:
                sem = _SemanticsInformation.load(info.dump(), strict=True)
                if sem["semantics_identifier"].native is not None:
                    semantics = x509.ObjectIdentifier(sem["semantics_identifier"].dotted)
            else:
                other.append(oid)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"malformed QCStatements extension: {exc}") from exc
    return QcStatements(compliance, sscd, tuple(types), semantics, tuple(other))


def of_certificate(cert: x509.Certificate) -> QcStatements | None:
    """The certificate's QCStatements, or None when it has none."""
    try:
        ext = cert.extensions.get_extension_for_oid(oids.QC_STATEMENTS)
    except x509.ExtensionNotFound:
        return None
    value = ext.value
    if not isinstance(value, x509.UnrecognizedExtension):
        raise ValueError("unexpected QCStatements representation")
    return decode(value.value)
