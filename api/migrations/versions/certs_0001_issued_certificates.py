"""certs: certificates issued by the deployment's own CA, with revocation status

Revision ID: certs_0001
Revises:
Create Date: 2026-12-03
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import infra.db

revision = "certs_0001"
down_revision = None
branch_labels = ("certs",)
depends_on = "infra_0001"


def upgrade() -> None:
    op.create_table(
        "issued_certificate",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("issuer_key_id", sa.String(length=64), nullable=False),
        sa.Column("issuer_name", sa.String(length=1000), nullable=False),
        sa.Column("serial", sa.String(length=64), nullable=False),
        sa.Column("subject", sa.String(length=1000), nullable=False),
        sa.Column("label", sa.String(length=200), nullable=True),
        sa.Column("not_before", infra.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("not_after", infra.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("revoked_at", infra.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("reason", sa.String(length=32), nullable=True),
        sa.Column("created_at", infra.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_issued_certificate")),
        sa.UniqueConstraint("issuer_key_id", "serial",
                            name=op.f("uq_issued_certificate_issuer_key_id_serial")),
    )
    with op.batch_alter_table("issued_certificate", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_issued_certificate_issuer_key_id"),
                              ["issuer_key_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_issued_certificate_serial"), ["serial"],
                              unique=False)


def downgrade() -> None:
    with op.batch_alter_table("issued_certificate", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_issued_certificate_serial"))
        batch_op.drop_index(batch_op.f("ix_issued_certificate_issuer_key_id"))
    op.drop_table("issued_certificate")
