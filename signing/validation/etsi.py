"""The report as ETSI TS 119 102-2 XML (``vr:ValidationReport``).

Written with lxml in the element order of the TS 119 102-2 schema
(SignatureIdentifier, ValidationTimeInfo, SignatureAttributes, SignerInformation,
SignatureValidationProcess, SignatureValidationStatus), the same shape for PAdES
and XAdES. eLocal's stable warning/error codes travel as typed
``AdditionalValidationReportData`` entries of the status.
"""

from __future__ import annotations

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
            data = _el(status, "AssociatedValidationReportData")
            extra = _el(data, "AdditionalValidationReportData")
            typed = _el(extra, "ReportData")
            _el(typed, "Type", f"urn:elocal:validation:{kind}:{message.code}")
            _el(typed, "Value", message.detail)


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
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)  # type: ignore[no-any-return]
