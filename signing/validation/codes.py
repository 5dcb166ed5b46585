"""Stable warning and error codes carried by validation reports.

Clients match on these strings, so they never change meaning; new situations get new
codes. Errors explain a non-passing indication; warnings never lower it on their own.
"""

from __future__ import annotations

# Input and format
FORMAT_UNKNOWN = "format_unknown"
INPUT_TOO_LARGE = "input_too_large"
LIMIT_EXCEEDED = "limit_exceeded"
MALFORMED_PDF = "malformed_pdf"
MALFORMED_XML = "malformed_xml"
XML_DTD_FORBIDDEN = "xml_dtd_forbidden"
NO_SIGNATURE = "no_signature"

# PDF structure
BYTE_RANGE_INVALID = "byte_range_invalid"
BYTE_RANGE_NOT_CONTENTS = "byte_range_gap_not_contents"
REVISION_NOT_COVERED = "revision_not_covered"
SIG_DICT_INCONSISTENT = "signature_dictionary_inconsistent"
SUBFILTER_UNSUPPORTED = "subfilter_unsupported"
CMS_MALFORMED = "cms_malformed"

# PDF modifications after signing
PAGES_ADDED = "pages_added"
PAGES_REMOVED = "pages_removed"
PAGE_CONTENT_CHANGED = "page_content_changed"
PAGE_TEXT_CHANGED = "page_text_changed"
TEXT_NOT_COMPARED = "rendered_text_not_compared"
ANNOTATION_ADDED = "annotation_added"
ANNOTATION_CHANGED = "annotation_changed"
ANNOTATION_REMOVED = "annotation_removed"
FORM_FILLED = "form_filled_after_signature"
CATALOG_CHANGED = "catalog_changed"
FIELD_ADDED = "field_added"
DIFF_LIMIT = "diff_limit_exceeded"
LTV_UPDATE = "ltv_update"
NEW_SIGNATURE_FIELD = "new_signature_field"
METADATA_CHANGED = "metadata_changed"
DOCMDP_VIOLATION = "docmdp_violation"

# Cryptography
HASH_MISMATCH = "hash_mismatch"
SIGNATURE_INVALID = "signature_invalid"
REFERENCE_DIGEST_MISMATCH = "reference_digest_mismatch"
WEAK_ALGORITHM = "weak_algorithm"
LEGACY_SHA1 = "legacy_sha1"

# XML signature structure (XSW defences)
DUPLICATE_ID = "duplicate_id"
SIGNED_DATA_NOT_FOUND = "signed_data_not_found"
MANIFEST_REFERENCE_FAILED = "manifest_reference_failed"
SIGNED_PROPERTIES_MISSING = "signed_properties_missing"
SIGNED_PROPERTIES_MISPLACED = "signed_properties_misplaced"
SIGNED_PROPERTIES_TYPE = "signed_properties_wrong_type"
REFERENCE_UNRESOLVED = "reference_unresolved"
UNSUPPORTED_TRANSFORM = "unsupported_transform"

# Signer and certificates
SIGNING_CERT_MISSING = "signing_certificate_missing"
SIGNING_CERT_MISMATCH = "signing_certificate_digest_mismatch"
CHAIN_UNTRUSTED = "chain_untrusted"
CHAIN_INVALID = "chain_invalid"
CERT_REVOKED = "certificate_revoked"
CERT_EXPIRED = "certificate_expired"
CERT_NOT_YET_VALID = "certificate_not_yet_valid"
REVOCATION_UNKNOWN = "revocation_unknown"

# Time
TIMESTAMP_INVALID = "timestamp_invalid"
TIMESTAMP_UNTRUSTED = "timestamp_untrusted"
TIMESTAMP_ORDER = "timestamp_order"
ARCHIVE_TIMESTAMP_NOT_EVALUATED = "archive_timestamp_not_evaluated"

# Policy
POLICY_UNKNOWN = "policy_unknown"
POLICY_HASH_MISMATCH = "policy_hash_mismatch"
POLICY_NOT_AVAILABLE = "policy_document_not_available"
POLICY_REQUIREMENT = "policy_requirement_missing"
