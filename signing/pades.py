"""PAdES sealing (B-B to B-LTA) and extension, on top of pyHanko.

pyHanko already writes what the baseline profiles ask for when the subfilter is
``ETSI.CAdES.detached``: signing-certificate-v2, no ``signingTime`` attribute (the
time is in ``/M``) and the ESIC extension in the catalogue. This module adds the
eLocal specifics: input limits, the visible stamp, the AGE policy attribute,
PDF/A-preserving fonts, and mapping of failures to problem codes.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Literal

from asn1crypto import algos, core
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.font.opentype import GlyphAccumulatorFactory
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.metadata import model
from pyhanko.pdf_utils.metadata.xmp_xml import MetadataStream, XmpXmlProcessingError
from pyhanko.pdf_utils.misc import PdfError
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.pdf_utils.text import TextBoxStyle
from pyhanko.sign import fields, signers
from pyhanko.sign.ades.api import CAdESSignedAttrSpec
from pyhanko.sign.ades.cades_asn1 import (
    SignaturePolicyId,
    SignaturePolicyIdentifier,
    SigPolicyQualifierInfo,
)
from pyhanko.sign.general import SigningError as PyHankoSigningError
from pyhanko.sign.validation import EmbeddedPdfSignature, read_certification_data
from pyhanko.sign.validation.dss import async_add_validation_info
from pyhanko.sign.validation.errors import SignatureValidationError
from pyhanko.sign.validation.generic_cms import validate_sig_integrity
from pyhanko.sign.validation.status import SignatureCoverageLevel
from pyhanko.stamp import QRStampStyle, TextStampStyle
from pyhanko_certvalidator import ValidationContext
from pyhanko_certvalidator.errors import PathBuildingError, PathValidationError

from infra.errors import ElocalError
from signing.errors import (
    CertifyNotAllowed,
    DocumentLocked,
    EncryptedPdf,
    NotAnElocalSignature,
    NotAPdf,
    RevocationUnavailable,
    SignatureNotIntact,
    SigningError,
    StampFontMissing,
    StampOnSignedDocument,
    TooManyRevisions,
    TsaUnavailable,
)
from signing.keys import SealKey
from signing.levels import Level
from signing.limits import SigningLimits
from signing.policy import AGE_1_9, SignaturePolicy
from signing.timestamps import Rfc3161TimeStamper
from signing.validation.pdfdiff import compare_revisions

log = logging.getLogger("elocal.signing.pades")

#: A TrueType font embedded in stamps on PDF/A documents (PDF/A forbids unembedded fonts).
STAMP_FONT_CANDIDATES = (
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu/DejaVuSans.ttf",
)


@dataclass(frozen=True)
class Stamp:
    """A visible seal stamp: who sealed, when, and how to verify it."""

    municipality: str
    verification_code: str | None = None
    verification_url: str | None = None
    #: Page index (negative counts from the end) and box (x1, y1, x2, y2) in points.
    page: int = 0
    box: tuple[int, int, int, int] = (36, 24, 396, 104)

    def text_params(self) -> dict[str, str]:
        params = {"municipality": self.municipality, "code": self.verification_code or "-"}
        if self.verification_url:
            params["url"] = self.verification_url
        return params

    def template(self) -> str:
        lines = ["Sellado electrónicamente por %(municipality)s",
                 "Fecha: %(ts)s", "Titular: %(signer)s"]
        if self.verification_code:
            lines.append("CSV: %(code)s")
        if self.verification_url:
            lines.append("Verificación: %(url)s")
        return "\n".join(lines)


Source = bytes | str | Path | IO[bytes]


def open_pdf(source: Source, limits: SigningLimits) -> IncrementalPdfFileWriter:
    """Open a PDF for an incremental update, enforcing the input rules."""
    stream = _as_stream(source)
    head = stream.read(1024)
    stream.seek(0)
    if b"%PDF-" not in head:
        raise NotAPdf("the document does not start with a PDF header")
    try:
        writer = IncrementalPdfFileWriter(stream, strict=False)
    except (PdfError, ValueError, KeyError, TypeError, IndexError, AssertionError) as exc:
        raise NotAPdf(f"the PDF cannot be parsed: {exc}") from None
    reader = writer.prev
    if reader.encrypted:
        raise EncryptedPdf("the PDF is encrypted")
    revisions = reader.xrefs.total_revisions
    if revisions > limits.max_pdf_revisions:
        raise TooManyRevisions(f"the PDF has {revisions} revisions; at most "
                               f"{limits.max_pdf_revisions} are accepted",
                               limit=limits.max_pdf_revisions)
    try:
        reader.root["/Pages"]
    except (KeyError, PdfError) as exc:
        raise NotAPdf(f"the PDF has no page tree: {exc}") from None
    _keep_xmp(writer)
    return writer


def _keep_xmp(writer: IncrementalPdfFileWriter) -> None:
    """Carry the document's XMP properties (``pdfaid:part`` above all) into the new revision.

    When pyHanko touches the catalogue (a new signature field, for instance) it writes
    a fresh XMP packet; without this the sealed copy of a PDF/A document would lose
    its PDF/A identification.
    """
    ref = writer.root.raw_get("/Metadata") if "/Metadata" in writer.root else None
    if not isinstance(ref, generic.IndirectObject):
        return
    try:
        meta = writer.prev.get_object(ref.reference, as_metadata_stream=True)
        structures = list(meta.xmp) if isinstance(meta, MetadataStream) else []
    except (PdfError, ValueError, KeyError, SyntaxError, XmpXmlProcessingError):
        return  # unreadable XMP: pyHanko writes a fresh packet
    managed = {model.XMP_MODDATE, model.PDF_PRODUCER}
    writer.document_meta.xmp_extra = [
        model.XmpStructure({k: v for k, v in st if k not in managed}) for st in structures
    ]


def _as_stream(source: Source) -> IO[bytes]:
    if isinstance(source, bytes | bytearray):
        return io.BytesIO(source)
    if isinstance(source, str | Path):
        return open(source, "rb")
    return source


def is_pdfa(reader: PdfFileReader) -> bool:
    """True when the document's XMP metadata claims PDF/A conformance."""
    try:
        meta = reader.root.get("/Metadata")
        if meta is None:
            return False
        data = meta.get_object().data
    except (PdfError, AttributeError, KeyError):
        return False
    return b"pdfaid:part" in data or b"pdfaid/" in data


def age_policy_attr(policy: SignaturePolicy = AGE_1_9) -> CAdESSignedAttrSpec:
    spid = SignaturePolicyIdentifier({"signature_policy_id": SignaturePolicyId({
        "sig_policy_id": policy.oid,
        "sig_policy_hash": algos.DigestInfo({
            "digest_algorithm": algos.DigestAlgorithm({"algorithm": policy.digest_algorithm}),
            "digest": policy.digest,
        }),
        "sig_policy_qualifiers": [SigPolicyQualifierInfo({
            "sig_policy_qualifier_id": "sp_uri",
            "sig_qualifier": core.IA5String(policy.spuri),
        })],
    })})
    return CAdESSignedAttrSpec(signature_policy_identifier=spid)


def _stamp_style(stamp: Stamp, pdfa: bool, font_path: str | None) -> TextStampStyle:
    text_box: dict[str, Any] = {"font_size": 8}
    if pdfa and font_path:
        text_box["font"] = GlyphAccumulatorFactory(font_path)
    style_cls = QRStampStyle if stamp.verification_url else TextStampStyle
    return style_cls(stamp_text=stamp.template(), text_box_style=TextBoxStyle(**text_box),
                     border_width=1, timestamp_format="%Y-%m-%d %H:%M:%S %Z")


def stamp_font() -> str | None:
    return next((p for p in STAMP_FONT_CANDIDATES if Path(p).exists()), None)


async def seal(
    writer: IncrementalPdfFileWriter,
    key: SealKey,
    level: Level,
    output: IO[bytes],
    *,
    timestamper: Rfc3161TimeStamper | None,
    validation_context: Callable[[], ValidationContext],
    stamp: Stamp | None = None,
    certify: bool = False,
    docmdp: fields.MDPPerm = fields.MDPPerm.FILL_FORMS,
    age_policy: bool = False,
    reason: str | None = None,
    location: str | None = None,
) -> None:
    """Sign ``writer`` with ``key`` at ``level`` and write the result to ``output``.

    ``docmdp`` is the certification's permission (1 no changes, 2 form filling, 3 also
    annotations); it matters only with ``certify``.
    """
    if level.timestamped and timestamper is None:
        raise TsaUnavailable("no TSA is configured for a timestamped level")
    _check_may_sign(writer.prev, certify, stamp is not None)
    pdfa = is_pdfa(writer.prev)
    font = stamp_font() if stamp is not None and pdfa else None
    if stamp is not None and pdfa and font is None:
        raise StampFontMissing("a visible stamp on a PDF/A document needs an embeddable font "
                               f"(one of {', '.join(STAMP_FONT_CANDIDATES)}); install it or "
                               "seal without a stamp", pdfa=True)
    existing = {name for name, *_ in fields.enumerate_sig_fields(writer.prev)}
    field_name = next(f"Seal{i}" for i in range(1, 10_000) if f"Seal{i}" not in existing)
    meta = signers.PdfSignatureMetadata(
        field_name=field_name,
        md_algorithm="sha256",
        subfilter=fields.SigSeedSubFilter.PADES,
        certify=certify,
        docmdp_permissions=docmdp,
        reason=reason,
        location=location,
        embed_validation_info=level.long_term,
        use_pades_lta=level is Level.B_LTA,
        validation_context=validation_context() if level.long_term else None,
        cades_signed_attr_spec=age_policy_attr() if age_policy else None,
    )
    field_spec = None
    style = None
    params = None
    if stamp is not None:
        field_spec = fields.SigFieldSpec(field_name, on_page=stamp.page, box=stamp.box)
        style = _stamp_style(stamp, pdfa, font)
        params = stamp.text_params()
    signer = key.signer
    pdf_signer = signers.PdfSigner(
        meta, signer=signer, timestamper=timestamper if level.timestamped else None,
        stamp_style=style, new_field_spec=field_spec,
    )
    # pyHanko sizes the signature container with a complete dry-run signature, which
    # doubles the cost of a seal. The CMS of a given seal, level and TSA hardly varies in
    # size, so the size measured on the first seal (plus a margin) is reserved afterwards;
    # a seal that would not fit fails with ReservationTooSmall and is redone by the caller.
    shape = (level.timestamped, age_policy, timestamper.url if level.timestamped and
             timestamper else None)
    reserved = key.reservations.get(shape)
    with _translated_errors():
        try:
            await pdf_signer.async_sign_pdf(writer, output=output, appearance_text_params=params,
                                            bytes_reserved=reserved)
        except PyHankoSigningError as exc:
            if reserved is not None and "larger than expected" in str(exc):
                key.reservations.pop(shape, None)
                raise ReservationTooSmall(str(exc)) from exc
            raise
    margin = 2048 if level.timestamped else 256
    key.reservations[shape] = 2 * (signer.produced_size + margin)


async def extend(
    writer: IncrementalPdfFileWriter,
    key: SealKey,
    level: Level,
    output: IO[bytes],
    *,
    timestamper: Rfc3161TimeStamper,
    validation_context: Callable[[], ValidationContext],
) -> None:
    """Raise the last eLocal signature in the document to ``level`` (B-T, B-LT or B-LTA).

    PAdES reaches B-T on an existing signature with a document timestamp (EN 319 142-1
    allows either), B-LT by adding the validation data to the DSS, and B-LTA with a
    document timestamp over all of that.
    """
    if level is Level.B_B:
        raise NotAnElocalSignature("a signature cannot be extended to B-B")
    reader = writer.prev
    sig = _intact_own_signature(reader, key)
    field_name = sig.field_name
    ts_signer = signers.PdfTimeStamper(timestamper)
    has_ts = _has_signature_timestamp(sig) or bool(reader.embedded_timestamp_signatures)
    with _translated_errors():
        current = writer
        doc_timestamp: str | None = None
        if not has_ts:
            buf: IO[bytes] = io.BytesIO()
            await ts_signer.async_timestamp_pdf(current, "sha256", output=buf)
            current = IncrementalPdfFileWriter(buf, strict=False)
            sig = _signature_in_field(current.prev, field_name)
            doc_timestamp = current.prev.embedded_timestamp_signatures[-1].field_name
        if level.long_term:
            vc = validation_context()
            buf2 = io.BytesIO()
            await async_add_validation_info(sig, vc, output=buf2, force_write=True)
            current = IncrementalPdfFileWriter(buf2, strict=False)
            if doc_timestamp is not None:
                # The document timestamp just added is the seal's B-T evidence: B-LT
                # needs the validation data of its TSA chain in the DSS as well.
                ts_sig = _signature_in_field(current.prev, doc_timestamp)
                buf_ts = io.BytesIO()
                await async_add_validation_info(ts_sig, vc, output=buf_ts)
                current = IncrementalPdfFileWriter(buf_ts, strict=False)
            if level is Level.B_LTA:
                buf3 = io.BytesIO()
                await ts_signer.async_timestamp_pdf(current, "sha256", validation_context=vc,
                                                    output=buf3)
                current = IncrementalPdfFileWriter(buf3, strict=False)
        final = current.prev.stream if current is not writer else None
        if final is None:
            raise NotAnElocalSignature(f"the signature already reaches {level.value}")
        final.seek(0)
        while chunk := final.read(1 << 20):
            output.write(chunk)


def _intact_own_signature(reader: PdfFileReader, key: SealKey) -> EmbeddedPdfSignature:
    """The newest signature by ``key``, once shown to be intact and not altered since.

    Extending adds timestamps and validation data on the service's authority; doing so
    for a forged document (the seal's bytes changed, or content rewritten in a later
    revision) would lend the forgery fresh evidence.
    """
    own = key.asn1_certificate.dump()
    sigs = [s for s in reader.embedded_regular_signatures if s.signer_cert.dump() == own]
    if not sigs:
        raise NotAnElocalSignature("the PDF has no signature by this municipality's seal")
    sig: EmbeddedPdfSignature = sigs[-1]
    try:
        sig.compute_integrity_info()
        digest_ok, signature_ok = validate_sig_integrity(
            sig.signer_info, sig.signer_cert, "data", sig.compute_digest())
    except (PdfError, SignatureValidationError, ValueError, KeyError, TypeError) as exc:
        raise SignatureNotIntact(f"the seal cannot be checked: {exc}",
                                 field=sig.field_name) from None
    if not (digest_ok and signature_ok):
        raise SignatureNotIntact("the document bytes the seal covers have been changed",
                                 field=sig.field_name)
    if sig.coverage is None or sig.coverage < SignatureCoverageLevel.ENTIRE_REVISION:
        raise SignatureNotIntact("the seal does not cover its whole revision",
                                 field=sig.field_name)
    # pyHanko's diff policy passes some shadow attacks as form filling; eLocal's own
    # comparison (the validator's) allows only LTV data and later signatures.
    later = {s.field_name for s in reader.embedded_signatures
             if s.signed_revision > sig.signed_revision}
    changes = compare_revisions(reader, sig.signed_revision, later_signature_fields=later,
                                form_filling_allowed=False)
    if changes.errors:
        raise SignatureNotIntact("the document was modified after it was sealed: "
                                 + "; ".join(detail for _, detail in changes.errors[:3]),
                                 field=sig.field_name)
    return sig


def _signature_in_field(reader: PdfFileReader, field_name: str | None) -> EmbeddedPdfSignature:
    return next(s for s in reader.embedded_signatures if s.field_name == field_name)


def _check_may_sign(reader: PdfFileReader, certify: bool, visible: bool) -> None:
    """Refuse, as the caller's mistake, what pyHanko would only reject mid-signature.

    A certification must be the document's first signature, and an author who
    certified with "no changes" (``/P 1``) forbids any further signature. A new visible
    widget over signed pages is what an overlay attack looks like, so validators
    (eLocal's among them) fail the earlier signatures: such a seal must be invisible.
    """
    has_signatures = any(True for _ in fields.enumerate_sig_fields(reader, filled_status=True))
    if certify and has_signatures:
        raise CertifyNotAllowed("the PDF is already signed; only its first signature can "
                                "certify it (seal without certify)")
    if visible and has_signatures:
        raise StampOnSignedDocument("the PDF is already signed and a new visible stamp would "
                                    "invalidate those signatures; seal it without a stamp")
    try:
        cd = read_certification_data(reader)
    except (PdfError, ValueError, KeyError, TypeError) as exc:
        raise NotAPdf(f"the PDF's certification cannot be read: {exc}") from None
    if cd is not None and cd.permission == fields.MDPPerm.NO_CHANGES:
        raise DocumentLocked("the PDF is certified with no changes allowed (DocMDP P=1), so "
                             "no signature can be added without breaking it")


def _has_signature_timestamp(sig: EmbeddedPdfSignature) -> bool:
    unsigned = sig.signer_info["unsigned_attrs"]
    return any(a["type"].native == "signature_time_stamp_token" for a in unsigned or ())


class ReservationTooSmall(SigningError):
    """The learnt signature size was too small for this seal; seal again with estimation."""


class _translated_errors:
    """Map pyHanko and certvalidator failures to eLocal's problem codes."""

    def __enter__(self) -> None:
        return None

    def __exit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> Literal[False]:
        if exc is None or not isinstance(exc, Exception) or isinstance(exc, ElocalError):
            return False
        cause: BaseException | None = exc
        while cause is not None:
            if isinstance(cause, ElocalError):
                raise cause from None
            if isinstance(cause, PathValidationError | PathBuildingError):
                raise RevocationUnavailable(
                    f"the seal or TSA certificate could not be validated for the long-term "
                    f"level: {cause}") from exc
            cause = cause.__cause__ or cause.__context__
        if isinstance(exc, PyHankoSigningError):
            # Only an explicit revocation failure means a dependency is down; any other
            # refusal stays a signing failure rather than an invitation to retry later.
            if "revocation" in str(exc).lower():
                raise RevocationUnavailable(str(exc)) from exc
            raise SigningError(f"pyHanko could not sign: {exc}") from exc
        if isinstance(exc, PdfError):
            raise NotAPdf(f"the PDF cannot be processed: {exc}") from exc
        return False
