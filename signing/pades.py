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
from pyhanko.sign.validation import EmbeddedPdfSignature
from pyhanko.sign.validation.dss import async_add_validation_info
from pyhanko.stamp import QRStampStyle, TextStampStyle
from pyhanko_certvalidator import ValidationContext
from pyhanko_certvalidator.errors import PathBuildingError, PathValidationError

from infra.errors import ElocalError
from signing.errors import (
    EncryptedPdf,
    NotAnElocalSignature,
    NotAPdf,
    RevocationUnavailable,
    SigningError,
    TooManyRevisions,
    TsaUnavailable,
)
from signing.keys import SealKey
from signing.levels import Level
from signing.limits import SigningLimits
from signing.policy import AGE_1_9, SignaturePolicy
from signing.timestamps import Rfc3161TimeStamper

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
    age_policy: bool = False,
    reason: str | None = None,
    location: str | None = None,
) -> None:
    """Sign ``writer`` with ``key`` at ``level`` and write the result to ``output``."""
    if level.timestamped and timestamper is None:
        raise TsaUnavailable("no TSA is configured for a timestamped level")
    existing = {name for name, *_ in fields.enumerate_sig_fields(writer.prev)}
    field_name = next(f"Seal{i}" for i in range(1, 10_000) if f"Seal{i}" not in existing)
    meta = signers.PdfSignatureMetadata(
        field_name=field_name,
        md_algorithm="sha256",
        subfilter=fields.SigSeedSubFilter.PADES,
        certify=certify,
        docmdp_permissions=fields.MDPPerm.FILL_FORMS,
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
        style = _stamp_style(stamp, is_pdfa(writer.prev), stamp_font())
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
    reader = writer.prev
    sigs = [s for s in reader.embedded_regular_signatures
            if s.signer_cert.dump() == key.asn1_certificate.dump()]
    if not sigs:
        raise NotAnElocalSignature("the PDF has no signature by this municipality's seal")
    sig: EmbeddedPdfSignature = sigs[-1]
    if level is Level.B_B:
        raise NotAnElocalSignature("a signature cannot be extended to B-B")
    ts_signer = signers.PdfTimeStamper(timestamper)
    has_ts = _has_signature_timestamp(sig) or bool(reader.embedded_timestamp_signatures)
    with _translated_errors():
        buf: IO[bytes] = io.BytesIO()
        current = writer
        if not has_ts:
            await ts_signer.async_timestamp_pdf(current, "sha256", output=buf)
            current = IncrementalPdfFileWriter(buf, strict=False)
            sig = current.prev.embedded_regular_signatures[-1]
        if level.long_term:
            vc = validation_context()
            buf2 = io.BytesIO()
            await async_add_validation_info(sig, vc, output=buf2, force_write=True)
            current = IncrementalPdfFileWriter(buf2, strict=False)
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
            if "revocation" in str(exc).lower() or "validat" in str(exc).lower():
                raise RevocationUnavailable(str(exc)) from exc
            raise SigningError(f"pyHanko could not sign: {exc}") from exc
        if isinstance(exc, PdfError):
            raise NotAPdf(f"the PDF cannot be processed: {exc}") from exc
        return False
