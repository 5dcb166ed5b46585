"""The registry's tamper-evident log: one RFC 9162 Merkle log per municipality.

Every registry event appends one leaf (the RFC 8785 canonical bytes of the event's
public facts and digests) inside the registering transaction, so a leaf exists if
and only if its event committed. Appends to one municipality's log are serialised
by its head row (``SELECT … FOR UPDATE`` on PostgreSQL; ``BEGIN IMMEDIATE`` already
serialises writers on SQLite): the database decides every leaf index, never process
memory, so any number of workers can append.

The head row keeps the tree's right edge (``merkle.CompactRange``), so an append
costs O(log n) and never rereads old leaves; every completed perfect subtree is
stored, so any inclusion or consistency proof is a handful of indexed lookups.
Every append gets a checkpoint, a C2SP signed note over the tree head, and
checkpoints are kept so that consistency between any two can be proven. An RFC
3161 time-stamp is added after commit, at most once per ``timestamp_interval``;
whatever checkpoint is latest when the interval ends is stamped then (or retried
if the TSA fails), so the newest checkpoint always ends up with a token and its
token dates every leaf below it. The auditor reports checkpoints that no token
covered within its grace period (``checkpoint_not_timestamped``).
"""

from __future__ import annotations

import base64
import json
import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from asn1crypto import cms
from sqlalchemy import (
    BigInteger,
    Connection,
    Engine,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    Text,
    event,
    insert,
    select,
    tuple_,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Mapped, Session, mapped_column

from infra.db import Base, UTCDateTime, utcnow
from infra.errors import ElocalError, InvalidInput, NotFound
from registry import jcs, merkle
from registry.checkpoint import LogKey, Verifier, format_checkpoint, origin_for

__all__ = [
    "MAX_CHECKPOINT_PAGE",
    "MAX_LEAF_PAGE",
    "LogCheckpoint",
    "LogHead",
    "LogLeaf",
    "LogNode",
    "RegistryLog",
    "SignedCheckpoint",
    "Timestamper",
    "append",
    "lock",
]

log = logging.getLogger("elocal.registry.log")

#: Page limits of the public log API (rows per response).
MAX_LEAF_PAGE = 1000
MAX_CHECKPOINT_PAGE = 1000
#: A leaf is a few hundred bytes of facts and digests; anything larger is a bug upstream.
MAX_LEAF_BYTES = 16 * 1024

#: Default seconds between RFC 3161 time-stamps of one log's checkpoints.
DEFAULT_TIMESTAMP_INTERVAL = 1.0

#: A failed time-stamp is retried after 5, 10, 20, 40 and 80 seconds, then left to the
#: next registration or ``elocal registry stamp``.
STAMP_RETRY_SECONDS = 5.0
STAMP_RETRIES = 5

#: Returns a DER RFC 3161 ``TimeStampToken`` over the given bytes (SHA-256 imprint).
Timestamper = Callable[[bytes], bytes]


class LogHead(Base):
    """Size and right edge of one municipality's tree; its row lock serialises appends."""

    __tablename__ = "registry_log_head"

    municipality_code: Mapped[str] = mapped_column(
        ForeignKey("municipality.code"), primary_key=True
    )
    size: Mapped[int] = mapped_column(BigInteger, default=0)
    #: Hex roots of the perfect subtrees on the right edge, left to right.
    frontier: Mapped[str] = mapped_column(Text, default="[]")
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class LogLeaf(Base):
    __tablename__ = "registry_log_leaf"

    municipality_code: Mapped[str] = mapped_column(
        ForeignKey("municipality.code"), primary_key=True
    )
    leaf_index: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    #: The RFC 8785 bytes as UTF-8 text; the leaf hash is over exactly these bytes.
    data: Mapped[str] = mapped_column(Text)
    leaf_hash: Mapped[str] = mapped_column(String(64))
    appended_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class LogNode(Base):
    """The hash of a complete perfect subtree (level ≥ 1) at ``(level, index)``."""

    __tablename__ = "registry_log_node"

    municipality_code: Mapped[str] = mapped_column(
        ForeignKey("municipality.code"), primary_key=True
    )
    level: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    node_index: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    hash: Mapped[str] = mapped_column(String(64))


class LogCheckpoint(Base):
    __tablename__ = "registry_log_checkpoint"

    municipality_code: Mapped[str] = mapped_column(
        ForeignKey("municipality.code"), primary_key=True
    )
    size: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    root: Mapped[str] = mapped_column(String(64))
    #: The complete signed note (text, blank line, signature lines).
    note: Mapped[str] = mapped_column(Text)
    #: DER RFC 3161 TimeStampToken over the UTF-8 bytes of ``note``, when a TSA is configured.
    timestamp: Mapped[bytes | None] = mapped_column(LargeBinary, default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class LogIndexError(InvalidInput):
    code = "log_index_out_of_range"
    title = "The requested log index or tree size is out of range"


class NoCheckpoint(NotFound):
    code = "log_no_checkpoint"
    title = "This log has no checkpoint yet"


@dataclass(frozen=True)
class SignedCheckpoint:
    """A checkpoint as stored and served: signed note, size, root and RFC 3161 token."""

    municipality_code: str
    size: int
    root: bytes
    note: str
    timestamp: bytes | None
    created_at: datetime

    @classmethod
    def of(cls, row: LogCheckpoint) -> SignedCheckpoint:
        return cls(row.municipality_code, row.size, bytes.fromhex(row.root), row.note,
                   row.timestamp, row.created_at)

    def public(self) -> dict[str, Any]:
        return {
            "size": self.size,
            "root": base64.b64encode(self.root).decode(),
            "note": self.note,
            "timestamp": base64.b64encode(self.timestamp).decode() if self.timestamp else None,
            "created_at": self.created_at.isoformat().replace("+00:00", "Z"),
        }


def _gen_time(token: bytes) -> datetime:
    """The genTime of an RFC 3161 token (one this log's own TSA client accepted)."""
    info = cms.ContentInfo.load(token)["content"]["encap_content_info"]["content"].parsed
    return info["gen_time"].native  # type: ignore[no-any-return]


def _insert(session: Session, table: Any) -> Any:
    dialect = session.get_bind().dialect.name
    return postgresql.insert(table) if dialect == "postgresql" else sqlite.insert(table)


def lock(session: Session, municipality_code: str) -> LogHead:
    """Lock (creating if needed) the municipality's log head until the transaction ends.

    Callers that need more than the leaf order (for instance one registry instant
    order across every office of the municipality) can call this first.
    """
    table = LogHead.__table__
    session.execute(
        _insert(session, table)
        .values(municipality_code=municipality_code, size=0, frontier="[]", updated_at=utcnow())
        .on_conflict_do_nothing(index_elements=["municipality_code"])
    )
    head = session.execute(
        select(LogHead)
        .where(LogHead.municipality_code == municipality_code)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).scalar_one()
    return head


def append(session: Session, municipality_code: str, leaf: Mapping[str, Any]) -> int:
    """Append one leaf (canonicalised with RFC 8785) and return its index.

    Must run inside the transaction that writes the event, so the leaf and the event
    commit or roll back together.
    """
    data = jcs.canonicalize(leaf)
    if len(data) > MAX_LEAF_BYTES:
        raise ValueError(f"log leaf of {len(data)} bytes exceeds {MAX_LEAF_BYTES}")
    head = lock(session, municipality_code)
    compact = merkle.CompactRange(head.size, [bytes.fromhex(h) for h in json.loads(head.frontier)])
    h = merkle.leaf_hash(data)
    index = head.size
    completed = compact.append(h)
    session.add(LogLeaf(municipality_code=municipality_code, leaf_index=index,
                        data=data.decode(), leaf_hash=h.hex(), appended_at=utcnow()))
    if completed:
        session.execute(insert(LogNode), [
            {"municipality_code": municipality_code, "level": level, "node_index": idx,
             "hash": node.hex()}
            for level, idx, node in completed
        ])
    head.size = compact.size
    head.frontier = json.dumps([x.hex() for x in compact.hashes])
    head.updated_at = utcnow()
    session.flush()
    return index


def tree_size(session: Session, municipality_code: str) -> int:
    size = session.execute(
        select(LogHead.size).where(LogHead.municipality_code == municipality_code)
    ).scalar_one_or_none()
    return int(size or 0)


def _subtree(session: Session, municipality_code: str,
             ranges: Sequence[tuple[int, int]]) -> Callable[[int, int], bytes]:
    """An MTH function over stored hashes, fetching every node ``ranges`` need at once."""
    wanted = {key for a, b in ranges for key in merkle.perfect_subtrees(a, b)}
    found: dict[tuple[int, int], bytes] = {}
    leaves = [idx for level, idx in wanted if level == 0]
    nodes = [(level, idx) for level, idx in wanted if level > 0]
    for chunk in _chunks(leaves, 500):
        for idx, h in session.execute(
            select(LogLeaf.leaf_index, LogLeaf.leaf_hash).where(
                LogLeaf.municipality_code == municipality_code, LogLeaf.leaf_index.in_(chunk))
        ):
            found[(0, idx)] = bytes.fromhex(h)
    for node_chunk in _chunks(nodes, 500):
        for level, idx, h in session.execute(
            select(LogNode.level, LogNode.node_index, LogNode.hash).where(
                LogNode.municipality_code == municipality_code,
                tuple_(LogNode.level, LogNode.node_index).in_(node_chunk))
        ):
            found[(level, idx)] = bytes.fromhex(h)

    def lookup(level: int, idx: int) -> bytes:
        try:
            return found[(level, idx)]
        except KeyError:
            raise LogStorageError(f"stored log node ({level}, {idx}) is missing") from None

    return merkle.subtree_from_lookup(lookup)


class LogStorageError(ElocalError):
    """The stored tree is incomplete: the database was altered outside eLocal."""

    code = "log_storage_corrupt"
    status = 500
    title = "The stored registry log is incomplete"


def _chunks(items: Sequence[Any], n: int) -> Iterable[Sequence[Any]]:
    for i in range(0, len(items), n):
        yield items[i:i + n]


def root_at(session: Session, municipality_code: str, size: int) -> bytes:
    _check_size(session, municipality_code, size)
    if size == 0:
        return merkle.EMPTY_ROOT
    return _subtree(session, municipality_code, [(0, size)])(0, size)


def inclusion_proof(session: Session, municipality_code: str, index: int,
                    size: int) -> list[bytes]:
    _check_size(session, municipality_code, size)
    if not 0 <= index < size:
        raise LogIndexError(f"leaf {index} is not in a tree of size {size}")
    ranges = merkle.inclusion_ranges(index, size)
    return merkle.inclusion_proof(index, size, _subtree(session, municipality_code, ranges))


def consistency_proof(session: Session, municipality_code: str, first: int,
                      second: int) -> list[bytes]:
    _check_size(session, municipality_code, second)
    if not 0 < first <= second:
        raise LogIndexError(f"no consistency proof from size {first} to size {second}")
    ranges = merkle.consistency_ranges(first, second)
    return merkle.consistency_proof(first, second,
                                    _subtree(session, municipality_code, ranges))


def inclusion_proofs(session: Session, municipality_code: str, start: int, end: int,
                     size: int) -> list[tuple[int, list[bytes]]]:
    """Audit paths of leaves ``start`` ≤ i < ``end`` (at most ``MAX_LEAF_PAGE``) in one go."""
    _check_size(session, municipality_code, size)
    end = min(end, size, start + MAX_LEAF_PAGE)
    if start < 0 or end < start:
        raise LogIndexError("leaf range must satisfy 0 <= start <= end")
    wanted = {i: merkle.inclusion_ranges(i, size) for i in range(start, end)}
    mth = _subtree(session, municipality_code, [r for rs in wanted.values() for r in rs])
    return [(i, [mth(a, b) for a, b in rs]) for i, rs in wanted.items()]


def consistency_proofs(session: Session, municipality_code: str, start: int, end: int,
                       second: int) -> list[tuple[int, list[bytes]]]:
    """Proofs that every tree of size ``start`` ≤ m < ``end`` (at most ``MAX_LEAF_PAGE``)
    is a prefix of the tree of size ``second``: an auditor checks all its checkpoints
    against the newest one in a few requests."""
    _check_size(session, municipality_code, second)
    start = max(start, 1)
    end = min(end, second + 1, start + MAX_LEAF_PAGE)
    if end < start:
        raise LogIndexError("size range must satisfy 1 <= start <= end")
    wanted = {m: merkle.consistency_ranges(m, second) for m in range(start, end)}
    mth = _subtree(session, municipality_code, [r for rs in wanted.values() for r in rs])
    return [(m, [mth(a, b) for a, b in rs]) for m, rs in wanted.items()]


def _check_size(session: Session, municipality_code: str, size: int) -> None:
    current = tree_size(session, municipality_code)
    if not 0 <= size <= current:
        raise LogIndexError(f"tree size {size} is beyond the log's size {current}")


def leaves(session: Session, municipality_code: str, start: int, end: int) -> list[LogLeaf]:
    if start < 0 or end < start:
        raise LogIndexError("leaf range must satisfy 0 <= start <= end")
    end = min(end, start + MAX_LEAF_PAGE)
    return list(session.execute(
        select(LogLeaf).where(LogLeaf.municipality_code == municipality_code,
                              LogLeaf.leaf_index >= start, LogLeaf.leaf_index < end)
        .order_by(LogLeaf.leaf_index)
    ).scalars())


def latest_checkpoint(session: Session, municipality_code: str) -> SignedCheckpoint:
    row = session.execute(
        select(LogCheckpoint).where(LogCheckpoint.municipality_code == municipality_code)
        .order_by(LogCheckpoint.size.desc()).limit(1)
    ).scalar_one_or_none()
    if row is None:
        raise NoCheckpoint(f"the log of {municipality_code} has no checkpoint yet")
    return SignedCheckpoint.of(row)


def checkpoints(session: Session, municipality_code: str, after: int = -1,
                limit: int = MAX_CHECKPOINT_PAGE) -> list[SignedCheckpoint]:
    """Checkpoints with ``size > after``, smallest first."""
    limit = max(1, min(limit, MAX_CHECKPOINT_PAGE))
    rows = session.execute(
        select(LogCheckpoint).where(LogCheckpoint.municipality_code == municipality_code,
                                    LogCheckpoint.size > after)
        .order_by(LogCheckpoint.size).limit(limit)
    ).scalars()
    return [SignedCheckpoint.of(r) for r in rows]


def checkpoint_covering(session: Session, municipality_code: str,
                        index: int) -> SignedCheckpoint | None:
    """The smallest stored checkpoint whose tree contains leaf ``index``."""
    row = session.execute(
        select(LogCheckpoint).where(LogCheckpoint.municipality_code == municipality_code,
                                    LogCheckpoint.size > index)
        .order_by(LogCheckpoint.size).limit(1)
    ).scalar_one_or_none()
    return SignedCheckpoint.of(row) if row is not None else None


class RegistryLog:
    """The log as the rest of eLocal uses it: key, origins and time-stamping bound once.

    Built once per process by the ``Context``; stateless between calls, so every
    worker process can hold one.
    """

    def __init__(self, key: LogKey, public_url: str, timestamper: Timestamper | None = None,
                 *, timestamp_interval: float = DEFAULT_TIMESTAMP_INTERVAL) -> None:
        self.key = key
        self.public_url = public_url
        self.timestamper = timestamper
        #: At most one time-stamp per ``timestamp_interval`` seconds (0: every
        #: checkpoint); the checkpoint that is latest when the interval ends gets it.
        #: A time-stamp dates every leaf under it, so one per interval dates them all
        #: while keeping the TSA's cost (tens of milliseconds) off the registrations
        #: that follow each other closely.
        self.timestamp_interval = timestamp_interval
        #: Pending retries, one per municipality (see ``stamp_soon``).
        self._timers: dict[str, tuple[threading.Timer, float]] = {}
        self._timers_lock = threading.Lock()

    def origin(self, municipality_code: str) -> str:
        return origin_for(self.public_url, municipality_code)

    def verifier(self, municipality_code: str) -> Verifier:
        return self.key.verifier(self.origin(municipality_code))

    append = staticmethod(append)

    def checkpoint(self, session: Session, municipality_code: str) -> SignedCheckpoint:
        """Sign (and time-stamp) the current tree head, unless it is already checkpointed.

        Runs under the head lock, so checkpoints of one log are issued in size order
        and two workers never sign different roots for one size.
        """
        head = lock(session, municipality_code)
        if head.size == 0:
            raise NoCheckpoint(f"the log of {municipality_code} is empty")
        existing = session.get(LogCheckpoint, (municipality_code, head.size))
        if existing is not None:
            return SignedCheckpoint.of(existing)
        compact = merkle.CompactRange(head.size, [bytes.fromhex(h)
                                                  for h in json.loads(head.frontier)])
        root = compact.root()
        origin = self.origin(municipality_code)
        note = self.key.sign_note(origin, format_checkpoint(origin, head.size, root))
        row = LogCheckpoint(municipality_code=municipality_code, size=head.size, root=root.hex(),
                            note=note, timestamp=None, created_at=utcnow())
        session.add(row)
        session.flush()
        if self.timestamper is not None:
            self._stamp_after_commit(session, municipality_code)
        return SignedCheckpoint.of(row)

    def _stamp_after_commit(self, session: Session, municipality_code: str) -> None:
        """Time-stamp once the registration has committed, outside the head lock.

        The TSA runs after commit so that no registration waits for it and a rolled
        back one never costs a token. A token that cannot be had now (the interval,
        or the TSA failing) is retried later, see ``stamp_soon``.
        """
        pending: set[str] = session.info.setdefault("registry_log_stamp", set())
        if not pending:
            bind = session.get_bind()

            def after_commit(_session: Session) -> None:
                codes = set(pending)
                pending.clear()
                for code in sorted(codes):
                    self.stamp_soon(bind, code)

            def after_rollback(_session: Session, _previous: Any) -> None:
                pending.clear()

            event.listen(session, "after_commit", after_commit, once=True)
            event.listen(session, "after_soft_rollback", after_rollback, once=True)
        pending.add(municipality_code)

    def stamp_soon(self, bind: Engine | Connection, municipality_code: str,
                   *, attempt: int = 0) -> None:
        """Stamp the latest checkpoint now, or schedule a retry for when it can be.

        Skipping a checkpoint within the interval is only sound because the latest one
        is stamped in the end: its token dates every leaf below it. So a skipped or
        failed stamp always leaves a timer behind, one per log and process, which picks
        up whatever checkpoint is latest when it fires. A process that dies before
        then leaves the checkpoint to the next registration, to ``elocal registry
        stamp``, and to the auditor, which reports checkpoints left unstamped.
        """
        try:
            wait = self._stamp_due(bind, municipality_code)
            attempt = 0
        except Exception:  # the registration is committed; a retry will stamp it
            log.exception("could not time-stamp the log checkpoint of %s", municipality_code)
            if attempt >= STAMP_RETRIES:
                return
            wait, attempt = STAMP_RETRY_SECONDS * 2 ** attempt, attempt + 1
        if wait is not None:
            self._schedule(bind, municipality_code, wait, attempt)

    def _schedule(self, bind: Engine | Connection, municipality_code: str, wait: float,
                  attempt: int) -> None:
        due = time.monotonic() + max(wait, 0.01)
        with self._timers_lock:
            pending = self._timers.get(municipality_code)
            if pending is not None:
                if pending[1] <= due:
                    return  # the pending timer stamps whatever is latest when it fires
                pending[0].cancel()

            def fire() -> None:
                with self._timers_lock:
                    if self._timers.get(municipality_code, (None, 0.0))[0] is timer:
                        del self._timers[municipality_code]
                self.stamp_soon(bind, municipality_code, attempt=attempt)

            timer = threading.Timer(due - time.monotonic(), fire)
            timer.daemon = True
            self._timers[municipality_code] = (timer, due)
            timer.start()

    def cancel_pending(self) -> None:
        """Drop the scheduled retries (at shutdown; the next append schedules anew)."""
        with self._timers_lock:
            timers, self._timers = list(self._timers.values()), {}
        for timer, _due in timers:
            timer.cancel()

    def _stamp_due(self, bind: Engine | Connection, municipality_code: str) -> float | None:
        """Stamp the latest checkpoint if the interval allows; else seconds to wait.

        None means nothing is left to do: the latest checkpoint has its token.
        """
        if self.timestamper is None:
            return None
        with Session(bind) as s:
            last = s.execute(
                select(LogCheckpoint.created_at).where(
                    LogCheckpoint.municipality_code == municipality_code,
                    LogCheckpoint.timestamp.is_not(None),
                ).order_by(LogCheckpoint.size.desc()).limit(1)
            ).scalar_one_or_none()
            s.rollback()
        if last is not None and self.timestamp_interval > 0:
            wait = (last - utcnow()).total_seconds() + self.timestamp_interval
            if wait > 0 and self._latest_unstamped(bind, municipality_code) is not None:
                return wait
        self.stamp(bind, municipality_code, force=True)
        return None

    def _latest_unstamped(self, bind: Engine | Connection,
                          municipality_code: str) -> tuple[int, str] | None:
        with Session(bind) as s:
            latest = s.execute(
                select(LogCheckpoint.size, LogCheckpoint.note, LogCheckpoint.timestamp)
                .where(LogCheckpoint.municipality_code == municipality_code)
                .order_by(LogCheckpoint.size.desc()).limit(1)
            ).first()
            s.rollback()
        if latest is None or latest.timestamp is not None:
            return None
        return int(latest.size), str(latest.note)

    def stamp(self, bind: Engine | Connection, municipality_code: str,
              *, force: bool = False) -> bool:
        """Time-stamp the latest checkpoint unless one was stamped within the interval
        (``force``: regardless); True if a token was stored. TSA errors propagate."""
        if self.timestamper is None:
            return False
        if not force and self.timestamp_interval > 0:
            cutoff = utcnow() - timedelta(seconds=self.timestamp_interval)
            with Session(bind) as s:
                recent = s.execute(
                    select(LogCheckpoint.size).where(
                        LogCheckpoint.municipality_code == municipality_code,
                        LogCheckpoint.timestamp.is_not(None),
                        LogCheckpoint.created_at > cutoff,
                    ).limit(1)
                ).first()
                s.rollback()
            if recent is not None:
                return False
        latest = self._latest_unstamped(bind, municipality_code)
        if latest is None:
            return False
        size, note = latest
        for _ in range(3):
            stored = self._store_token(bind, municipality_code, size,
                                       self.timestamper(note.encode()))
            if stored is not None:
                return stored
        return False

    def _store_token(self, bind: Engine | Connection, municipality_code: str, size: int,
                     token: bytes) -> bool | None:
        """Store ``token`` for checkpoint ``size`` if tokens stay in checkpoint order.

        Workers stamp concurrently, so a token for a newer checkpoint can be issued
        before one for an older checkpoint is stored. Auditors require token times
        to run forward along the log: a token for a checkpoint older than one already
        stamped is redundant (the newer token dates those leaves too) and is dropped
        (False); a token issued before the last stored one is stale, and None asks
        for a fresh token.
        """
        with Session(bind) as s, s.begin():
            lock(s, municipality_code)  # token writes are serialised like appends
            last = s.execute(
                select(LogCheckpoint.size, LogCheckpoint.timestamp).where(
                    LogCheckpoint.municipality_code == municipality_code,
                    LogCheckpoint.timestamp.is_not(None),
                ).order_by(LogCheckpoint.size.desc()).limit(1)
            ).first()
            if last is not None and int(last.size) >= size:
                return False
            if last is not None and _gen_time(bytes(last.timestamp)) > _gen_time(token):
                return None
            done = s.execute(
                update(LogCheckpoint).where(
                    LogCheckpoint.municipality_code == municipality_code,
                    LogCheckpoint.size == size, LogCheckpoint.timestamp.is_(None),
                ).values(timestamp=token).returning(LogCheckpoint.size)
            ).first()
        return done is not None

    def stamp_all(self, bind: Engine | Connection,
                  municipality_code: str | None = None) -> dict[str, bool]:
        """Stamp the latest checkpoint of every log (or of one) that lacks a token.

        What ``elocal registry stamp`` runs, for instance from cron, so that a
        checkpoint a crashed worker left unstamped is stamped without waiting for
        the next registration.
        """
        with Session(bind) as s:
            q = select(LogHead.municipality_code).order_by(LogHead.municipality_code)
            if municipality_code is not None:
                q = q.where(LogHead.municipality_code == municipality_code)
            codes = list(s.scalars(q))
            s.rollback()
        return {code: self.stamp(bind, code, force=True) for code in codes}

    def proof_bundle(self, session: Session, municipality_code: str,
                     index: int) -> dict[str, Any]:
        """What a receipt carries: leaf index, a checkpoint covering it and the audit path."""
        cp = checkpoint_covering(session, municipality_code, index)
        if cp is None:
            cp = self.checkpoint(session, municipality_code)
        proof = inclusion_proof(session, municipality_code, index, cp.size)
        return {
            "leaf_index": index,
            "checkpoint": cp.public(),
            "inclusion_proof": [base64.b64encode(p).decode() for p in proof],
            "key": str(self.verifier(municipality_code)),
        }
