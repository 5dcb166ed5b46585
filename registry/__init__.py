"""The electronic registry of entries and exits (Ley 39/2015 art. 16 and 31).

``Registry`` registers entries and exits with gapless numbering, official time and
sealed receipts, rectifies and annuls them, and answers queries; ``registry.log``
keeps the tamper-evident Merkle log every registry event is appended to;
``registry.interchange`` renders entries as SICRES 3.0 and receipts as ENI documents.
"""

from registry.attachments import AttachmentLimits, StoredAttachment, Upload
from registry.audit import Auditor, AuditReport, Finding
from registry.checkpoint import Verifier
from registry.errors import (
    AlreadyAnnulled,
    AttachmentTooLarge,
    AttachmentTypeRejected,
    AttachmentUnreadable,
    EntryNotFound,
    EntryTooLarge,
    InvalidSiaCode,
    InvalidSubmission,
    NotAllowed,
    NotExchangeable,
    ReceiptNotFound,
    TooManyAttachments,
    UnknownOffice,
    UnknownUnit,
)
from registry.interchange import ENI, SICRES3, Export
from registry.log import RegistryLog, SignedCheckpoint
from registry.models import (
    ENTRY,
    EXIT,
    RegistryAttachment,
    RegistryCounter,
    RegistryEntry,
    RegistryEvent,
    RegistryParty,
)
from registry.officialtime import effective_instant, official_time
from registry.service import Registered, Registry, SearchFilters, Submission

__all__ = [
    "ENI",
    "ENTRY",
    "EXIT",
    "SICRES3",
    "AlreadyAnnulled",
    "AttachmentLimits",
    "AttachmentTooLarge",
    "AttachmentTypeRejected",
    "AttachmentUnreadable",
    "AuditReport",
    "Auditor",
    "EntryNotFound",
    "EntryTooLarge",
    "Export",
    "Finding",
    "InvalidSiaCode",
    "InvalidSubmission",
    "NotAllowed",
    "NotExchangeable",
    "ReceiptNotFound",
    "Registered",
    "Registry",
    "RegistryAttachment",
    "RegistryCounter",
    "RegistryEntry",
    "RegistryEvent",
    "RegistryLog",
    "RegistryParty",
    "SearchFilters",
    "SignedCheckpoint",
    "StoredAttachment",
    "Submission",
    "TooManyAttachments",
    "UnknownOffice",
    "UnknownUnit",
    "Upload",
    "Verifier",
    "effective_instant",
    "official_time",
]
