"""PAdES (and legacy PKCS#7 PDF) signature validation.

Every signature field is validated, not only the last one. For each, in order:
the signature dictionary and byte range are checked by eLocal itself (``[0,a,b,c]``,
the gap exactly the ``/Contents`` string, the whole revision covered); pyHanko
verifies the CMS value, the timestamp and the certificate path; ``pdfdiff``
compares the signed revision with the final one. Certificate paths are validated at
the best signature time, a time proven by a timestamp.
"""

from __future__ import annotations

import hashlib
import io
import logging
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from asn1crypto import cms, ocsp
from asn1crypto import crl as asn1_crl
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.decode_limits import DecodeLimits, DocumentDecodeBudget, StreamDecodeLimits
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.ades.report import AdESFailure, AdESIndeterminate
from pyhanko.sign.fields import enumerate_sig_fields
from pyhanko.sign.validation import async_validate_pdf_signature, async_validate_pdf_timestamp
from pyhanko.sign.validation.errors import SignatureValidationError
from pyhanko.sign.validation.generic_cms import get_signing_cert_attr
from pyhanko.sign.validation.pdf_embedded import EmbeddedPdfSignature
from pyhanko.sign.validation.status import PdfSignatureStatus, SignatureCoverageLevel

from signing.validation import codes, rendering
from signing.validation.limits import ValidationLimits
from signing.validation.outcome import apply_trust, fail, indeterminate, subindication_from
from signing.validation.pdfdiff import compare_revisions
from signing.validation.policies import PolicyStore
from signing.validation.report import (
    Indication,
    Message,
    PolicyInfo,
    ScopeItem,
    SignatureReport,
    SubIndication,
    TimestampInfo,
    ValidationReport,
    worst,
)
from signing.validation.trust import TrustSettings, signer_identity, unique_certs

log = logging.getLogger("elocal.validation")

_SIG_SUBFILTERS = {"/ETSI.CAdES.detached": "PAdES", "/adbe.pkcs7.detached": "PKCS7"}
_TS_SUBFILTERS = {"/ETSI.RFC3161"}
_HEX = re.compile(rb"^[0-9A-Fa-f\s]*$")


class PdfRejected(Exception):
    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail


@dataclass
class _Field:
    name: str
    sig_object: Any
    field: Any
    embedded: EmbeddedPdfSignature | None
    error: str | None
    kind: str  # /Sig or /DocTimeStamp


def precheck(data: bytes, limits: ValidationLimits) -> None:
    """Cheap counts before the parser sees anything."""
    if len(data) > limits.max_bytes:
        raise PdfRejected(codes.INPUT_TOO_LARGE, f"PDF larger than {limits.max_bytes} bytes")
    if data.count(b"%%EOF") > limits.max_revisions:
        raise PdfRejected(codes.LIMIT_EXCEEDED, f"more than {limits.max_revisions} revisions")
    if len(re.findall(rb"\d\s+\d+\s+obj\b", data)) > limits.max_objects:
        raise PdfRejected(codes.LIMIT_EXCEEDED, f"more than {limits.max_objects} objects")


async def validate_pdf(
    data: bytes, trust: TrustSettings, policies: PolicyStore, limits: ValidationLimits
) -> ValidationReport:
    report = ValidationReport(
        "PDF",
        Indication.TOTAL_FAILED,
        SubIndication.FORMAT_FAILURE,
        trust.validation_time,
        offline=trust.offline,
    )
    try:
        precheck(data, limits)
        reader = PdfFileReader(io.BytesIO(data), strict=False, decode_limits=_decode_limits(limits))
        if reader.xrefs.total_revisions > limits.max_revisions:
            raise PdfRejected(codes.LIMIT_EXCEEDED, f"more than {limits.max_revisions} revisions")
        fields = _collect_fields(reader, limits)
    except PdfRejected as exc:
        report.errors.append(_msg(exc.code, exc.detail))
        return report
    except Exception as exc:  # any parser failure on hostile input is a format failure
        report.errors.append(_msg(codes.MALFORMED_PDF, f"not a readable PDF: {type(exc).__name__}"))
        return report

    dss = _read_dss(reader)
    revisions = {f.name: (f.embedded.signed_revision if f.embedded else -1) for f in fields}
    doc_ts_revisions: list[int] = []
    doc_ts_poe: list[tuple[int, datetime]] = []
    for f in fields:
        if f.kind == "/DocTimeStamp":
            try:
                info, rev = await _doc_timestamp(f, data, reader, trust, dss, revisions, report)
            except Exception as exc:
                info, rev = (
                    TimestampInfo("document", None, False, False, detail=type(exc).__name__),
                    None,
                )
            report.document_timestamps.append(info)
            if rev is not None and info.intact:
                doc_ts_revisions.append(rev)
                if info.trusted and info.time is not None:
                    doc_ts_poe.append((rev, info.time))
    # LT needs validation data, not merely a DSS dictionary.
    dss_revision = _dss_revision(reader) if (dss["ocsps"] or dss["crls"]) else None
    renderer = rendering.TextRenderer()
    for f in fields:
        if f.kind != "/DocTimeStamp":
            try:
                one = await _signature(
                    f,
                    data,
                    reader,
                    trust,
                    policies,
                    dss,
                    revisions,
                    dss_revision,
                    doc_ts_revisions,
                    doc_ts_poe,
                    renderer,
                )
            except Exception as exc:  # hostile input must end in a report, never an exception
                one = SignatureReport(
                    id=f.name, format="PDF", level=None, indication=Indication.TOTAL_PASSED
                )
                fail(
                    one,
                    SubIndication.FORMAT_FAILURE,
                    codes.MALFORMED_PDF,
                    f"{type(exc).__name__}"[:200],
                )
            report.signatures.append(one)
    if not report.signatures:
        report.errors.append(_msg(codes.NO_SIGNATURE, "the PDF has no signature"))
        report.indication, report.subindication = (
            Indication.TOTAL_FAILED,
            SubIndication.SIGNED_DATA_NOT_FOUND,
        )
        return report
    report.indication, report.subindication = worst(report.signatures)
    if (
        any(not t.intact for t in report.document_timestamps)
        and report.indication is not Indication.TOTAL_FAILED
    ):
        report.indication, report.subindication = (
            Indication.TOTAL_FAILED,
            SubIndication.HASH_FAILURE,
        )
    return report


def _decode_limits(limits: ValidationLimits) -> DecodeLimits:
    """pyHanko's decompression-bomb limits, set from ours (they bound every stream it decodes)."""
    return DecodeLimits(
        per_stream=StreamDecodeLimits(
            max_ratio=limits.max_decode_ratio, max_output_size=limits.max_decoded_stream
        ),
        document_budget=DocumentDecodeBudget(
            base_allowance=limits.max_decoded_total, max_ratio=100
        ),
    )


def _msg(code: str, detail: str) -> Message:
    return Message(code, detail)


def _collect_fields(reader: PdfFileReader, limits: ValidationLimits) -> list[_Field]:
    out: list[_Field] = []
    # pyHanko's "filled" test is truthiness, which skips a /V of ``<<>>``: every field
    # with any value is a signature to validate (and fail when it is not one).
    for name, sig_obj_ref, field_ref in enumerate_sig_fields(reader):
        if sig_obj_ref is None or isinstance(_deref(sig_obj_ref), generic.NullObject):
            continue
        if len(out) >= limits.max_signatures:
            raise PdfRejected(codes.LIMIT_EXCEEDED, f"more than {limits.max_signatures} signatures")
        sig_obj = (
            sig_obj_ref.get_object()
            if isinstance(sig_obj_ref, generic.IndirectObject)
            else sig_obj_ref
        )
        kind = (
            str(sig_obj.get("/Type", "/Sig"))
            if isinstance(sig_obj, generic.DictionaryObject)
            else "/Sig"
        )
        embedded, error = None, None
        try:
            contents = (
                sig_obj.get("/Contents") if isinstance(sig_obj, generic.DictionaryObject) else None
            )
            if contents is not None and len(contents) > limits.max_cms_bytes:
                raise PdfRejected(codes.LIMIT_EXCEEDED, "signature contents too large")
            embedded = EmbeddedPdfSignature(reader, field_ref, name)
        except Exception as exc:
            error = f"{type(exc).__name__}: {exc}"[:300]
        out.append(_Field(str(name), sig_obj, field_ref, embedded, error, kind))
    out.sort(key=lambda f: f.embedded.signed_revision if f.embedded else -1)
    return out


def _check_structure(
    f: _Field, data: bytes, sig: SignatureReport | None = None
) -> list[tuple[str, str]]:
    """The signature dictionary and byte range, checked without trusting pyHanko's leniency."""
    problems: list[tuple[str, str]] = []
    obj = f.sig_object
    if not isinstance(obj, generic.DictionaryObject):
        return [(codes.SIG_DICT_INCONSISTENT, "the signature value is not a dictionary")]
    subfilter = str(obj.get("/SubFilter", ""))
    allowed = _TS_SUBFILTERS if f.kind == "/DocTimeStamp" else set(_SIG_SUBFILTERS)
    if f.kind not in ("/Sig", "/DocTimeStamp"):
        problems.append((codes.SIG_DICT_INCONSISTENT, f"signature dictionary /Type is {f.kind}"))
    if subfilter not in allowed:
        problems.append(
            (codes.SUBFILTER_UNSUPPORTED, f"/SubFilter {subfilter or '(none)'} is not accepted")
        )
    if "/Filter" not in obj:
        problems.append((codes.SIG_DICT_INCONSISTENT, "signature dictionary has no /Filter"))
    br = obj.get("/ByteRange")
    if (
        not isinstance(br, generic.ArrayObject)
        or len(br) != 4
        or not all(isinstance(v, int) and not isinstance(v, bool) for v in br)
    ):
        problems.append((codes.BYTE_RANGE_INVALID, "/ByteRange is not an array of four integers"))
        return problems
    start, a, b, c = (int(v) for v in br)
    if start != 0 or a <= 0 or b <= a or c < 0 or b + c > len(data):
        problems.append(
            (
                codes.BYTE_RANGE_INVALID,
                f"/ByteRange {[start, a, b, c]} is not [0,a,b,c] within the file",
            )
        )
        return problems
    gap = data[a:b]
    if len(gap) < 2 or gap[:1] != b"<" or gap[-1:] != b">" or not _HEX.match(gap[1:-1]):
        problems.append(
            (
                codes.BYTE_RANGE_NOT_CONTENTS,
                "the byte range gap is not exactly the /Contents string",
            )
        )
        return problems
    contents = obj.get("/Contents")
    raw = (
        bytes(contents.original_bytes)
        if isinstance(contents, generic.ByteStringObject | generic.TextStringObject)
        else None
    )
    try:
        gap_bytes = bytes.fromhex(gap[1:-1].decode("ascii"))
    except ValueError:
        gap_bytes = None
    if raw is None or gap_bytes != raw:
        problems.append(
            (
                codes.BYTE_RANGE_NOT_CONTENTS,
                "the byte range gap does not hold this signature's /Contents",
            )
        )
    if f.embedded is not None and b + c != _revision_end(data, b + c):
        problems.append(
            (codes.REVISION_NOT_COVERED, "the signed bytes do not end with a complete revision")
        )
    return problems


def _revision_end(data: bytes, end: int) -> int:
    """``end`` when the bytes before it close a revision with ``%%EOF`` (and an optional EOL)."""
    tail = data[max(0, end - 64) : end].rstrip(b"\r\n \x00")
    return end if tail.endswith(b"%%EOF") else -1


def _read_dss(reader: PdfFileReader) -> dict[str, list[Any]]:
    out: dict[str, list[Any]] = {"certs": [], "ocsps": [], "crls": []}
    try:
        if "/DSS" not in reader.root:
            return out
        dss = _deref(reader.root.raw_get("/DSS"))
        from asn1crypto import x509 as asn1_x509

        for key, bucket, loader in (
            ("/Certs", "certs", asn1_x509.Certificate.load),
            ("/OCSPs", "ocsps", ocsp.OCSPResponse.load),
            ("/CRLs", "crls", asn1_crl.CertificateList.load),
        ):
            entries = _deref(dss.raw_get(key)) if key in dss else []
            for ref in list(entries)[:2000]:
                try:
                    obj = ref.get_object()
                    value = loader(obj.data)
                    value.native  # noqa: B018 - a full parse, before anything relies on it
                    out[bucket].append(value)
                except Exception as exc:
                    log.debug("unreadable %s entry in the DSS: %s", bucket, type(exc).__name__)
    except Exception as exc:
        log.debug("unreadable DSS: %s", type(exc).__name__)
    return out


def _deref(obj: Any) -> Any:
    for _ in range(32):
        if not isinstance(obj, generic.IndirectObject):
            return obj
        obj = obj.get_object()
    raise PdfRejected(codes.MALFORMED_PDF, "reference chain too long")


def _dss_revision(reader: PdfFileReader) -> int | None:
    """The first revision that carries a DSS dictionary."""
    for rev in range(reader.xrefs.total_revisions):
        try:
            if "/DSS" in reader.get_historical_root(rev):
                return rev
        except Exception as exc:
            log.debug("revision %d unreadable: %s", rev, type(exc).__name__)
    return None


def _adobe_revinfo(sd: cms.SignedData) -> tuple[list[Any], list[Any]]:
    ocsps: list[Any] = []
    crls: list[Any] = []
    try:
        for attr in sd["signer_infos"][0]["signed_attrs"]:
            if attr["type"].native == "adobe_revocation_info_archival":
                for value in attr["values"]:
                    crls.extend(value["crl"] or [])
                    ocsps.extend(value["ocsp"] or [])
    except Exception as exc:
        log.debug("unreadable revocation-info attribute: %s", type(exc).__name__)
    return ocsps, crls


async def _doc_timestamp(
    f: _Field,
    data: bytes,
    reader: PdfFileReader,
    trust: TrustSettings,
    dss: dict[str, list[Any]],
    revisions: dict[str, int],
    report: ValidationReport,
) -> tuple[TimestampInfo, int | None]:
    info = TimestampInfo(kind="document", time=None, intact=False, trusted=False)
    problems = _check_structure(f, data)
    if f.embedded is None or problems:
        info.detail = "; ".join(p[1] for p in problems) or f.error
        report.errors.append(
            _msg(codes.TIMESTAMP_INVALID, f"document timestamp {f.name}: {info.detail}")
        )
        return info, None
    emb = f.embedded
    try:
        vc = trust.context(other_certs=dss["certs"], ocsps=dss["ocsps"], crls=dss["crls"])
        status = await async_validate_pdf_timestamp(emb, validation_context=vc, skip_diff=True)
    except Exception as exc:
        info.detail = f"{type(exc).__name__}: {exc}"[:300]
        report.errors.append(
            _msg(codes.TIMESTAMP_INVALID, f"document timestamp {f.name}: {info.detail}")
        )
        return info, None
    info.time = status.timestamp
    info.intact = (
        bool(status.intact and status.valid)
        and status.coverage is not None
        and (status.coverage >= SignatureCoverageLevel.ENTIRE_REVISION)
    )
    info.trusted = bool(status.trusted)
    info.tsa = status.signing_cert.subject.human_friendly
    if not info.intact:
        report.errors.append(
            _msg(codes.TIMESTAMP_INVALID, f"document timestamp {f.name} does not verify")
        )
    elif status.coverage == SignatureCoverageLevel.ENTIRE_REVISION:
        later = {n for n, r in revisions.items() if r > emb.signed_revision}
        findings = compare_revisions(
            reader, emb.signed_revision, later_signature_fields=later, form_filling_allowed=False
        )
        for code, detail in findings.errors:
            report.errors.append(_msg(code, f"after document timestamp {f.name}: {detail}"))
            info.intact = False
    return info, emb.signed_revision


async def _signature(
    f: _Field,
    data: bytes,
    reader: PdfFileReader,
    trust: TrustSettings,
    policies: PolicyStore,
    dss: dict[str, list[Any]],
    revisions: dict[str, int],
    dss_revision: int | None,
    doc_ts_revisions: list[int],
    doc_ts_poe: list[tuple[int, datetime]],
    renderer: rendering.TextRenderer,
) -> SignatureReport:
    subfilter = (
        str(f.sig_object.get("/SubFilter", ""))
        if isinstance(f.sig_object, generic.DictionaryObject)
        else ""
    )
    fmt = _SIG_SUBFILTERS.get(subfilter, "PDF")
    sig = SignatureReport(
        id=f.name, format=fmt, level=None, indication=Indication.TOTAL_PASSED, intact=True
    )
    for code, detail in _check_structure(f, data):
        fail(sig, SubIndication.FORMAT_FAILURE, code, detail)
    emb = f.embedded
    if emb is None:
        fail(
            sig,
            SubIndication.FORMAT_FAILURE,
            codes.CMS_MALFORMED,
            f"the signature cannot be read: {f.error}",
        )
        return sig
    if sig.indication is Indication.TOTAL_FAILED:
        return sig  # never verify bytes that the byte range does not honestly delimit

    ocsps, crls = _adobe_revinfo(emb.signed_data)
    other = unique_certs(list(dss["certs"]))

    async def run(moment: datetime | None) -> PdfSignatureStatus:
        signer_vc = trust.context(
            moment=moment, other_certs=other, ocsps=dss["ocsps"] + ocsps, crls=dss["crls"] + crls
        )
        ts_vc = trust.context(
            other_certs=other, ocsps=dss["ocsps"] + ocsps, crls=dss["crls"] + crls
        )
        return await async_validate_pdf_signature(
            emb, signer_vc, ts_validation_context=ts_vc, skip_diff=True
        )

    try:
        status = await run(None)
    except SignatureValidationError as exc:
        _cms_error(sig, exc)
        return sig
    except Exception as exc:
        fail(
            sig,
            SubIndication.FORMAT_FAILURE,
            codes.CMS_MALFORMED,
            f"{type(exc).__name__}: {exc}"[:300],
        )
        return sig

    sig.signer = signer_identity(status.signing_cert)
    sig.digest_algorithm = status.md_algorithm
    sig.signature_algorithm = status.pkcs7_signature_mechanism
    sig.claimed_signing_time = status.signer_reported_dt
    if status.coverage is None or status.coverage < SignatureCoverageLevel.ENTIRE_REVISION:
        fail(
            sig,
            SubIndication.FORMAT_FAILURE,
            codes.REVISION_NOT_COVERED,
            "the signature does not cover a complete revision",
        )
    if not status.intact:
        fail(
            sig,
            SubIndication.HASH_FAILURE,
            codes.HASH_MISMATCH,
            "the signed bytes do not match the signed digest",
        )
    elif not status.valid:
        fail(
            sig,
            SubIndication.SIG_CRYPTO_FAILURE,
            codes.SIGNATURE_INVALID,
            "the signature value does not verify",
        )
    if sig.indication is Indication.TOTAL_FAILED:
        return sig
    signed_attrs = emb.signer_info["signed_attrs"]
    if fmt == "PAdES":
        if get_signing_cert_attr(signed_attrs) is None:
            indeterminate(
                sig,
                SubIndication.NO_SIGNING_CERTIFICATE_FOUND,
                codes.SIGNING_CERT_MISSING,
                "PAdES requires the ESS signing-certificate(-v2) attribute",
            )
        if any(a["type"].native == "signing_time" for a in signed_attrs):
            sig.warn(
                codes.SIG_DICT_INCONSISTENT,
                "a PAdES signature carries a CMS signingTime (the time belongs in /M)",
            )
    if status.md_algorithm in ("sha1", "md5"):
        sig.warn(codes.LEGACY_SHA1, f"the document digest uses {status.md_algorithm}")

    # What changed after this signature.
    total = reader.xrefs.total_revisions
    sig.scope.append(
        ScopeItem(
            "pdf_revision",
            f"revision {emb.signed_revision + 1} of {total}",
            f"bytes 0..{int(emb.byte_range[2]) + int(emb.byte_range[3])} of {len(data)}",
        )
    )
    if status.coverage == SignatureCoverageLevel.ENTIRE_REVISION:
        _changes_after(sig, f, emb, data, reader, revisions, renderer)
        if sig.indication is Indication.TOTAL_FAILED:
            return sig

    # Time: the signature timestamp proves the signature existed then.
    proven: datetime | None = None
    ts = status.timestamp_validity
    if ts is not None:
        ok = bool(ts.intact and ts.valid)
        sig.timestamps.append(
            TimestampInfo(
                "signature",
                ts.timestamp,
                ok,
                bool(ts.trusted),
                tsa=ts.signing_cert.subject.human_friendly,
            )
        )
        if not ok:
            fail(
                sig,
                SubIndication.HASH_FAILURE,
                codes.TIMESTAMP_INVALID,
                "the signature timestamp does not verify",
            )
            return sig
        if ts.trusted:
            proven = ts.timestamp
        else:
            sig.warn(codes.TIMESTAMP_UNTRUSTED, "the timestamp authority is not in the trust store")
    if proven is None:
        # Only a document timestamp over a revision that already held this signature
        # proves it existed; an older one proves nothing about it.
        later_times = [t for rev, t in doc_ts_poe if rev > emb.signed_revision]
        proven = min(later_times, default=None)
    sig.best_signature_time = proven or trust.validation_time
    if sig.claimed_signing_time and proven and sig.claimed_signing_time > proven:
        sig.warn(codes.TIMESTAMP_ORDER, "the claimed signing time is later than the timestamp")

    sig.level = _level(fmt, emb, ts is not None, dss_revision, doc_ts_revisions)
    sig.policy = _policy(emb.signer_info, policies, sig)

    if proven is not None and proven < trust.validation_time:
        try:
            status = await run(proven)
        except Exception as exc:
            indeterminate(
                sig,
                SubIndication.CERTIFICATE_CHAIN_GENERAL_FAILURE,
                codes.CHAIN_INVALID,
                f"{type(exc).__name__}: {exc}"[:300],
            )
            return sig
    apply_trust(
        sig,
        trusted=bool(status.trusted) and not status.revoked,
        problem=status.trust_problem_indic,
        revocation=status.revocation_details,
        proven_time=proven,
    )
    return sig


def _changes_after(
    sig: SignatureReport,
    f: _Field,
    emb: EmbeddedPdfSignature,
    data: bytes,
    reader: PdfFileReader,
    revisions: dict[str, int],
    renderer: rendering.TextRenderer,
) -> None:
    """What changed after this signature: structure, rendered text, and DocMDP."""
    later = {n for n, r in revisions.items() if r > emb.signed_revision}
    docmdp = _docmdp_when_signed(reader, f, emb)
    findings = compare_revisions(
        reader,
        emb.signed_revision,
        later_signature_fields=later,
        form_filling_allowed=docmdp is not None and docmdp >= 2,
    )
    for code, detail in findings.warnings:
        sig.warn(code, detail)
    for code, detail in findings.errors:
        fail(sig, SubIndication.FORMAT_FAILURE, code, detail)
    signed_end = int(emb.byte_range[2]) + int(emb.byte_range[3])
    if not rendering.available():
        sig.warn(codes.TEXT_NOT_COMPARED, "poppler is not installed: rendered text not compared")
    elif signed_end < len(data):
        changed_pages = renderer.changes(data[:signed_end], data)
        if changed_pages is None:
            # Unrendered is not unchanged: without the second opinion nothing vouches
            # that the visible text is the signed one.
            indeterminate(
                sig,
                SubIndication.SIG_CONSTRAINTS_FAILURE,
                codes.TEXT_NOT_COMPARED,
                "the rendered text of the signed revision and the final document "
                "could not be compared",
            )
        elif changed_pages:
            fail(
                sig,
                SubIndication.FORMAT_FAILURE,
                codes.PAGE_TEXT_CHANGED,
                f"rendered text changed after signing on page(s) {', '.join(changed_pages)}",
            )
    if docmdp == 1 and later:
        fail(
            sig,
            SubIndication.FORMAT_FAILURE,
            codes.DOCMDP_VIOLATION,
            "a certification signature forbids any change, and the document was signed again",
        )


def _docmdp_when_signed(reader: PdfFileReader, f: _Field, emb: EmbeddedPdfSignature) -> int | None:
    """The DocMDP level as the signed revision states it (signature /Reference, else /Lock).

    Later revisions cannot be trusted to say what the signer permitted; ``pdfdiff``
    separately refuses any change to the signature dictionary. A field that cannot be
    looked up in the signed revision is not taken as "no restriction".
    """
    if isinstance(f.field, generic.IndirectObject):
        field = _deref(reader.get_historical_resolver(emb.signed_revision)
                       .get_object(f.field.reference))
        if isinstance(field, generic.DictionaryObject):
            return _docmdp_in(field)
    # A direct field object lives inside a container pdfdiff compares; read it as it is
    # now, and never looser than pyHanko reads it.
    levels = [_docmdp_in(_deref(f.field))]
    try:
        levels.append(emb.docmdp_level.value if emb.docmdp_level is not None else None)
    except (generic.PdfError, KeyError, TypeError, ValueError, AttributeError):
        levels.append(1)  # unreadable: assume the strictest
    known = [level for level in levels if level is not None]
    return min(known) if known else None


def _docmdp_in(field: Any) -> int | None:
    if not isinstance(field, generic.DictionaryObject):
        return None
    sig_dict = _deref(field.raw_get("/V")) if "/V" in field else None
    if isinstance(sig_dict, generic.DictionaryObject) and "/Reference" in sig_dict:
        for ref in _deref(sig_dict.raw_get("/Reference")):
            entry = _deref(ref)
            if (
                isinstance(entry, generic.DictionaryObject)
                and entry.get("/TransformMethod") == "/DocMDP"
            ):
                params = (
                    _deref(entry.raw_get("/TransformParams"))
                    if "/TransformParams" in entry
                    else generic.DictionaryObject()
                )
                # ISO 32000: /P defaults to 2 (form filling and signing).
                return int(_deref(params.raw_get("/P"))) if "/P" in params else 2
    lock = _deref(field.raw_get("/Lock")) if "/Lock" in field else None
    if isinstance(lock, generic.DictionaryObject) and "/P" in lock:
        return int(_deref(lock.raw_get("/P")))
    return None


_CMS_ERROR_CODES = {
    "NO_SIGNING_CERTIFICATE_FOUND": codes.SIGNING_CERT_MISMATCH,
    "CRYPTO_CONSTRAINTS_FAILURE": codes.WEAK_ALGORITHM,
    "HASH_FAILURE": codes.HASH_MISMATCH,
    "SIG_CRYPTO_FAILURE": codes.SIGNATURE_INVALID,
}


def _cms_error(sig: SignatureReport, exc: SignatureValidationError) -> None:
    """pyHanko's own AdES classification of a CMS problem, kept when it names one."""
    sub = getattr(exc, "ades_subindication", None)
    name = getattr(sub, "name", "")
    if name == "CRYPTO_CONSTRAINTS_FAILURE_NO_POE" or (
        not name and "algorithm" in str(exc).lower()
    ):
        name = "CRYPTO_CONSTRAINTS_FAILURE"
    detail = str(exc)[:300]
    code = _CMS_ERROR_CODES.get(name, codes.CMS_MALFORMED)
    if name == "CRYPTO_CONSTRAINTS_FAILURE":
        indeterminate(sig, SubIndication.CRYPTO_CONSTRAINTS_FAILURE, code, detail)
        return
    if isinstance(sub, AdESIndeterminate):
        indeterminate(sig, subindication_from(sub), code, detail)
        return
    if isinstance(sub, AdESFailure) and name in SubIndication.__members__:
        fail(sig, SubIndication(name), code, detail)
        return
    fail(sig, SubIndication.FORMAT_FAILURE, codes.CMS_MALFORMED, detail)


def _level(
    fmt: str,
    emb: EmbeddedPdfSignature,
    sig_ts: bool,
    dss_revision: int | None,
    doc_ts_revisions: list[int],
) -> str:
    rev = emb.signed_revision
    later_doc_ts = [r for r in doc_ts_revisions if r > rev]
    level = "B-B"
    if sig_ts or later_doc_ts:
        level = "B-T"
        if dss_revision is not None:
            level = "B-LT"
            if any(r >= dss_revision for r in later_doc_ts):
                level = "B-LTA"
    return level if fmt == "PAdES" else f"PKCS7-{level[2:]}"


def _policy(signer_info: Any, policies: PolicyStore, sig: SignatureReport) -> PolicyInfo | None:
    try:
        attrs = signer_info["signed_attrs"]
        for attr in attrs:
            if attr["type"].native != "signature_policy_identifier":
                continue
            value_choice = attr["values"][0]
            if value_choice.name != "signature_policy_id":
                return PolicyInfo(identifier="implied")
            chosen = value_choice.chosen
            oid = chosen["sig_policy_id"].dotted
            # OtherHashAlgAndValue in the RFC; pyHanko models it as a DigestInfo.
            hash_alg = chosen["sig_policy_hash"]["digest_algorithm"]["algorithm"].native
            value = bytes(chosen["sig_policy_hash"]["digest"].native)
            return check_policy(oid, hash_alg, value, policies, sig)
    except Exception as exc:
        sig.warn(
            codes.POLICY_UNKNOWN,
            f"the signature policy attribute cannot be read: {type(exc).__name__}",
        )
    return None


def check_policy(
    identifier: str, hash_alg: str, value: bytes, policies: PolicyStore, sig: SignatureReport
) -> PolicyInfo:
    result = policies.check(identifier, hash_alg, value)
    info = PolicyInfo(
        identifier=identifier,
        hash_matches=result.hash_matches,
        digest_algorithm=hash_alg,
        known_policy=result.known.name if result.known else None,
        description=result.document,
    )
    if result.hash_matches is False:
        indeterminate(
            sig,
            SubIndication.POLICY_PROCESSING_ERROR,
            codes.POLICY_HASH_MISMATCH,
            f"the signed hash of policy {identifier} does not match the policy document",
        )
    elif result.hash_matches is None:
        sig.warn(
            codes.POLICY_NOT_AVAILABLE, f"no policy document for {identifier} in the policy store"
        )
    if hash_alg.lower().replace("-", "") in ("sha1", "md5"):
        sig.warn(codes.LEGACY_SHA1, f"the policy hash uses {hash_alg}")
    return info


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
