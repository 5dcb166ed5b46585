"""The report as ETSI TS 119 102-2 XML (``vr:ValidationReport``).

Written with lxml in the element order of the TS 119 102-2 schema
(SignatureIdentifier, ValidationTimeInfo, SignatureAttributes, SignerInformation,
SignatureValidationProcess, SignatureValidationStatus), the same shape for PAdES
and XAdES. The signer's certificate is a validation object (by its SHA-256) that
``SignerInformation`` references. eLocal's stable warning/error codes, and what the
schema has no element for (the signature's scope, its timestamps, whether the policy
hash matched), travel as typed ``AdditionalValidationReportData`` entries of the status.
"""

from __future__ import annotations

import base64
from datetime import datetime

from lxml import etree

from signing.validation.report import Indication, SignatureReport, ValidationReport

VR = "http://uri.etsi.org/19102/v1.2.1#"
DS = "http://www.w3.org/2000/09/xmldsig#"
_NSMAP = {"vr": VR, "ds": DS}
_MAIN = {
    Indication.TOTAL_PASSED: "urn:etsi:019102:mainindication:total-passed",
    Indication.TOTAL_FAILED: "urn:etsi:019102:mainindication:total-failed",
    Indication.INDETERMINATE: "urn:etsi:019102:mainindication:indeterminate",
}
_PROCESS = {
    "B-B": "urn:etsi:019102:validationprocess:Basic",
    "B-T": "urn:etsi:019102:validationprocess:LTVM",
    "B-LT": "urn:etsi:019102:validationprocess:LTVM",
    "B-LTA": "urn:etsi:019102:validationprocess:LTA",
}


def _el(
    parent: etree._Element, name: str, text: str | None = None, **attrib: str
) -> etree._Element:
    el = etree.SubElement(parent, f"{{{VR}}}{name}", attrib)
    if text is not None:
        el.text = text
    return el


def _time(value: datetime) -> str:
    return value.replace(microsecond=0).isoformat().replace("+00:00", "Z")


def _xml_id(value: str) -> str:
    """An xs:ID: PDF field names and XML Ids may hold characters an NCName cannot."""
    cleaned = "".join(c if c.isalnum() or c in "-_." else "_" for c in value)
    return cleaned if cleaned[:1].isalpha() or cleaned[:1] == "_" else f"S-{cleaned}"


_CERTIFICATE = "urn:etsi:019102:validationObject:certificate"
_SHA256 = "http://www.w3.org/2001/04/xmlenc#sha256"


def _cert_ref(sha256_hex: str) -> str:
    return f"C-{sha256_hex.upper()}"


def _report_data(status: etree._Element, type_uri: str, value: str) -> None:
    data = _el(status, "AssociatedValidationReportData")
    extra = _el(data, "AdditionalValidationReportData")
    typed = _el(extra, "ReportData")
    _el(typed, "Type", type_uri)
    _el(typed, "Value", value)


def _facts(sig: SignatureReport) -> list[tuple[str, str]]:
    """What the report says about scope, timestamps and policy, as (type URI, value)."""
    facts = [
        (
            f"urn:elocal:validation:scope:{item.kind}",
            " ".join(filter(None, (item.name, item.detail))),
        )
        for item in sig.scope
    ]
    for ts in sig.timestamps:
        when = _time(ts.time) if ts.time else "unknown"
        value = f"time={when}; intact={str(ts.intact).lower()}; trusted={str(ts.trusted).lower()}"
        if ts.tsa:
            value += f"; tsa={ts.tsa}"
        facts.append((f"urn:elocal:validation:timestamp:{ts.kind}", value))
    if sig.policy:
        matches = sig.policy.hash_matches
        facts.append(
            (
                "urn:elocal:validation:policy:hash-matches",
                "unknown" if matches is None else str(matches).lower(),
            )
        )
    return facts


def _validation_objects(root: etree._Element, cert_hashes: list[str]) -> None:
    """Each signer certificate once, identified by its SHA-256 (what SignerInformation cites)."""
    if not cert_hashes:
        return
    objects = _el(root, "SignatureValidationObjects")
    for digest in dict.fromkeys(cert_hashes):
        vo = _el(objects, "ValidationObject", id=_cert_ref(digest))
        _el(vo, "ObjectType", _CERTIFICATE)
        rep = _el(vo, "ValidationObjectRepresentation")
        dav = _el(rep, "DigestAlgAndValue")
        etree.SubElement(dav, f"{{{DS}}}DigestMethod", Algorithm=_SHA256)
        etree.SubElement(dav, f"{{{DS}}}DigestValue").text = base64.b64encode(
            bytes.fromhex(digest)
        ).decode()


def _signature(root: etree._Element, sig: SignatureReport, validation_time: datetime) -> None:
    svr = _el(root, "SignatureValidationReport")
    ident = _el(svr, "SignatureIdentifier", id=_xml_id(sig.id))
    _el(ident, "HashOnly", "false")
    _el(ident, "DocHashOnly", "false")

    time_info = _el(svr, "ValidationTimeInfo")
    _el(time_info, "ValidationTime", _time(validation_time))
    best = _el(time_info, "BestSignatureTime")
    _el(best, "POETime", _time(sig.best_signature_time or validation_time))
    proven = any(t.intact and t.trusted for t in sig.timestamps)
    _el(
        best,
        "TypeOfProof",
        "urn:etsi:019102:poetype:provided" if proven else "urn:etsi:019102:poetype:validation",
    )

    if sig.claimed_signing_time or sig.policy:
        attrs = _el(svr, "SignatureAttributes")
        if sig.claimed_signing_time:
            st = _el(attrs, "SigningTime", Signed="true")
            _el(st, "Time", _time(sig.claimed_signing_time))
        if sig.policy:
            sp = _el(attrs, "SigPolicyIdentifier", Signed="true")
            _el(sp, "SigPolicyId", sig.policy.identifier)
    if sig.signer:
        info = _el(svr, "SignerInformation")
        _el(info, "SignerCertificate", VOReference=_cert_ref(sig.signer.certificate_sha256))
        _el(info, "Signer", sig.signer.subject)

    level = (sig.level or "B-B").replace("PKCS7-", "B-")
    process = _el(svr, "SignatureValidationProcess")
    _el(process, "SignatureValidationProcessID", _PROCESS.get(level, _PROCESS["B-B"]))

    status = _el(svr, "SignatureValidationStatus")
    _el(status, "MainIndication", _MAIN[sig.indication])
    if sig.subindication:
        _el(status, "SubIndication", f"urn:etsi:019102:subindication:{sig.subindication.value}")
    for kind, messages in (("error", sig.errors), ("warning", sig.warnings)):
        for message in messages:
            _report_data(status, f"urn:elocal:validation:{kind}:{message.code}", message.detail)
    for type_uri, value in _facts(sig):
        _report_data(status, type_uri, value)


def to_etsi_xml(report: ValidationReport) -> bytes:
    """The TS 119 102-2 XML document for ``report`` (UTF-8 bytes)."""
    root = etree.Element(f"{{{VR}}}ValidationReport", nsmap=_NSMAP)
    for sig in report.signatures:
        _signature(root, sig, report.validation_time)
    if not report.signatures:
        # The schema needs at least one report; a document without a readable signature
        # is reported as one failed, unidentified signature.
        placeholder = SignatureReport(
            id="document",
            format=report.document_format,
            level=None,
            indication=report.indication,
            subindication=report.subindication,
            errors=list(report.errors),
        )
        _signature(root, placeholder, report.validation_time)
    _validation_objects(root, [s.signer.certificate_sha256 for s in report.signatures if s.signer])
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)  # type: ignore[no-any-return]
