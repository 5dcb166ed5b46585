"""Errors of the registry, each with a stable ``code`` for clients."""

from __future__ import annotations

from infra.errors import ElocalError, Forbidden, InvalidInput, NotFound, PayloadTooLarge


class EntryNotFound(NotFound):
    code = "registry_entry_not_found"
    title = "No such registry entry"


class AttachmentNotFound(NotFound):
    code = "registry_attachment_not_found"
    title = "The entry has no attachment at that position"


class ReceiptNotFound(NotFound):
    code = "registry_receipt_not_found"
    title = "No receipt with that verification code"


class IdempotencyKeyReused(InvalidInput):
    code = "idempotency_key_reused"
    title = "The Idempotency-Key was already used for a different submission"


class InvalidSubmission(InvalidInput):
    code = "invalid_submission"
    title = "The submission is incomplete or malformed"


class UnknownUnit(InvalidInput):
    code = "unknown_unit"
    title = "The destination unit does not belong to this municipality"


class UnknownOffice(InvalidInput):
    code = "unknown_office"
    title = "The registry office does not belong to this municipality"


class InvalidSiaCode(InvalidInput):
    code = "invalid_sia_code"
    title = "Malformed SIA procedure code"


class AttachmentTooLarge(PayloadTooLarge):
    code = "attachment_too_large"
    title = "An attachment exceeds the per-file limit"


class EntryTooLarge(PayloadTooLarge):
    code = "entry_too_large"
    title = "The attachments exceed the per-entry limit"


class TooManyAttachments(PayloadTooLarge):
    code = "too_many_attachments"
    title = "Too many attachments"


class AttachmentTypeRejected(InvalidInput):
    code = "attachment_type_rejected"
    status = 415
    title = "An attachment's type is not accepted"


class AttachmentUnreadable(InvalidInput):
    code = "attachment_unreadable"
    title = "An attachment could not be read as its declared type"


class NotAllowed(Forbidden):
    code = "registry_forbidden"
    title = "Not allowed in this registry"


class AlreadyAnnulled(InvalidInput):
    code = "registry_entry_annulled"
    status = 409
    title = "The entry is already annulled"


class NotExchangeable(InvalidInput):
    code = "registry_not_exchangeable"
    title = "The entry does not fit the interchange format"


class StoredDocumentCorrupted(ElocalError):
    """A stored document no longer has the digest the registry recorded for it.

    The server's fault, never the client's: the blob store was altered behind the
    registry's back, and nothing that states the recorded digest may be produced.
    """

    code = "registry_document_corrupted"
    status = 500
    title = "A stored document does not match its recorded digest"
