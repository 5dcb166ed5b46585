"""Tables of the electronic registry (Ley 39/2015 art. 16).

Rows here are written once and never updated or deleted: a correction is a new
entry that ``rectifies`` the original, and an annulment is a ``RegistryEvent``.
The current status of an entry is therefore derived from its events, so that its
whole history stays queryable and every change is a leaf of the Merkle log.

``RegistryCounter`` is the only mutable table: it holds the last number issued per
(office, Madrid year, kind) and is incremented inside the registration
transaction, so an aborted registration never burns a number.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from infra.db import Base, UTCDateTime

#: Entry (entrada) and exit (salida), as in the displayed number ``2026/E/000123``.
ENTRY = "E"
EXIT = "S"
KINDS = (ENTRY, EXIT)

#: Kinds of registry events; each is one leaf of the municipality's Merkle log.
REGISTRATION = "registration"
RECTIFICATION = "rectification"
ANNULMENT = "annulment"
EVENT_KINDS = (REGISTRATION, RECTIFICATION, ANNULMENT)


class RegistryCounter(Base):
    """Last number issued per office, year (Europe/Madrid) and kind."""

    __tablename__ = "registry_counter"

    municipality_code: Mapped[str] = mapped_column(ForeignKey("municipality.code"))
    office_code: Mapped[str] = mapped_column(ForeignKey("office.code"), primary_key=True)
    year: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(1), primary_key=True)
    last: Mapped[int] = mapped_column(BigInteger)


class RegistryEntry(Base):
    """An entry (``E``) or exit (``S``) of the registry.

    ``presenter`` is who submitted it (``{"subject", "capacity", "id_number",
    "name", "entity"?}``); ``registrar`` is the employee who registered it on the
    presenter's behalf (in-person submission) or who registered an exit, with the
    ``office``; ``interested`` lists the interested parties (``{"id_type",
    "id_number", "name", ...}``). For exits, ``interested`` holds the addressees
    (people or administrations) and ``origin_unit`` the sending unit.
    """

    __tablename__ = "registry_entry"
    __table_args__ = (
        UniqueConstraint("office_code", "year", "kind", "number"),
        UniqueConstraint("municipality_code", "presenter_subject", "idempotency_key"),
        Index("ix_registry_entry_muni_registered", "municipality_code", "registered_at"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    municipality_code: Mapped[str] = mapped_column(ForeignKey("municipality.code"))
    office_code: Mapped[str] = mapped_column(ForeignKey("office.code"))
    kind: Mapped[str] = mapped_column(String(1))
    year: Mapped[int] = mapped_column(Integer)
    number: Mapped[int] = mapped_column(BigInteger)
    display_number: Mapped[str] = mapped_column(String(64), index=True)
    #: The real instant, from the service clock after the number was taken (UTC).
    registered_at: Mapped[datetime] = mapped_column(UTCDateTime)
    #: Art. 31: on a non-working day, 00:00 Europe/Madrid of the next working day.
    effective_at: Mapped[datetime] = mapped_column(UTCDateTime)
    presenter_subject: Mapped[str] = mapped_column(String(200))
    presenter: Mapped[dict[str, Any]] = mapped_column(JSON)
    registrar: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    interested: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    epigrafe: Mapped[str] = mapped_column(String(200))
    subject: Mapped[str] = mapped_column(String(240))
    destination_unit: Mapped[str | None] = mapped_column(String(9), default=None)
    origin_unit: Mapped[str | None] = mapped_column(String(9), default=None)
    sia_code: Mapped[str | None] = mapped_column(String(20), default=None)
    expediente: Mapped[str | None] = mapped_column(String(100), default=None)
    expone: Mapped[str] = mapped_column(Text, default="")
    solicita: Mapped[str] = mapped_column(Text, default="")
    rectifies_id: Mapped[str | None] = mapped_column(
        ForeignKey("registry_entry.id"), default=None, index=True
    )
    idempotency_key: Mapped[str | None] = mapped_column(String(200), default=None)
    #: Public, unguessable code printed on the receipt (``GET /registry/receipts/{code}``).
    verification_code: Mapped[str] = mapped_column(String(32), unique=True)
    #: SHA-256 of the sealed receipt PDF and signed XML; both are in the blob store.
    receipt_pdf_sha256: Mapped[str] = mapped_column(String(64))
    receipt_xml_sha256: Mapped[str] = mapped_column(String(64))
    #: Index of the registration (or rectification) leaf in the municipality's log.
    leaf_index: Mapped[int] = mapped_column(BigInteger)

    attachments: Mapped[list[RegistryAttachment]] = relationship(
        order_by="RegistryAttachment.position", lazy="selectin"
    )
    events: Mapped[list[RegistryEvent]] = relationship(
        order_by="RegistryEvent.id", lazy="selectin"
    )

    @property
    def annulled(self) -> bool:
        return any(e.kind == ANNULMENT for e in self.events)


class RegistryAttachment(Base):
    """A document attached to an entry; its content is the blob named by ``sha256``."""

    __tablename__ = "registry_attachment"
    __table_args__ = (UniqueConstraint("entry_id", "position"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    entry_id: Mapped[str] = mapped_column(ForeignKey("registry_entry.id"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(255))
    size: Mapped[int] = mapped_column(BigInteger)
    mime: Mapped[str] = mapped_column(String(100))
    sha256: Mapped[str] = mapped_column(String(64))


class RegistryParty(Base):
    """Who may see an entry as a party: presenter and interested, by normalised key.

    Keys look like ``sub:<subject>`` or ``id:<NIF/CIF>``; they make "my entries"
    and the registrar's search by interested party indexed lookups on both
    backends instead of JSON scans.
    """

    __tablename__ = "registry_party"
    __table_args__ = (
        UniqueConstraint("entry_id", "party_key"),
        Index("ix_registry_party_muni_key", "municipality_code", "party_key"),
    )

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    entry_id: Mapped[str] = mapped_column(ForeignKey("registry_entry.id"), index=True)
    municipality_code: Mapped[str] = mapped_column(ForeignKey("municipality.code"))
    party_key: Mapped[str] = mapped_column(String(220))


class RegistryEvent(Base):
    """One event in an entry's life: registration, rectification or annulment."""

    __tablename__ = "registry_event"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    entry_id: Mapped[str] = mapped_column(ForeignKey("registry_entry.id"), index=True)
    municipality_code: Mapped[str] = mapped_column(ForeignKey("municipality.code"), index=True)
    kind: Mapped[str] = mapped_column(String(20))
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    #: ``{"subject", "capacity", "name"}`` of who caused the event.
    actor: Mapped[dict[str, Any]] = mapped_column(JSON)
    reason: Mapped[str | None] = mapped_column(Text, default=None)
    #: For a rectification event on the original entry: the new entry's id.
    related_id: Mapped[str | None] = mapped_column(String(36), default=None)
    leaf_index: Mapped[int] = mapped_column(BigInteger)
