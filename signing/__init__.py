"""Signing: PAdES and XAdES seals up to the long-term levels, and an RFC 3161 TSA.

``Sealer`` is the service other packages call; ``TimeStampAuthority`` answers
``/tsa``. Untrusted XML is parsed only through ``signing.xmlparse``.
"""

from signing.errors import (
    DocumentTooLarge,
    EncryptedPdf,
    NotAnElocalSignature,
    NotAPdf,
    RevocationUnavailable,
    SealNotConfigured,
    SigningError,
    TokenUnavailable,
    TooManyRevisions,
    TsaUnavailable,
    UnknownLevel,
    UnsupportedOption,
)
from signing.keys import CachedKeySigner, SealKey, TokenPrivateKey
from signing.levels import Level, Packaging
from signing.limits import SigningLimits
from signing.pades import Stamp
from signing.policy import AGE_1_9, SignaturePolicy
from signing.service import SealConfig, Sealer
from signing.threephase import PreSigned, ThreePhaseSigner
from signing.timestamps import HttpTimeStamper, LocalTimeStamper, Rfc3161TimeStamper
from signing.tsa import TimeStampAuthority

__all__ = [
    "AGE_1_9",
    "CachedKeySigner",
    "DocumentTooLarge",
    "EncryptedPdf",
    "HttpTimeStamper",
    "Level",
    "LocalTimeStamper",
    "NotAPdf",
    "NotAnElocalSignature",
    "Packaging",
    "PreSigned",
    "RevocationUnavailable",
    "Rfc3161TimeStamper",
    "SealConfig",
    "SealKey",
    "SealNotConfigured",
    "Sealer",
    "SignaturePolicy",
    "SigningError",
    "SigningLimits",
    "Stamp",
    "ThreePhaseSigner",
    "TimeStampAuthority",
    "TokenPrivateKey",
    "TokenUnavailable",
    "TooManyRevisions",
    "TsaUnavailable",
    "UnknownLevel",
    "UnsupportedOption",
]
