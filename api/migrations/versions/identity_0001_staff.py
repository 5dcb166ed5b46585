"""identity: staff role grants

Revision ID: identity_0001
Revises:
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import infra.db

revision = "identity_0001"
down_revision = None
branch_labels = ("identity",)
depends_on = "infra_0001"


def upgrade() -> None:
    op.create_table(
        "staff_grant",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("municipality_code", sa.String(length=9), nullable=False),
        sa.Column("dni", sa.String(length=9), nullable=False),
        sa.Column("role", sa.String(length=32), nullable=False),
        sa.Column("granted_at", infra.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["municipality_code"],
            ["municipality.code"],
            name=op.f("fk_staff_grant_municipality_code_municipality"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_staff_grant")),
        sa.UniqueConstraint(
            "municipality_code",
            "dni",
            "role",
            name=op.f("uq_staff_grant_municipality_code_dni_role"),
        ),
    )
    with op.batch_alter_table("staff_grant", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_staff_grant_municipality_code"), ["municipality_code"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("staff_grant", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_staff_grant_municipality_code"))
    op.drop_table("staff_grant")
