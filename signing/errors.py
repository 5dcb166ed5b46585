"""What can go wrong while sealing or timestamping, as stable problem codes.

Each class is a client-visible ``code``. A caller's mistake (bad document, unknown
level) is a 4xx; a dependency that is down (a TSA, a revocation source, a token)
is a 503, and never turns into a silently weaker signature.
"""

from __future__ import annotations

from infra.errors import ElocalError, InvalidInput, PayloadTooLarge, ServiceUnavailable


class SigningError(ElocalError):
    code = "signing_failed"
    status = 500
    title = "The document could not be signed"


class UnknownLevel(InvalidInput):
    code = "unknown_signature_level"
    title = "Unknown signature level"


class UnsupportedOption(InvalidInput):
    code = "unsupported_signature_option"
    title = "The requested signature option is not supported"


class NotAPdf(InvalidInput):
    code = "not_a_pdf"
    title = "The document is not a readable PDF"


class EncryptedPdf(InvalidInput):
    code = "encrypted_pdf"
    title = "Encrypted PDFs cannot be sealed"


class TooManyRevisions(InvalidInput):
    code = "too_many_pdf_revisions"
    title = "The PDF has more revisions than allowed"


class DocumentTooLarge(PayloadTooLarge):
    code = "document_too_large"
    title = "The document exceeds the maximum size"


class NotAnElocalSignature(InvalidInput):
    code = "not_an_elocal_signature"
    title = "The document carries no signature this service can extend"


class SealNotConfigured(ElocalError):
    code = "seal_not_configured"
    status = 409
    title = "The municipality has no electronic seal configured"


class TsaUnavailable(ServiceUnavailable):
    code = "tsa_unavailable"
    title = "The time-stamping authority is unavailable"


class RevocationUnavailable(ServiceUnavailable):
    code = "revocation_unavailable"
    title = "Revocation information for the long-term level could not be obtained"


class TokenUnavailable(ServiceUnavailable):
    code = "token_unavailable"
    title = "The hardware token holding the seal key is unavailable"


class ExistingSignatureWouldBreak(InvalidInput):
    code = "existing_signature_would_break"
    title = "Sealing this way would invalidate a signature the document already carries"


class StampOnSignedDocument(InvalidInput):
    code = "stamp_on_signed_document"
    title = "A visible stamp would cover a document that is already signed"


class SignatureNotIntact(InvalidInput):
    code = "signature_not_intact"
    title = "The signature to extend does not match the document"


class CertifyNotAllowed(InvalidInput):
    code = "certification_not_allowed"
    title = "Only the first signature of a PDF can certify it"


class DocumentLocked(InvalidInput):
    code = "document_locked_by_certification"
    title = "The PDF's certification forbids adding signatures"


class StampFontMissing(ServiceUnavailable):
    code = "stamp_font_unavailable"
    title = "The font for visible stamps on PDF/A documents is not installed"
