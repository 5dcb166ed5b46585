"""registry: entries, attachments, parties, events, counters

Revision ID: registry_0001
Revises:
Create Date: 2026-12-03
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import infra.db

revision = "registry_0001"
down_revision = None
branch_labels = ("registry",)
depends_on = "infra_0001"


def upgrade() -> None:
    op.create_table(
        "registry_counter",
        sa.Column("municipality_code", sa.String(length=9), nullable=False),
        sa.Column("office_code", sa.String(length=9), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=1), nullable=False),
        sa.Column("last", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["municipality_code"], ["municipality.code"],
                                name=op.f("fk_registry_counter_municipality_code_municipality")),
        sa.ForeignKeyConstraint(["office_code"], ["office.code"],
                                name=op.f("fk_registry_counter_office_code_office")),
        sa.PrimaryKeyConstraint("office_code", "year", "kind", name=op.f("pk_registry_counter")),
    )
    op.create_table(
        "registry_entry",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("municipality_code", sa.String(length=9), nullable=False),
        sa.Column("office_code", sa.String(length=9), nullable=False),
        sa.Column("kind", sa.String(length=1), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("number", sa.BigInteger(), nullable=False),
        sa.Column("display_number", sa.String(length=64), nullable=False),
        sa.Column("registered_at", infra.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("effective_at", infra.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("presenter_subject", sa.String(length=200), nullable=False),
        sa.Column("presenter", sa.JSON(), nullable=False),
        sa.Column("registrar", sa.JSON(), nullable=True),
        sa.Column("interested", sa.JSON(), nullable=False),
        sa.Column("epigrafe", sa.String(length=200), nullable=False),
        sa.Column("subject", sa.String(length=240), nullable=False),
        sa.Column("destination_unit", sa.String(length=9), nullable=True),
        sa.Column("origin_unit", sa.String(length=9), nullable=True),
        sa.Column("sia_code", sa.String(length=20), nullable=True),
        sa.Column("expediente", sa.String(length=100), nullable=True),
        sa.Column("expone", sa.Text(), nullable=False),
        sa.Column("solicita", sa.Text(), nullable=False),
        sa.Column("rectifies_id", sa.String(length=36), nullable=True),
        sa.Column("idempotency_key", sa.String(length=200), nullable=True),
        sa.Column("verification_code", sa.String(length=32), nullable=False),
        sa.Column("receipt_pdf_sha256", sa.String(length=64), nullable=False),
        sa.Column("receipt_xml_sha256", sa.String(length=64), nullable=False),
        sa.Column("leaf_index", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["municipality_code"], ["municipality.code"],
                                name=op.f("fk_registry_entry_municipality_code_municipality")),
        sa.ForeignKeyConstraint(["office_code"], ["office.code"],
                                name=op.f("fk_registry_entry_office_code_office")),
        sa.ForeignKeyConstraint(["rectifies_id"], ["registry_entry.id"],
                                name=op.f("fk_registry_entry_rectifies_id_registry_entry")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_registry_entry")),
        sa.UniqueConstraint("office_code", "year", "kind", "number",
                            name=op.f("uq_registry_entry_office_code_year_kind_number")),
        sa.UniqueConstraint("municipality_code", "presenter_subject", "idempotency_key",
                            name=op.f("uq_registry_entry_municipality_code_presenter_subject_idempotency_key")),
        sa.UniqueConstraint("verification_code", name=op.f("uq_registry_entry_verification_code")),
    )
    op.create_index("ix_registry_entry_muni_registered", "registry_entry",
                    ["municipality_code", "registered_at"])
    op.create_index(op.f("ix_registry_entry_display_number"), "registry_entry", ["display_number"])
    op.create_index(op.f("ix_registry_entry_rectifies_id"), "registry_entry", ["rectifies_id"])

    op.create_table(
        "registry_attachment",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("entry_id", sa.String(length=36), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("mime", sa.String(length=100), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(["entry_id"], ["registry_entry.id"],
                                name=op.f("fk_registry_attachment_entry_id_registry_entry")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_registry_attachment")),
        sa.UniqueConstraint("entry_id", "position",
                            name=op.f("uq_registry_attachment_entry_id_position")),
    )
    op.create_index(op.f("ix_registry_attachment_entry_id"), "registry_attachment", ["entry_id"])

    op.create_table(
        "registry_party",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("entry_id", sa.String(length=36), nullable=False),
        sa.Column("municipality_code", sa.String(length=9), nullable=False),
        sa.Column("party_key", sa.String(length=220), nullable=False),
        sa.ForeignKeyConstraint(["entry_id"], ["registry_entry.id"],
                                name=op.f("fk_registry_party_entry_id_registry_entry")),
        sa.ForeignKeyConstraint(["municipality_code"], ["municipality.code"],
                                name=op.f("fk_registry_party_municipality_code_municipality")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_registry_party")),
        sa.UniqueConstraint("entry_id", "party_key",
                            name=op.f("uq_registry_party_entry_id_party_key")),
    )
    op.create_index(op.f("ix_registry_party_entry_id"), "registry_party", ["entry_id"])
    op.create_index("ix_registry_party_muni_key", "registry_party",
                    ["municipality_code", "party_key"])

    op.create_table(
        "registry_event",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("entry_id", sa.String(length=36), nullable=False),
        sa.Column("municipality_code", sa.String(length=9), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("at", infra.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.JSON(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("related_id", sa.String(length=36), nullable=True),
        sa.Column("leaf_index", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["entry_id"], ["registry_entry.id"],
                                name=op.f("fk_registry_event_entry_id_registry_entry")),
        sa.ForeignKeyConstraint(["municipality_code"], ["municipality.code"],
                                name=op.f("fk_registry_event_municipality_code_municipality")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_registry_event")),
    )
    op.create_index(op.f("ix_registry_event_entry_id"), "registry_event", ["entry_id"])
    op.create_index(op.f("ix_registry_event_municipality_code"), "registry_event",
                    ["municipality_code"])


def downgrade() -> None:
    op.drop_table("registry_event")
    op.drop_table("registry_party")
    op.drop_table("registry_attachment")
    op.drop_table("registry_entry")
    op.drop_table("registry_counter")
