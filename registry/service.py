"""Registering entries and exits, rectifying and annulling them, and reading them back.

One registration is one database transaction: the municipality's log head is
locked, the office counter incremented, the instant read, the entry, its
attachments, parties and event written, the log leaf appended, the checkpoint
signed and the receipt sealed, and all of it commits or none of it does. Sealing
must happen under the locks because the receipt states the number and the leaf;
everything that does not need them (checking and storing attachments, resolving
the unit) happens before the transaction starts.

The log head is locked *before* the counter so that, across every office of a
municipality, log order, number order and time order are one order (the auditor
checks that instants never decrease along the log), and so that every writer
takes the locks in the same order.
"""

from __future__ import annotations

import base64
import logging
import re
import secrets
import threading
import time as _time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from identity.sessions import Principal
from infra.blobs import BlobStore
from infra.db import utcnow
from infra.tenancy import Municipality, Office, get_municipality
from registry import actors, leaves
from registry import log as registry_log
from registry.attachments import AttachmentLimits, StoredAttachment, Upload, accept
from registry.errors import (
    AlreadyAnnulled,
    EntryNotFound,
    IdempotencyKeyReused,
    InvalidSiaCode,
    InvalidSubmission,
    NotAllowed,
    ReceiptNotFound,
    UnknownOffice,
    UnknownUnit,
)
from registry.interchange import Export, Facts, render
from registry.models import (
    ANNULMENT,
    ENTRY,
    EXIT,
    RECTIFICATION,
    REGISTRATION,
    RegistryAttachment,
    RegistryEntry,
    RegistryEvent,
    RegistryParty,
)
from registry.numbering import Clock, current_instant, display_number, next_number
from registry.officialtime import MADRID, effective_instant, official_time
from registry.receiptpdf import STAMP_BOX
from registry.receipts import Sealer, facts, render_pdf, render_xml
from signing.pades import Stamp

log = logging.getLogger("elocal.registry")

_SIA = re.compile(r"^[0-9]{1,12}$")
_ID_TYPES = ("NIF", "NIE", "CIF", "PASAPORTE", "DIR3", "OTRO")
_ID_NUMBER = re.compile(r"^[A-Z0-9][A-Z0-9.\-/]{0,39}$")
_IDEMPOTENCY_KEY = re.compile(r"^[\x21-\x7e]{1,200}$")
MAX_TEXT = 20_000
#: Receipt signature level: the receipt must carry a trusted time (Ley 39/2015 art. 16.3).
RECEIPT_LEVEL = "B-T"


@dataclass
class Submission:
    """What a presenter (or a registrar) declares; attachments travel separately."""

    subject: str = ""
    epigrafe: str = ""
    destination_unit: str | None = None
    origin_unit: str | None = None
    office: str | None = None
    sia_code: str | None = None
    expediente: str | None = None
    expone: str = ""
    solicita: str = ""
    #: Interested parties (entries registered by a registrar) or addressees (exits).
    interested: list[dict[str, Any]] = field(default_factory=list)
    #: The person presenting in person, when a registrar registers for them.
    presenter: dict[str, Any] | None = None

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Submission:
        if not isinstance(data, dict):
            raise InvalidSubmission("the submission must be a JSON object")
        known = set(cls.__dataclass_fields__)
        unknown = sorted(set(data) - known)
        if unknown:
            raise InvalidSubmission(f"unknown fields: {', '.join(unknown)}", fields=unknown)
        for name in ("subject", "epigrafe", "expone", "solicita"):
            if data.get(name) is not None and not isinstance(data[name], str):
                raise InvalidSubmission(f"{name} must be a string", field=name)
        for name in ("destination_unit", "origin_unit", "office", "sia_code", "expediente"):
            if data.get(name) is not None and not isinstance(data[name], str):
                raise InvalidSubmission(f"{name} must be a string", field=name)
        if not isinstance(data.get("interested", []), list):
            raise InvalidSubmission("interested must be a list", field="interested")
        if data.get("presenter") is not None and not isinstance(data["presenter"], dict):
            raise InvalidSubmission("presenter must be an object", field="presenter")
        return cls(**{k: v for k, v in data.items() if v is not None})


@dataclass(frozen=True)
class Registered:
    """The outcome of a registration: the entry, and whether it was an idempotent replay."""

    entry: RegistryEntry
    replayed: bool = False
    #: Seconds spent sealing the receipt, and in the whole registration (locks included).
    seal_seconds: float = 0.0
    total_seconds: float = 0.0


@dataclass(frozen=True)
class SearchFilters:
    number: str | None = None
    kind: str | None = None
    date_from: date | None = None
    date_to: date | None = None
    party: str | None = None
    unit: str | None = None
    sia_code: str | None = None
    limit: int = 50
    offset: int = 0


def _text(value: str | None, name: str, limit: int, *, required: bool = False) -> str:
    value = (value or "").strip()
    if required and not value:
        raise InvalidSubmission(f"{name} is required", field=name)
    if len(value) > limit:
        raise InvalidSubmission(f"{name} is longer than {limit} characters", field=name,
                                limit=limit)
    if any(ord(c) < 32 and c not in "\n\r\t" for c in value):
        raise InvalidSubmission(f"{name} contains control characters", field=name)
    return value


def _party(raw: Any, where: str) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise InvalidSubmission(f"{where} must be an object", field=where)
    id_type = str(raw.get("id_type") or "").strip().upper()
    id_number = str(raw.get("id_number") or "").strip().upper()
    name = _text(raw.get("name"), f"{where}.name", 200, required=True)
    if id_type not in _ID_TYPES:
        raise InvalidSubmission(f"{where}.id_type must be one of {', '.join(_ID_TYPES)}",
                                field=f"{where}.id_type")
    if not _ID_NUMBER.match(id_number):
        raise InvalidSubmission(f"{where}.id_number is malformed", field=f"{where}.id_number")
    out = {"id_type": id_type, "id_number": id_number, "name": name}
    for extra in ("email", "address"):
        if raw.get(extra):
            out[extra] = _text(str(raw[extra]), f"{where}.{extra}", 300)
    return out


def _request_digest(kind: str, sub: Submission, stored: Sequence[StoredAttachment],
                    presenter: dict[str, Any], interested: list[dict[str, Any]]) -> str:
    """SHA-256 of what a registration states, to tell a retry from a reused key."""
    return leaves.sha256_hex({
        "kind": kind, "subject": sub.subject, "epigrafe": sub.epigrafe,
        "destination_unit": sub.destination_unit, "origin_unit": sub.origin_unit,
        "office": sub.office, "sia_code": sub.sia_code, "expediente": sub.expediente,
        "expone": sub.expone, "solicita": sub.solicita,
        "presenter": _party_facts(presenter), "interested": interested,
        "attachments": [[a.name, a.size, a.mime, a.sha256] for a in stored],
    })


def _entry_digest(entry: RegistryEntry) -> str:
    """The ``_request_digest`` of the request that registered ``entry``."""
    return leaves.sha256_hex({
        "kind": entry.kind, "subject": entry.subject, "epigrafe": entry.epigrafe,
        "destination_unit": entry.destination_unit, "origin_unit": entry.origin_unit,
        "office": entry.office_code, "sia_code": entry.sia_code,
        "expediente": entry.expediente, "expone": entry.expone, "solicita": entry.solicita,
        "presenter": _party_facts(entry.presenter), "interested": entry.interested,
        "attachments": [[a.name, a.size, a.mime, a.sha256] for a in entry.attachments],
    })


def _party_facts(party: dict[str, Any]) -> dict[str, Any]:
    # Who presents, not the details of their login, which differ between two sessions.
    return {k: party.get(k) for k in ("subject", "id_type", "id_number", "entity_cif")}


def new_verification_code() -> str:
    """120 random bits in Crockford-free base32: 24 characters, unambiguous on paper."""
    return base64.b32encode(secrets.token_bytes(15)).decode()


@dataclass
class _Draft:
    """One registration's inputs, fixed before any lock is taken."""

    id: str
    verification_code: str
    principal: Principal
    municipality_code: str
    kind: str
    sub: Submission
    stored: list[StoredAttachment]
    presenter: dict[str, Any]
    registrar: dict[str, Any] | None
    interested: list[dict[str, Any]]
    idempotency_key: str | None
    rectifies: str | None
    reason: str | None
    registered_at: datetime | None = None
    seal_seconds: float = 0.0

    @property
    def event_kind(self) -> str:
        return RECTIFICATION if self.rectifies else REGISTRATION


class Registry:
    """The registry service; one per process, shared by every request."""

    def __init__(self, sessions: sessionmaker[Session], blobs: BlobStore, sealer: Sealer,
                 log: registry_log.RegistryLog, limits: AttachmentLimits, public_url: str,
                 *, clock: Clock | None = None, concurrency: int = 8) -> None:
        self.sessions = sessions
        self.blobs = blobs
        self.sealer = sealer
        self.log = log
        self.limits = limits
        self.public_url = public_url.rstrip("/")
        self.clock = clock
        #: Registrations of one municipality queue on its log head anyway; bounding them
        #: per process keeps threads free for the requests they wait on (the TSA).
        self._slots = threading.BoundedSemaphore(concurrency)
        self._sqlite_lock = threading.Lock()

    def now(self) -> datetime:
        return self.clock() if self.clock else utcnow()

    def verification_url(self, code: str) -> str:
        return f"{self.public_url}/registry/receipts/{code}"

    # -- registration -------------------------------------------------------------------

    def submit(self, principal: Principal, municipality_code: str, kind: str,
               submission: Submission, uploads: Sequence[Upload] = (),
               idempotency_key: str | None = None) -> Registered:
        """Register an entry (``E``) or an exit (``S``) with its sealed receipt."""
        if kind not in (ENTRY, EXIT):
            raise InvalidSubmission("kind must be E or S", field="kind")
        actors.check_municipality(principal, municipality_code)
        presenter, registrar, interested = self._who(principal, kind, submission)
        if idempotency_key is not None and not _IDEMPOTENCY_KEY.match(idempotency_key):
            raise InvalidSubmission("the Idempotency-Key header is malformed",
                                    field="Idempotency-Key")
        clean = self._validate(municipality_code, kind, submission)
        stored = accept(self.blobs, uploads, self.limits)
        request = _request_digest(kind, clean, stored, presenter, interested)
        if idempotency_key:
            found = self._replay(municipality_code, principal.subject, idempotency_key, request)
            if found is not None:
                return Registered(found, replayed=True)
        started = _time.perf_counter()
        try:
            entry, sealing = self._register(
                principal, municipality_code, kind, clean, stored, presenter, registrar,
                interested, idempotency_key, rectifies=None, reason=None,
            )
        except IntegrityError:
            # A concurrent request with the same Idempotency-Key committed first.
            if idempotency_key:
                found = self._replay(municipality_code, principal.subject, idempotency_key,
                                     request)
                if found is not None:
                    return Registered(found, replayed=True)
            raise
        return Registered(entry, seal_seconds=sealing,
                          total_seconds=_time.perf_counter() - started)

    def rectify(self, principal: Principal, municipality_code: str, entry_id: str,
                submission: Submission, reason: str, uploads: Sequence[Upload] = ()
                ) -> RegistryEntry:
        """A registrar's correction: a new entry that references the original."""
        actors.check_municipality(principal, municipality_code)
        if not actors.is_registrar(principal):
            raise NotAllowed("only a registrar can rectify an entry")
        reason = _text(reason, "reason", 2000, required=True)
        with self.sessions() as s:
            original = self._load(s, municipality_code, entry_id)
            kind = original.kind
            presenter, registrar = original.presenter, actors.record(principal)
            registrar["office"] = original.office_code
            interested = (
                [_party(p, f"interested[{i}]") for i, p in enumerate(submission.interested)]
                if submission.interested else original.interested
            )
            if original.annulled:
                raise AlreadyAnnulled("an annulled entry cannot be rectified")
        submission.office = original.office_code
        clean = self._validate(municipality_code, kind, submission)
        stored = accept(self.blobs, uploads, self.limits)
        entry, _ = self._register(principal, municipality_code, kind, clean, stored, presenter,
                                  registrar, interested, None, rectifies=original.id,
                                  reason=reason)
        return entry

    def annul(self, principal: Principal, municipality_code: str, entry_id: str,
              reason: str) -> RegistryEvent:
        """Annul an entry: an event with actor and reason; the entry itself stays."""
        actors.check_municipality(principal, municipality_code)
        if not actors.is_registrar(principal):
            raise NotAllowed("only a registrar can annul an entry")
        reason = _text(reason, "reason", 2000, required=True)
        with self.sessions() as s, s.begin():
            registry_log.lock(s, municipality_code)
            entry = self._load(s, municipality_code, entry_id)
            s.refresh(entry, attribute_names=["events"])
            if entry.annulled:
                raise AlreadyAnnulled(f"{entry.display_number} is already annulled")
            event = RegistryEvent(entry_id=entry.id, municipality_code=municipality_code,
                                  kind=ANNULMENT, at=current_instant(s, self.clock),
                                  actor=actors.record(principal), reason=reason, leaf_index=-1)
            event.leaf_index = self.log.append(
                s, municipality_code, leaves.annulment_leaf(entry, event)
            )
            self.log.checkpoint(s, municipality_code)
            s.add(event)
            s.flush()
        return event

    def _who(self, principal: Principal, kind: str, submission: Submission
             ) -> tuple[dict[str, Any], dict[str, Any] | None, list[dict[str, Any]]]:
        """Presenter, registrar and interested parties, by who is asking."""
        if actors.is_registrar(principal) or (actors.is_app(principal) and kind == EXIT):
            registrar = actors.record(principal)
            if kind == EXIT:
                interested = [_party(p, f"interested[{i}]")
                              for i, p in enumerate(submission.interested)]
                if not interested:
                    raise InvalidSubmission("an exit needs at least one addressee",
                                            field="interested")
                return registrar, registrar, interested
            if submission.presenter is None:
                raise InvalidSubmission(
                    "a registrar registers for a presenter: give the presenter",
                    field="presenter",
                )
            presenter = _party(submission.presenter, "presenter")
            interested = [_party(p, f"interested[{i}]")
                          for i, p in enumerate(submission.interested)] or [presenter]
            return presenter, registrar, interested
        if kind == EXIT:
            raise NotAllowed("only a registrar or an authorised municipal app registers exits")
        if actors.is_app(principal):
            raise NotAllowed("an application acting as itself registers exits only; entries "
                             "are filed by people, or by an application on a person's behalf")
        if principal.capacity not in (actors.CITIZEN, actors.REPRESENTATIVE):
            raise NotAllowed("only a registrar can register an entry for someone else")
        if submission.presenter is not None or submission.interested:
            raise NotAllowed("only a registrar can register an entry for someone else")
        return actors.record(principal), None, actors.as_interested(principal)

    def _validate(self, municipality_code: str, kind: str, sub: Submission) -> Submission:
        subject = _text(sub.subject, "subject", 240, required=True)
        epigrafe = _text(sub.epigrafe, "epigrafe", 200) or (
            "Solicitud general" if kind == ENTRY else "Comunicación"
        )
        sia = _text(sub.sia_code, "sia_code", 20) or None
        if sia is not None and not _SIA.match(sia):
            raise InvalidSiaCode(f"{sia!r} is not a SIA procedure code (digits only)",
                                 field="sia_code")
        expediente = _text(sub.expediente, "expediente", 100) or None
        with self.sessions() as s:
            muni = get_municipality(s, municipality_code)
            units = {u.code for u in muni.units}
            offices = [o.code for o in muni.offices]
        dest = (sub.destination_unit or "").strip().upper() or None
        origin = (sub.origin_unit or "").strip().upper() or None
        if kind == ENTRY and dest is None:
            raise InvalidSubmission("destination_unit is required", field="destination_unit")
        for name, code in (("destination_unit", dest), ("origin_unit", origin)):
            if code is not None and code not in units:
                raise UnknownUnit(f"{code!r} is not a unit of {municipality_code}", field=name,
                                  value=code)
        office = (sub.office or "").strip().upper() or (offices[0] if offices else None)
        if office is None or office not in offices:
            raise UnknownOffice(f"{office!r} is not a registry office of {municipality_code}",
                                field="office")
        return Submission(
            subject=subject, epigrafe=epigrafe, destination_unit=dest, origin_unit=origin,
            office=office, sia_code=sia, expediente=expediente,
            expone=_text(sub.expone, "expone", MAX_TEXT),
            solicita=_text(sub.solicita, "solicita", MAX_TEXT),
        )

    def _replay(self, municipality_code: str, subject: str, key: str,
                request: str) -> RegistryEntry | None:
        """The entry an earlier request with this key registered, if it was this request.

        A key reused for a different submission is refused: answering with the other
        entry would tell the caller that what they just sent is registered.
        """
        with self.sessions() as s:
            found = s.scalars(select(RegistryEntry).where(
                RegistryEntry.municipality_code == municipality_code,
                RegistryEntry.presenter_subject == subject,
                RegistryEntry.idempotency_key == key,
            )).one_or_none()
        if found is None:
            return None
        if not secrets.compare_digest(_entry_digest(found), request):
            raise IdempotencyKeyReused(
                "this Idempotency-Key was used for a different submission",
                field="Idempotency-Key", entry=found.display_number)
        return found

    def _register(self, principal: Principal, municipality_code: str, kind: str,
                  sub: Submission, stored: list[StoredAttachment], presenter: dict[str, Any],
                  registrar: dict[str, Any] | None, interested: list[dict[str, Any]],
                  idempotency_key: str | None, *, rectifies: str | None,
                  reason: str | None) -> tuple[RegistryEntry, float]:
        """Register under the locks; returns the entry and the seconds spent sealing."""
        assert sub.office is not None
        if registrar is not None:
            registrar = {**registrar, "office": sub.office}
        draft = _Draft(
            id=str(uuid.uuid4()), verification_code=new_verification_code(),
            principal=principal, municipality_code=municipality_code, kind=kind, sub=sub,
            stored=stored, presenter=presenter, registrar=registrar, interested=interested,
            idempotency_key=idempotency_key, rectifies=rectifies, reason=reason,
        )
        with self._slots:
            if self.sessions.kw["bind"].dialect.name == "sqlite":
                self._register_sqlite(draft)
            else:
                with self.sessions() as s, s.begin():
                    entry, bundle = self._write(s, draft)
                    self._finish(s, draft, entry, *self._seal(self._facts(s, entry, bundle), draft))
        with self.sessions() as s:
            return self._load(s, draft.municipality_code, draft.id), draft.seal_seconds

    def _register_sqlite(self, draft: _Draft) -> RegistryEntry:
        """SQLite has one writer: the seal's own database work (its TSA's serial counter)
        cannot run while the registration holds the write lock. So the registration is
        rehearsed and rolled back, the receipt sealed with no lock held, and the
        registration redone for real and committed only if it produced exactly the same
        number, leaf and checkpoint. A process lock keeps rehearsals from colliding; the
        database still decides every number."""
        with self._sqlite_lock:
            for _ in range(5):
                with self.sessions() as s:
                    s.begin()
                    entry, bundle = self._write(s, draft)
                    draft.registered_at = entry.registered_at
                    receipt = self._facts(s, entry, bundle)
                    s.rollback()
                pdf, xml = self._seal(receipt, draft)
                with self.sessions() as s, s.begin():
                    again, bundle2 = self._write(s, draft)
                    same = (again.number == entry.number and again.leaf_index == entry.leaf_index
                            and bundle2["checkpoint"]["note"] == bundle["checkpoint"]["note"]
                            and bundle2["inclusion_proof"] == bundle["inclusion_proof"])
                    if same:
                        self._finish(s, draft, again, pdf, xml)
                        return again
                    s.rollback()
                draft.registered_at = None
                log.info("registry changed during a rehearsed registration; retrying")
        raise RuntimeError("could not register: the registry kept changing")

    def _write(self, s: Session, d: _Draft) -> tuple[RegistryEntry, dict[str, Any]]:
        """Lock, number, instant, leaf and checkpoint: everything the receipt states."""
        muni = s.get(Municipality, d.municipality_code)
        sub, office = d.sub, d.sub.office
        assert muni is not None and office is not None
        registry_log.lock(s, d.municipality_code)
        if d.rectifies is not None:
            self._check_rectifiable(s, d.municipality_code, d.rectifies)
        year, number, registered_at = self._number(s, d.municipality_code, office, d.kind,
                                                   d.registered_at)
        entry = RegistryEntry(
            id=d.id, municipality_code=d.municipality_code,
            office_code=sub.office, kind=d.kind, year=year, number=number,
            display_number=display_number(muni.number_template, year=year, kind=d.kind,
                                          number=number, office=office),
            registered_at=registered_at,
            effective_at=effective_instant(s, d.municipality_code, registered_at),
            presenter_subject=d.principal.subject, presenter=d.presenter,
            registrar=d.registrar, interested=d.interested, epigrafe=sub.epigrafe,
            subject=sub.subject, destination_unit=sub.destination_unit,
            origin_unit=sub.origin_unit, sia_code=sub.sia_code, expediente=sub.expediente,
            expone=sub.expone, solicita=sub.solicita, rectifies_id=d.rectifies,
            idempotency_key=d.idempotency_key, verification_code=d.verification_code,
            attachments=[
                RegistryAttachment(position=i, name=a.name, size=a.size, mime=a.mime,
                                   sha256=a.sha256)
                for i, a in enumerate(d.stored)
            ],
        )
        entry.leaf_index = self.log.append(
            s, d.municipality_code,
            leaves.registration_leaf(entry, d.event_kind, self._draft_keys(d)),
        )
        bundle = self.log.proof_bundle(s, d.municipality_code, entry.leaf_index)
        return entry, bundle

    def _check_rectifiable(self, s: Session, municipality_code: str, entry_id: str) -> None:
        """Re-read the original under the log head lock: an annulment serialises on the
        same lock, so one committed since ``rectify`` first looked is seen here."""
        original = self._load(s, municipality_code, entry_id)
        s.refresh(original, attribute_names=["events"])
        if original.annulled:
            raise AlreadyAnnulled("an annulled entry cannot be rectified")

    def _finish(self, s: Session, d: _Draft, entry: RegistryEntry, pdf: bytes,
                xml: bytes) -> None:
        entry.receipt_pdf_sha256 = self.blobs.put(pdf)
        entry.receipt_xml_sha256 = self.blobs.put(xml)
        s.add(entry)
        s.add(RegistryEvent(entry_id=entry.id, municipality_code=d.municipality_code,
                            kind=d.event_kind, at=entry.registered_at,
                            actor=d.registrar or d.presenter, reason=d.reason,
                            related_id=d.rectifies, leaf_index=entry.leaf_index))
        for key in self._draft_keys(d):
            s.add(RegistryParty(entry_id=entry.id, municipality_code=d.municipality_code,
                                party_key=key))
        s.flush()

    def _number(self, s: Session, municipality_code: str, office: str, kind: str,
                at_fixed: datetime | None = None) -> tuple[int, int, datetime]:
        """Counter, then instant; if the Madrid year turned in between, take the new year's."""
        year = (at_fixed or self.now()).astimezone(MADRID).year
        for _ in range(3):
            savepoint = s.begin_nested()
            number = next_number(s, municipality_code, office, year, kind)
            at = at_fixed or current_instant(s, self.clock)
            if at.astimezone(MADRID).year == year:
                savepoint.commit()
                return year, number, at
            savepoint.rollback()
            year = at.astimezone(MADRID).year
        raise RuntimeError("the service clock is unstable around the turn of the year")

    def _draft_keys(self, d: _Draft) -> set[str]:
        return self._keys(d.principal, d.presenter, d.interested, d.registrar)

    @staticmethod
    def _keys(principal: Principal, presenter: dict[str, Any], interested: list[dict[str, Any]],
              registrar: dict[str, Any] | None) -> set[str]:
        # A person finds what they filed; an application, what it registered; a registrar
        # acting for someone else is not a party to it.
        keys = ({f"sub:{principal.subject}"}
                if registrar is None or actors.is_app(principal) else set())
        for p in [presenter, *interested]:
            if p.get("id_number"):
                keys.add(f"id:{p['id_number']}")
            if p.get("entity_cif"):
                keys.add(f"id:{str(p['entity_cif']).upper()}")
        return keys

    def _facts(self, s: Session, entry: RegistryEntry, bundle: dict[str, Any]
               ) -> dict[str, Any]:
        """Everything the receipt states (read while the registration's locks are held)."""
        muni = s.get(Municipality, entry.municipality_code)
        office = s.get(Office, entry.office_code)
        assert muni is not None
        units = {u.code: u.name for u in muni.units}
        f = facts(entry, municipality_name=muni.name, municipality_cif=muni.cif,
                  office_name=office.name if office else "", unit_names=units,
                  checkpoint=bundle["checkpoint"]["note"],
                  verification_url=self.verification_url(entry.verification_code))
        f["log"]["inclusion_proof"] = bundle["inclusion_proof"]
        f["log"]["key"] = bundle["key"]
        return f

    def _seal(self, f: dict[str, Any], draft: _Draft) -> tuple[bytes, bytes]:
        """Render and seal the receipt PDF (PAdES B-T, visible stamp) and XML (XAdES B-T)."""
        code, name = f["municipality"]["code"], f["municipality"]["name"]
        started = _time.perf_counter()
        pdf = self.sealer.seal_pdf(
            code, render_pdf(f), level=RECEIPT_LEVEL,
            stamp=Stamp(municipality=name, verification_code=f["verification"]["code"],
                        verification_url=f["verification"]["url"], page=-1, box=STAMP_BOX),
        )
        xml = self.sealer.seal_xml(code, render_xml(f), level=RECEIPT_LEVEL,
                                   packaging="enveloped")
        draft.seal_seconds += _time.perf_counter() - started
        assert pdf is not None
        return pdf, xml

    # -- reading ------------------------------------------------------------------------

    def _load(self, s: Session, municipality_code: str, entry_id: str) -> RegistryEntry:
        entry = s.get(RegistryEntry, entry_id) if len(entry_id) <= 36 else None
        if entry is None or entry.municipality_code != municipality_code:
            raise EntryNotFound(f"no entry {entry_id!r} in {municipality_code}")
        return entry

    def _visible(self, s: Session, principal: Principal, entry: RegistryEntry) -> bool:
        if actors.is_registrar(principal):
            return True
        keys = actors.party_keys(principal)
        found = s.scalar(select(RegistryParty.id).where(
            RegistryParty.entry_id == entry.id, RegistryParty.party_key.in_(keys)
        ).limit(1))
        return found is not None

    def get(self, principal: Principal, municipality_code: str, entry_id: str) -> RegistryEntry:
        """An entry its holder (party or registrar) may open; anyone else gets 404."""
        actors.check_municipality(principal, municipality_code)
        with self.sessions() as s:
            entry = self._load(s, municipality_code, entry_id)
            if not self._visible(s, principal, entry):
                # Same answer as a missing entry: ids of others' entries are not confirmed.
                raise EntryNotFound(f"no entry {entry_id!r} in {municipality_code}")
            return entry

    def interchange(self, principal: Principal, municipality_code: str, entry_id: str,
                    fmt: str) -> Export:
        """The entry as SICRES 3.0 (``sicres3``) or its receipt as ENI (``eni``), for
        whoever may open the entry (see ``registry.interchange``)."""
        entry = self.get(principal, municipality_code, entry_id)
        with self.sessions() as s:
            muni = get_municipality(s, municipality_code)
            office = s.get(Office, entry.office_code)
            keeper = Facts(municipality_code=muni.code, municipality_name=muni.name,
                           office_code=entry.office_code,
                           office_name=office.name if office else "",
                           unit_names={u.code: u.name for u in muni.units})
        return render(fmt, entry, keeper, self.blobs)

    def history(self, principal: Principal, municipality_code: str, entry_id: str
                ) -> list[dict[str, Any]]:
        """Events of the entry and of every entry that rectifies it, in log order."""
        entry = self.get(principal, municipality_code, entry_id)
        with self.sessions() as s:
            rows = list(s.scalars(select(RegistryEvent).where(
                (RegistryEvent.entry_id == entry.id) | (RegistryEvent.related_id == entry.id)
            ).order_by(RegistryEvent.leaf_index)))
            numbers = dict(s.execute(select(RegistryEntry.id, RegistryEntry.display_number)
                                     .where(RegistryEntry.id.in_({r.entry_id for r in rows}))
                                     ).tuples().all())
        return [{
            "event": r.kind, "at": leaves.instant(r.at), "entry": r.entry_id,
            "number": numbers.get(r.entry_id), "actor": r.actor, "reason": r.reason,
            "rectifies": r.related_id, "leaf_index": r.leaf_index,
        } for r in rows]

    def search(self, principal: Principal, municipality_code: str,
               filters: SearchFilters) -> list[RegistryEntry]:
        """Registrars search the municipality's registry; others list their own entries."""
        actors.check_municipality(principal, municipality_code)
        q = select(RegistryEntry).where(RegistryEntry.municipality_code == municipality_code)
        if not actors.is_registrar(principal):
            if filters.party or filters.unit or filters.sia_code:
                raise NotAllowed("only a registrar can search the registry")
            q = q.where(RegistryEntry.id.in_(select(RegistryParty.entry_id).where(
                RegistryParty.municipality_code == municipality_code,
                RegistryParty.party_key.in_(actors.party_keys(principal)),
            )))
        if filters.number:
            q = q.where(RegistryEntry.display_number == filters.number.strip())
        if filters.kind:
            if filters.kind not in (ENTRY, EXIT):
                raise InvalidSubmission("kind must be E or S", field="kind")
            q = q.where(RegistryEntry.kind == filters.kind)
        if filters.date_from:
            start = datetime.combine(filters.date_from, time(0), MADRID)
            q = q.where(RegistryEntry.registered_at >= start)
        if filters.date_to:
            end = datetime.combine(filters.date_to + timedelta(days=1), time(0), MADRID)
            q = q.where(RegistryEntry.registered_at < end)
        if filters.party:
            q = q.where(RegistryEntry.id.in_(select(RegistryParty.entry_id).where(
                RegistryParty.municipality_code == municipality_code,
                RegistryParty.party_key == f"id:{filters.party.strip().upper()}",
            )))
        if filters.unit:
            unit = filters.unit.strip().upper()
            q = q.where((RegistryEntry.destination_unit == unit)
                        | (RegistryEntry.origin_unit == unit))
        if filters.sia_code:
            q = q.where(RegistryEntry.sia_code == filters.sia_code.strip())
        limit = max(1, min(filters.limit, 500))
        q = q.order_by(RegistryEntry.registered_at.desc(), RegistryEntry.number.desc())
        with self.sessions() as s:
            return list(s.scalars(q.limit(limit).offset(max(0, filters.offset))))

    def by_verification_code(self, code: str) -> RegistryEntry:
        """The entry a receipt's verification code names (public, constant-time enough:
        the code is 120 random bits looked up by a unique index)."""
        code = (code or "").strip().upper().replace("-", "")
        if not re.fullmatch(r"[A-Z2-7]{24}", code):
            raise ReceiptNotFound("no receipt with that verification code")
        with self.sessions() as s:
            entry = s.scalars(select(RegistryEntry).where(
                RegistryEntry.verification_code == code)).one_or_none()
        if entry is None:
            raise ReceiptNotFound("no receipt with that verification code")
        return entry

    def official_time(self, municipality_code: str) -> dict[str, Any]:
        with self.sessions() as s:
            return official_time(s, municipality_code, current_instant(s, self.clock))
