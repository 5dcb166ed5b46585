"""What each registry event puts in the municipality's Merkle log.

A leaf holds the public facts an auditor needs (office, year, kind, number,
instants, event kind) and SHA-256 digests of everything else, never personal data:
the log can be published while the entries themselves stay private. Whoever holds
an entry (the presenter with the receipt, or the registry database) can recompute
``content_sha256`` and check it against the leaf.

Leaves are plain JSON-able dicts; the log serialises them canonically (RFC 8785).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from registry import jcs
from registry.models import ANNULMENT, RegistryEntry, RegistryEvent

#: 2: registration leaves also commit to the entry's party keys (who may open it).
LEAF_VERSION = 2


def instant(value: datetime) -> str:
    """RFC 3339 UTC with microseconds: the form used in leaves, receipts and the API."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def canonical(value: Any) -> bytes:
    """RFC 8785 canonical JSON bytes, as the log hashes them."""
    return jcs.canonicalize(value)


def sha256_hex(value: Any) -> str:
    return hashlib.sha256(canonical(value)).hexdigest()


def entry_content(entry: RegistryEntry) -> dict[str, Any]:
    """Every fact of an entry, including personal data: digested, never logged."""
    return {
        "id": entry.id,
        "municipality": entry.municipality_code,
        "office": entry.office_code,
        "kind": entry.kind,
        "year": entry.year,
        "number": entry.number,
        "display_number": entry.display_number,
        "registered_at": instant(entry.registered_at),
        "effective_at": instant(entry.effective_at),
        "presenter": entry.presenter,
        "registrar": entry.registrar,
        "interested": entry.interested,
        "epigrafe": entry.epigrafe,
        "subject": entry.subject,
        "destination_unit": entry.destination_unit,
        "origin_unit": entry.origin_unit,
        "sia_code": entry.sia_code,
        "expediente": entry.expediente,
        "expone": entry.expone,
        "solicita": entry.solicita,
        "rectifies": entry.rectifies_id,
        "attachments": [
            {"name": a.name, "size": a.size, "mime": a.mime, "sha256": a.sha256}
            for a in entry.attachments
        ],
    }


def parties_sha256(keys: Iterable[str]) -> str:
    """Digest of the keys under which people find an entry (``registry_party`` rows)."""
    return sha256_hex(sorted(set(keys)))


def registration_leaf(entry: RegistryEntry, event_kind: str | None,
                      parties: Iterable[str], *, version: int = LEAF_VERSION) -> dict[str, Any]:
    """The leaf of a registration or rectification (a new entry with a new number).

    It commits to the party keys too: a row added to ``registry_party`` would let
    someone else open the entry, so it must not go unnoticed by the audit. Leaves
    logged as version 1 are rebuilt as such (``version``), without that digest.
    """
    leaf = {
        "v": version,
        "event": event_kind,
        "entry": entry.id,
        "municipality": entry.municipality_code,
        "office": entry.office_code,
        "kind": entry.kind,
        "year": entry.year,
        "number": entry.number,
        "display_number": entry.display_number,
        "registered_at": instant(entry.registered_at),
        "effective_at": instant(entry.effective_at),
        "rectifies": entry.rectifies_id,
        "attachments": [a.sha256 for a in entry.attachments],
        "content_sha256": sha256_hex(entry_content(entry)),
    }
    if version >= 2:
        leaf["parties_sha256"] = parties_sha256(parties)
    return leaf


def annulment_leaf(entry: RegistryEntry, event: RegistryEvent) -> dict[str, Any]:
    """The leaf of an annulment: which entry, when, and digests of actor and reason."""
    assert event.kind == ANNULMENT
    return {
        "v": LEAF_VERSION,
        "event": ANNULMENT,
        "entry": entry.id,
        "municipality": entry.municipality_code,
        "office": entry.office_code,
        "kind": entry.kind,
        "year": entry.year,
        "number": entry.number,
        "at": instant(event.at),
        "actor_sha256": sha256_hex(event.actor),
        "reason_sha256": sha256_hex(event.reason or ""),
    }
