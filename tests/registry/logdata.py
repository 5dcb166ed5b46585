"""Writes registry rows and their log leaves the way a registration does, for log tests.

Each call is one transaction that locks the log head, takes the next number, reads
the instant, appends the leaf built by ``registry.leaves`` and issues a checkpoint,
exactly the order the registry service follows.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from api.context import Context
from registry import leaves
from registry import log as registry_log
from registry.models import (
    ANNULMENT,
    RECTIFICATION,
    REGISTRATION,
    RegistryEntry,
    RegistryEvent,
)
from registry.numbering import current_instant, display_number, next_number
from registry.officialtime import effective_instant, madrid_date


def register(ctx: Context, municipality: str, office: str, kind: str = "E",
             rectifies: str | None = None, at: datetime | None = None,
             leaf_version: int = leaves.LEAF_VERSION) -> RegistryEntry:
    with ctx.transaction() as s:
        registry_log.lock(s, municipality)
        now = current_instant(s) if at is None else at
        year = madrid_date(now).year
        number = next_number(s, municipality, office, year, kind)
        entry = RegistryEntry(
            id=str(uuid.uuid4()), municipality_code=municipality, office_code=office, kind=kind,
            year=year, number=number,
            display_number=display_number("{year}/{kind}/{number:06d}", year=year, kind=kind,
                                          number=number, office=office),
            registered_at=now, effective_at=effective_instant(s, municipality, now),
            presenter_subject="sub-1",
            presenter={"subject": "sub-1", "capacity": "citizen", "id_number": "12345678Z",
                       "name": "Ana Pérez"},
            registrar=None,
            interested=[{"id_type": "NIF", "id_number": "12345678Z", "name": "Ana Pérez"}],
            epigrafe="Solicitud general", subject=f"Asunto {number}", destination_unit="LA0099902",
            origin_unit=None, sia_code=None, expediente=None, expone="", solicita="",
            rectifies_id=rectifies, idempotency_key=None,
            verification_code=uuid.uuid4().hex[:24], receipt_pdf_sha256="0" * 64,
            receipt_xml_sha256="0" * 64, leaf_index=-1,
        )
        kind_of_event = RECTIFICATION if rectifies else REGISTRATION
        entry.leaf_index = ctx.registry_log.append(
            s, municipality, leaves.registration_leaf(entry, kind_of_event, (),
                                                       version=leaf_version))
        s.add(entry)
        s.add(RegistryEvent(entry_id=entry.id, municipality_code=municipality,
                            kind=kind_of_event, at=now, actor={"subject": "sub-1"},
                            related_id=rectifies, leaf_index=entry.leaf_index))
        ctx.registry_log.checkpoint(s, municipality)
    return entry


def annul(ctx: Context, entry: RegistryEntry, reason: str = "duplicada") -> RegistryEvent:
    with ctx.transaction() as s:
        registry_log.lock(s, entry.municipality_code)
        current = s.get(RegistryEntry, entry.id)
        assert current is not None
        event = RegistryEvent(entry_id=entry.id, municipality_code=entry.municipality_code,
                              kind=ANNULMENT, at=current_instant(s),
                              actor={"subject": "registrar-1", "name": "Luis"}, reason=reason,
                              leaf_index=-1)
        event.leaf_index = ctx.registry_log.append(
            s, entry.municipality_code, leaves.annulment_leaf(current, event))
        s.add(event)
        ctx.registry_log.checkpoint(s, entry.municipality_code)
    return event
