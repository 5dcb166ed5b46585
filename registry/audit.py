"""Auditing a municipality's registry log from the outside.

``Auditor`` needs nothing but the public HTTP API: it verifies every checkpoint's
signature (and RFC 3161 imprint), recomputes every root from the leaves, checks the
server's consistency and inclusion proofs, checks the registry rules the leaves
encode (numbering 1..N per office, year and kind; instants that never decrease;
references to earlier entries) and compares the log with the leaves the server
recomputes from its current rows. Every finding is a ``Finding`` with a stable
``code``, so scripts can act on them.

``recomputed_leaves`` is the server side of that last comparison: the leaf each
current registry row would produce today, so that a row deleted, edited or swapped
in the database no longer matches what the log committed to.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
from asn1crypto import cms, tsp
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID
from sqlalchemy import select
from sqlalchemy.orm import Session

from registry import jcs, merkle
from registry.checkpoint import CheckpointError, Verifier, open_note, parse_checkpoint
from registry.leaves import LEAF_VERSION
from registry.log import MAX_LEAF_PAGE

__all__ = ["AuditReport", "Auditor", "Finding", "recomputed_leaves"]

MADRID = ZoneInfo("Europe/Madrid")
#: Seconds a checkpoint may stay without a covering RFC 3161 time-stamp: the log
#: stamps within about a second, this leaves room for a TSA outage and its retries.
DEFAULT_TIMESTAMP_GRACE = 600.0
#: Events that create an entry and therefore take a number.
NUMBERED_EVENTS = ("registration", "rectification")


# --- server side -----------------------------------------------------------------------------


def recomputed_leaves(session: Session, municipality_code: str, start: int,
                      end: int) -> list[dict[str, Any]]:
    """The canonical leaf each current registry row produces, for leaf indexes in [start, end).

    A registration leaf is rebuilt from the entry row, its event row (which says
    whether it registers or rectifies, and what) and its party rows, so deleting or
    editing any of them makes the leaf differ from the one the log committed to.
    """
    from registry.leaves import annulment_leaf, registration_leaf
    from registry.models import (
        ANNULMENT,
        RECTIFICATION,
        REGISTRATION,
        RegistryEntry,
        RegistryEvent,
        RegistryParty,
    )

    end = min(end, start + MAX_LEAF_PAGE)
    out: list[tuple[int, str]] = []
    entries = list(session.execute(
        select(RegistryEntry).where(RegistryEntry.municipality_code == municipality_code,
                                    RegistryEntry.leaf_index >= start,
                                    RegistryEntry.leaf_index < end)
    ).scalars())
    ids = [e.id for e in entries]
    numbered: dict[tuple[str, int], RegistryEvent] = {}
    parties: dict[str, list[str]] = {}
    for chunk in (ids[i:i + 500] for i in range(0, len(ids), 500)):
        for row in session.scalars(select(RegistryEvent).where(
                RegistryEvent.entry_id.in_(chunk),
                RegistryEvent.kind.in_((REGISTRATION, RECTIFICATION)))):
            numbered[(row.entry_id, row.leaf_index)] = row
        for entry_id, key in session.execute(select(
                RegistryParty.entry_id, RegistryParty.party_key).where(
                RegistryParty.entry_id.in_(chunk))):
            parties.setdefault(entry_id, []).append(key)
    versions = _logged_versions(session, municipality_code, start, end)
    for entry in entries:
        ev = numbered.get((entry.id, entry.leaf_index))
        leaf = registration_leaf(entry, ev.kind if ev else None, parties.get(entry.id, []),
                                 version=versions.get(entry.leaf_index, LEAF_VERSION))
        if ev is None or ev.related_id != entry.rectifies_id or (
                (ev.kind == RECTIFICATION) != (entry.rectifies_id is not None)):
            # The event row is gone or names another original: say so in the leaf.
            leaf["rectifies"] = ev.related_id if ev else None
            leaf["event"] = ev.kind if ev else None
        out.append((entry.leaf_index, jcs.canonical_text(leaf)))
    events = session.execute(
        select(RegistryEvent, RegistryEntry)
        .join(RegistryEntry, RegistryEntry.id == RegistryEvent.entry_id)
        .where(RegistryEvent.municipality_code == municipality_code,
               RegistryEvent.kind == ANNULMENT,
               RegistryEvent.leaf_index >= start, RegistryEvent.leaf_index < end)
    ).all()
    for event, entry in events:
        out.append((event.leaf_index, jcs.canonical_text(annulment_leaf(entry, event))))
    out.sort(key=lambda item: item[0])
    return [{"index": i, "data": d} for i, d in out]


def _logged_versions(session: Session, municipality_code: str, start: int,
                     end: int) -> dict[int, int]:
    """The format version of each logged leaf in [start, end), to rebuild it alike."""
    from registry.log import LogLeaf

    out: dict[int, int] = {}
    for index, data in session.execute(select(LogLeaf.leaf_index, LogLeaf.data).where(
            LogLeaf.municipality_code == municipality_code,
            LogLeaf.leaf_index >= start, LogLeaf.leaf_index < end)):
        leaf = _parse_leaf(data)
        version = leaf.get("v") if leaf is not None else None
        if isinstance(version, int) and 1 <= version <= LEAF_VERSION:
            out[index] = version
    return out


# --- client side -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Finding:
    """One problem found by the audit; ``code`` is stable, ``detail`` is for people."""

    code: str
    detail: str
    index: int | None = None

    def __str__(self) -> str:
        where = f" [leaf {self.index}]" if self.index is not None else ""
        return f"{self.code}{where}: {self.detail}"


@dataclass
class AuditReport:
    municipality: str
    origin: str = ""
    verifier_key: str = ""
    fingerprint: str = ""
    size: int = 0
    checkpoints: int = 0
    #: Time-stamp tokens whose signature and imprint verified.
    timestamps: int = 0
    series: dict[str, int] = field(default_factory=dict)
    findings: list[Finding] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.findings

    def add(self, code: str, detail: str, index: int | None = None) -> None:
        self.findings.append(Finding(code, detail, index))

    def codes(self) -> set[str]:
        return {f.code for f in self.findings}

    def summary(self, per_code: int = 10) -> list[str]:
        """Human lines: the totals, then at most ``per_code`` findings per code."""
        lines = [
            f"log {self.origin}",
            f"key {self.verifier_key} (sha256 {self.fingerprint})",
            f"{self.size} leaves, {self.checkpoints} checkpoints, "
            f"{self.timestamps} RFC 3161 time-stamps",
        ]
        for name, n in sorted(self.series.items()):
            lines.append(f"series {name}: 1..{n}")
        shown: dict[str, int] = {}
        for f in self.findings:
            shown[f.code] = shown.get(f.code, 0) + 1
            if shown[f.code] <= per_code:
                lines.append(f"PROBLEM {f}")
        for code, n in shown.items():
            if n > per_code:
                lines.append(f"PROBLEM {code}: {n - per_code} more")
        lines.append("audit passed" if self.ok else f"audit FAILED: {len(self.findings)} problems")
        return lines


@dataclass
class _Checkpoint:
    size: int
    root: bytes
    note: str
    gen_time: datetime | None
    created_at: datetime | None = None
    #: Whether a token was served at all (one that fails to verify is reported as such).
    has_token: bool = False


@dataclass
class _Series:
    last: int = 0
    seen: set[int] = field(default_factory=set)
    registered_at: str = ""
    effective_at: str = ""


class Auditor:
    """Audits one municipality's log through ``client`` (an ``httpx.Client`` on the API)."""

    def __init__(self, client: httpx.Client, municipality: str, *,
                 pinned_key: str | None = None, workers: int = 8,
                 tsa_roots: Sequence[x509.Certificate] | None = None,
                 known_checkpoints: Sequence[str] = (),
                 timestamp_grace: float = DEFAULT_TIMESTAMP_GRACE,
                 progress: Callable[[str], None] | None = None) -> None:
        self.client = client
        self.municipality = municipality
        self.pinned = Verifier.parse(pinned_key) if pinned_key else None
        #: Trust anchors for the checkpoints' time-stamps; None checks signatures only.
        self.tsa_roots = list(tsa_roots) if tsa_roots is not None else None
        #: Signed notes kept from earlier (a receipt, a previous audit, a witness): the log
        #: must still contain them, which is what exposes a truncated or forked log.
        self.known = list(known_checkpoints)
        #: Seconds a checkpoint may wait for a time-stamp (its own or a later one's).
        self.timestamp_grace = timestamp_grace
        self.workers = max(1, workers)
        self.progress = progress or (lambda _msg: None)
        self.base = f"/registry/{municipality}/log"
        self.report = AuditReport(municipality)
        self._latest_note: str | None = None

    def _get(self, path: str, **params: Any) -> Any:
        resp = self.client.get(self.base + path, params=params)
        if resp.status_code != 200:
            raise AuditAborted(f"GET {self.base}{path} answered {resp.status_code}: "
                               f"{resp.text[:200]}")
        return resp.json()

    def run(self) -> AuditReport:
        r = self.report
        verifier = self._key()
        checkpoints = self._checkpoints(verifier)
        r.checkpoints = len(checkpoints)
        self._timestamp_coverage(checkpoints)
        self._latest_note = checkpoints[-1].note if checkpoints else None
        size = checkpoints[-1].size if checkpoints else 0
        served = self._get("/checkpoints", after=2**53 - 1)["size"]
        if served < size:
            r.add("log_shrunk", f"the log reports {served} leaves, its checkpoint {size}")
        size = max(size, served)
        r.size = size
        if size and not checkpoints:
            r.add("checkpoint_missing", f"{size} leaves and no checkpoint")
        self.progress(f"fetching {size} leaves")
        data = self._leaves(size)
        hashes = [merkle.leaf_hash(d.encode()) if d is not None else None for d in data]
        self._roots(hashes, checkpoints)
        self._known(verifier, hashes)
        self.progress("checking proofs")
        self._consistency(checkpoints)
        if checkpoints:
            self._inclusion(hashes, checkpoints[-1])
        self._registry_rules(data)
        self._compare_rows(data)
        return r

    # -- key and checkpoints --

    def _key(self) -> Verifier:
        served = self._get("/key")
        r = self.report
        r.origin = served.get("origin", "")
        try:
            verifier = Verifier.parse(served["verifier_key"])
        except (CheckpointError, KeyError):
            verifier = None
            r.add("key_invalid", "the served log key is not a valid Ed25519 note verifier key")
        if self.pinned is not None:
            if verifier is None or str(verifier) != str(self.pinned):
                r.add("key_mismatch", f"the server's key differs from the pinned {self.pinned}")
            verifier = self.pinned
        if verifier is None:
            raise AuditAborted("no usable log key")
        if verifier.name != r.origin:
            r.add("origin_mismatch", f"key name {verifier.name} is not the origin {r.origin}")
        r.verifier_key, r.fingerprint = str(verifier), verifier.fingerprint
        return verifier

    def _checkpoints(self, verifier: Verifier) -> list[_Checkpoint]:
        r = self.report
        out: list[_Checkpoint] = []
        after = -1
        while True:
            page = self._get("/checkpoints", after=after)["checkpoints"]
            if not page:
                return out
            for item in page:
                size = int(item["size"])
                if size <= after:
                    r.add("checkpoint_order", f"checkpoint {size} served after {after}")
                    continue
                after = size
                cp = self._checkpoint(item, verifier)
                if cp is None:
                    continue
                if out and cp.gen_time and out[-1].gen_time and cp.gen_time < out[-1].gen_time:
                    r.add("timestamp_decreased",
                          f"checkpoint {cp.size} is time-stamped before checkpoint {out[-1].size}")
                out.append(cp)

    def _timestamp_coverage(self, checkpoints: Sequence[_Checkpoint]) -> None:
        """Every checkpoint must be dated by an RFC 3161 token within the grace period.

        A token on a checkpoint dates every leaf below it, so a checkpoint without
        its own token is covered by the next one with a token, if that token is no
        more than ``timestamp_grace`` seconds younger; one that nothing covers yet is
        still in time while it is younger than the grace period. Anything else has
        leaves no trusted time vouches for.
        """
        now = datetime.now(UTC)
        grace = timedelta(seconds=self.timestamp_grace)
        covering: datetime | None = None
        for cp in reversed(checkpoints):
            if cp.gen_time is not None:
                covering = cp.gen_time
                continue
            if cp.has_token:
                continue
            created = cp.created_at or now
            if covering is not None and covering - created <= grace:
                continue
            if covering is None and now - created <= grace:
                continue
            self.report.add("checkpoint_not_timestamped",
                            f"checkpoint {cp.size} (created {created.isoformat()}) has no RFC "
                            f"3161 time-stamp within {self.timestamp_grace:g} s, on it or on "
                            "a later checkpoint")

    def _checkpoint(self, item: dict[str, Any], verifier: Verifier) -> _Checkpoint | None:
        r = self.report
        size, note = int(item["size"]), str(item["note"])
        try:
            body = parse_checkpoint(open_note(note, verifier))
        except CheckpointError as exc:
            r.add("checkpoint_signature_invalid", f"checkpoint {size}: {exc.detail}")
            return None
        if body.origin != verifier.name:
            r.add("origin_mismatch", f"checkpoint {size} is for {body.origin}")
        if body.size != size:
            r.add("checkpoint_invalid", f"checkpoint served as {size} signs size {body.size}")
            return None
        gen_time = None
        if item.get("timestamp"):
            gen_time = self._timestamp(size, note, base64.b64decode(item["timestamp"]))
        return _Checkpoint(size, body.root, note, gen_time, _created_at(item.get("created_at")),
                           bool(item.get("timestamp")))

    def _timestamp(self, size: int, note: str, der: bytes) -> datetime | None:
        """Check the RFC 3161 token: its signature, its signer and that it covers this note."""
        r = self.report
        try:
            token = cms.ContentInfo.load(der)
            info = token["content"]["encap_content_info"]["content"].parsed
            if not isinstance(info, tsp.TSTInfo):
                raise ValueError("not a TSTInfo")
            imprint = info["message_imprint"]
            algo = imprint["hash_algorithm"]["algorithm"].native
            digest = imprint["hashed_message"].native
            gen_time: datetime = info["gen_time"].native
            signer, chain = _token_signer(token)
        except (ValueError, KeyError, TypeError, StopIteration, InvalidSignature) as exc:
            r.add("timestamp_invalid", f"checkpoint {size}: the time-stamp token does not "
                  f"verify ({exc or type(exc).__name__})")
            return None
        if algo != "sha256" or digest != hashlib.sha256(note.encode()).digest():
            r.add("timestamp_mismatch", f"checkpoint {size}: the time-stamp is over other data")
        if self.tsa_roots is not None:
            problem = _untrusted(signer, chain, self.tsa_roots)
            if problem:
                r.add("timestamp_untrusted", f"checkpoint {size}: {problem}")
        r.timestamps += 1
        return gen_time

    # -- leaves and roots --

    def _leaves(self, size: int) -> list[str | None]:
        r = self.report
        data: list[str | None] = [None] * size
        start = 0
        while start < size:
            end = min(size, start + MAX_LEAF_PAGE)
            page = self._get("/leaves", start=start, end=end)["leaves"]
            expected = start
            for item in page:
                i, text = int(item["index"]), str(item["data"])
                if not start <= i < end:
                    r.add("leaf_out_of_range", f"leaf {i} served for [{start}, {end})", i)
                    continue
                if i < expected or data[i] is not None:
                    r.add("leaf_duplicate", "the same index was served twice", i)
                    continue
                data[i] = text
                expected = i + 1
            start = end
        for i, d in enumerate(data):
            if d is None:
                r.add("leaf_missing", "the log has no leaf at this index", i)
        return data

    def _roots(self, hashes: Sequence[bytes | None], checkpoints: Sequence[_Checkpoint]) -> None:
        compact = merkle.CompactRange()
        wanted = iter(checkpoints)
        cp = next(wanted, None)
        for h in hashes:
            if cp is None:
                break
            compact.append(h if h is not None else b"\0" * 32)
            while cp is not None and cp.size == compact.size:
                if compact.root() != cp.root:
                    self.report.add("root_mismatch",
                                    f"the leaves do not hash to the root signed at size {cp.size}")
                cp = next(wanted, None)

    def _known(self, verifier: Verifier, hashes: Sequence[bytes | None]) -> None:
        for note in self.known:
            try:
                cp = parse_checkpoint(open_note(note, verifier))
            except CheckpointError as exc:
                self.report.add("known_checkpoint_invalid", exc.detail)
                continue
            if cp.size > len(hashes):
                self.report.add("log_truncated", f"a checkpoint of size {cp.size} was issued; "
                                f"the log now has {len(hashes)} leaves")
                continue
            prefix = [h if h is not None else b"\0" * 32 for h in hashes[:cp.size]]
            if merkle.root_from_leaf_hashes(prefix) != cp.root:
                self.report.add("log_forked", f"the log's first {cp.size} leaves do not hash "
                                "to the root of the known checkpoint")

    def latest_note(self) -> str | None:
        """The latest signed checkpoint seen, to keep for the next audit."""
        return self._latest_note

    def _consistency(self, checkpoints: Sequence[_Checkpoint]) -> None:
        """Every checkpoint must be a prefix of the newest: pairwise consistency follows."""
        if len(checkpoints) < 2:
            return
        latest = checkpoints[-1]
        earlier = {cp.size: cp for cp in checkpoints[:-1]}
        pages = sorted({(size - 1) // MAX_LEAF_PAGE for size in earlier})

        def check(page: int) -> list[Finding]:
            start = max(1, page * MAX_LEAF_PAGE)
            end = (page + 1) * MAX_LEAF_PAGE
            wanted = {m for m in earlier if start <= m < end}
            try:
                proofs = self._get("/proofs/consistency", second=latest.size, start=start,
                                   end=end)["proofs"]
            except AuditAborted as exc:
                return [Finding("proof_unavailable", str(exc))]
            found: list[Finding] = []
            for item in proofs:
                first = int(item["first"])
                cp = earlier.get(first)
                if cp is None or first not in wanted:
                    continue
                wanted.discard(first)
                try:
                    merkle.verify_consistency(first, latest.size, cp.root, latest.root,
                                              _hashes(item))
                except merkle.ProofError as exc:
                    found.append(Finding("consistency_proof_failed",
                                         f"{first} → {latest.size}: {exc}"))
            found += [Finding("proof_unavailable", f"no consistency proof from size {m}")
                      for m in sorted(wanted)]
            return found

        self.report.findings.extend(self._parallel(check, pages))

    def _inclusion(self, hashes: Sequence[bytes | None], cp: _Checkpoint) -> None:
        """The server's audit path of every leaf must lead to the newest signed root."""
        size = min(cp.size, len(hashes))
        pages = range(0, size, MAX_LEAF_PAGE)

        def check(start: int) -> list[Finding]:
            end = min(size, start + MAX_LEAF_PAGE)
            try:
                proofs = self._get("/proofs/inclusion", size=cp.size, start=start,
                                   end=end)["proofs"]
            except AuditAborted as exc:
                return [Finding("proof_unavailable", str(exc))]
            found: list[Finding] = []
            seen = set()
            for item in proofs:
                i = int(item["index"])
                leaf = hashes[i] if start <= i < end else None
                if leaf is None or i in seen:
                    continue
                seen.add(i)
                try:
                    merkle.verify_inclusion(leaf, i, cp.size, _hashes(item), cp.root)
                except merkle.ProofError as exc:
                    found.append(Finding("inclusion_proof_failed",
                                         f"against checkpoint {cp.size}: {exc}", i))
            found += [Finding("proof_unavailable", "no inclusion proof", i)
                      for i in range(start, end) if hashes[i] is not None and i not in seen]
            return found

        self.report.findings.extend(self._parallel(check, pages))

    def _parallel(self, fn: Callable[[Any], list[Finding]],
                  items: Sequence[Any]) -> list[Finding]:
        with ThreadPoolExecutor(self.workers) as pool:
            return [f for found in pool.map(fn, items) for f in found]

    # -- registry rules --

    def _registry_rules(self, data: Sequence[str | None]) -> None:
        r = self.report
        series: dict[tuple[str, int, str], _Series] = {}
        entries: dict[str, dict[str, Any]] = {}
        annulled: set[str] = set()
        last_instant = ""
        for i, text in enumerate(data):
            if text is None:
                continue
            leaf = _parse_leaf(text)
            if leaf is None:
                r.add("leaf_malformed", "not a JSON object", i)
                continue
            if jcs.canonical_text(leaf) != text:
                r.add("leaf_not_canonical", "the leaf bytes are not RFC 8785 canonical", i)
            if leaf.get("municipality") != self.municipality:
                r.add("leaf_wrong_municipality", f"leaf is for {leaf.get('municipality')}", i)
            event = leaf.get("event")
            try:
                if event in NUMBERED_EVENTS:
                    self._numbered(i, leaf, series, entries, annulled)
                    at = _instant(leaf["registered_at"])
                elif event == "annulment":
                    self._annulment(i, leaf, entries, annulled)
                    at = _instant(leaf["at"])
                else:
                    r.add("leaf_malformed", f"unknown event {event!r}", i)
                    continue
                # One lock orders every office's events, so time never goes back along
                # the municipality's log, whichever series each leaf belongs to.
                if at < last_instant:
                    r.add("instant_decreased", f"{event} at {at} follows an event of "
                          f"{last_instant} in the log", i)
                last_instant = max(last_instant, at)
            except (KeyError, TypeError, ValueError) as exc:
                r.add("leaf_malformed", f"missing or bad field: {exc}", i)
        for (office, year, kind), s in sorted(series.items()):
            r.series[f"{office}/{year}/{kind}"] = s.last
            missing = sorted(set(range(1, s.last + 1)) - s.seen)
            if missing:
                r.add("number_gap", f"{office} {year} {kind}: numbers {_ranges(missing)} "
                      "are missing")

    def _numbered(self, i: int, leaf: dict[str, Any], series: dict[tuple[str, int, str], _Series],
                  entries: dict[str, dict[str, Any]], annulled: set[str]) -> None:
        r = self.report
        key = (str(leaf["office"]), int(leaf["year"]), str(leaf["kind"]))
        number = int(leaf["number"])
        name = f"{key[0]} {key[1]} {key[2]}"
        s = series.setdefault(key, _Series())
        if number in s.seen:
            r.add("number_duplicate", f"{name} number {number} appears twice", i)
        elif number < s.last:
            r.add("number_reordered", f"{name} number {number} comes after {s.last}", i)
        s.seen.add(number)
        s.last = max(s.last, number)
        registered = _instant(leaf["registered_at"])
        effective = _instant(leaf["effective_at"])
        if s.registered_at and registered < s.registered_at:
            r.add("instant_decreased",
                  f"{name} number {number} registered at {leaf['registered_at']}, before "
                  f"the previous entry ({s.registered_at})", i)
        if s.effective_at and effective < s.effective_at:
            r.add("instant_decreased",
                  f"{name} number {number} effective at {leaf['effective_at']}, before "
                  f"the previous entry ({s.effective_at})", i)
        if effective < registered:
            r.add("instant_decreased", f"{name} number {number} is effective before it was "
                  "registered", i)
        s.registered_at = max(s.registered_at, registered)
        s.effective_at = max(s.effective_at, effective)
        year = datetime.fromisoformat(registered.replace("Z", "+00:00")).astimezone(MADRID).year
        if year != key[1]:
            r.add("year_mismatch", f"{name} number {number} was registered in {year}", i)
        entry_id = str(leaf["entry"])
        if entry_id in entries:
            r.add("entry_duplicate", f"entry {entry_id} is registered twice", i)
        rectifies = leaf.get("rectifies")
        if rectifies is not None and str(rectifies) not in entries:
            r.add("reference_unknown", f"rectifies {rectifies}, not registered before", i)
        elif rectifies is not None and str(rectifies) in annulled:
            r.add("rectifies_annulled", f"rectifies {rectifies}, which was annulled before", i)
        entries[entry_id] = leaf

    def _annulment(self, i: int, leaf: dict[str, Any], entries: dict[str, dict[str, Any]],
                   annulled: set[str]) -> None:
        r = self.report
        entry_id = str(leaf["entry"])
        target = entries.get(entry_id)
        if target is None:
            r.add("reference_unknown", f"annuls {entry_id}, not registered before", i)
            return
        if any(leaf[k] != target[k] for k in ("office", "year", "kind", "number")):
            r.add("reference_mismatch", f"annulment of {entry_id} names another number", i)
        if entry_id in annulled:
            r.add("annulled_twice", f"entry {entry_id} is annulled again", i)
        annulled.add(entry_id)
        if _instant(leaf["at"]) < _instant(target["registered_at"]):
            r.add("instant_decreased", f"entry {entry_id} annulled before it was registered", i)

    # -- log against current rows --

    def _compare_rows(self, data: Sequence[str | None]) -> None:
        r = self.report
        size = len(data)
        found: dict[int, list[str]] = {}
        start = 0
        while True:
            page = self._get("/entries", start=start, end=start + MAX_LEAF_PAGE)["leaves"]
            for item in page:
                found.setdefault(int(item["index"]), []).append(str(item["data"]))
            if start >= size and not page:
                break
            start += MAX_LEAF_PAGE
            if start > size + MAX_LEAF_PAGE:
                break
        for i in sorted(found):
            rows = found[i]
            if len(rows) > 1:
                r.add("entry_duplicate_index", f"{len(rows)} registry rows claim this leaf", i)
            if i >= size or data[i] is None:
                r.add("entry_unlogged", "a registry row points at no leaf of the log", i)
                continue
            if not any(row == data[i] for row in rows):
                r.add("entry_mismatch",
                      "the registry row no longer matches the fact the log committed to", i)
        for i, text in enumerate(data):
            if text is not None and i not in found:
                r.add("entry_missing", "the log has a leaf and the registry has no row for it", i)


class AuditAborted(RuntimeError):
    """The audit could not proceed (the API is unreachable or refuses a request)."""


def _token_signer(token: cms.ContentInfo) -> tuple[x509.Certificate, list[x509.Certificate]]:
    """Verify a time-stamp token's CMS signature; returns its signer and the certificates."""
    signed = token["content"]
    if len(signed["signer_infos"]) != 1:
        raise ValueError("a time-stamp token has exactly one signer")
    info = signed["signer_infos"][0]
    sid = info["sid"].chosen
    certs = [c.chosen for c in signed["certificates"] or []]
    cert = next(c for c in certs if c.serial_number == sid["serial_number"].native
                and c.issuer == sid["issuer"])
    digest_algo = info["digest_algorithm"]["algorithm"].native
    if digest_algo not in _DIGESTS:
        raise ValueError(f"digest {digest_algo} is not allowed")
    content = signed["encap_content_info"]["content"].contents
    attrs = info["signed_attrs"]
    claimed = next(a["values"][0].native for a in attrs if a["type"].native == "message_digest")
    if claimed != hashlib.new(digest_algo, content).digest():
        raise ValueError("the signed digest does not match the TSTInfo")
    # Signed attributes are signed as a DER SET, not with their [0] tag in the SignerInfo.
    tbs = b"\x31" + attrs.dump()[1:]
    chain = [x509.load_der_x509_certificate(c.dump()) for c in certs]
    signer = chain[certs.index(cert)]
    key = signer.public_key()
    hash_algo = _DIGESTS[digest_algo]
    signature = info["signature"].native
    if isinstance(key, rsa.RSAPublicKey):
        key.verify(signature, tbs, padding.PKCS1v15(), hash_algo)
    elif isinstance(key, ec.EllipticCurvePublicKey):
        key.verify(signature, tbs, ec.ECDSA(hash_algo))
    else:
        raise ValueError("unsupported time-stamping key")
    return signer, chain


_DIGESTS: dict[str, hashes.HashAlgorithm] = {
    "sha256": hashes.SHA256(), "sha384": hashes.SHA384(), "sha512": hashes.SHA512(),
}


def _untrusted(signer: x509.Certificate, chain: Sequence[x509.Certificate],
               roots: Sequence[x509.Certificate]) -> str | None:
    """Why ``signer`` is not a time-stamping certificate issued under ``roots`` (None if it is)."""
    try:
        eku = signer.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    except x509.ExtensionNotFound:
        return "the signer has no extended key usage"
    if ExtendedKeyUsageOID.TIME_STAMPING not in eku:
        return "the signer is not a time-stamping certificate"
    cert, pool = signer, [*chain, *roots]
    for _ in range(8):
        if any(cert == root for root in roots):
            return None
        issuer = next((c for c in pool if c.subject == cert.issuer and c != cert), None)
        if issuer is None:
            return "the signer does not chain to a trusted root"
        try:
            cert.verify_directly_issued_by(issuer)
        except (ValueError, TypeError, InvalidSignature):
            return "a certificate of the chain has a bad signature"
        cert = issuer
    return "the chain is too long"


def _created_at(value: Any) -> datetime | None:
    try:
        parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def _hashes(proof: dict[str, Any]) -> list[bytes]:
    return [base64.b64decode(h) for h in proof["hashes"]]


def _parse_leaf(text: str) -> dict[str, Any] | None:
    def no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        keys = [k for k, _ in pairs]
        if len(keys) != len(set(keys)):
            raise ValueError("duplicate key")
        return dict(pairs)

    try:
        value = json.loads(text, object_pairs_hook=no_duplicates)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def _instant(value: Any) -> str:
    """Leaf instants are fixed-width RFC 3339 UTC strings, so they compare as text."""
    text = str(value)
    datetime.fromisoformat(text.replace("Z", "+00:00"))
    if len(text) != 27 or not text.endswith("Z"):
        raise ValueError(f"instant {text!r} is not in the leaf format")
    return text


def _ranges(numbers: Sequence[int]) -> str:
    parts: list[str] = []
    start = prev = numbers[0]
    for n in numbers[1:]:
        if n != prev + 1:
            parts.append(str(start) if start == prev else f"{start}-{prev}")
            start = n
        prev = n
    parts.append(str(start) if start == prev else f"{start}-{prev}")
    return ", ".join(parts)
