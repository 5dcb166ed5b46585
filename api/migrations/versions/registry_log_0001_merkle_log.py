"""registry_log: Merkle log heads, leaves, subtree nodes and checkpoints

Revision ID: registry_log_0001
Revises:
Create Date: 2026-12-03
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import infra.db

revision = "registry_log_0001"
down_revision = None
branch_labels = ("registry_log",)
depends_on = "infra_0001"


def _muni_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(["municipality_code"], ["municipality.code"],
                                   name=op.f(f"fk_{table}_municipality_code_municipality"))


def upgrade() -> None:
    op.create_table(
        "registry_log_head",
        sa.Column("municipality_code", sa.String(length=9), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("frontier", sa.Text(), nullable=False),
        sa.Column("updated_at", infra.db.UTCDateTime(timezone=True), nullable=False),
        _muni_fk("registry_log_head"),
        sa.PrimaryKeyConstraint("municipality_code", name=op.f("pk_registry_log_head")),
    )
    op.create_table(
        "registry_log_leaf",
        sa.Column("municipality_code", sa.String(length=9), nullable=False),
        sa.Column("leaf_index", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("data", sa.Text(), nullable=False),
        sa.Column("leaf_hash", sa.String(length=64), nullable=False),
        sa.Column("appended_at", infra.db.UTCDateTime(timezone=True), nullable=False),
        _muni_fk("registry_log_leaf"),
        sa.PrimaryKeyConstraint("municipality_code", "leaf_index",
                                name=op.f("pk_registry_log_leaf")),
    )
    op.create_table(
        "registry_log_node",
        sa.Column("municipality_code", sa.String(length=9), nullable=False),
        sa.Column("level", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("node_index", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        _muni_fk("registry_log_node"),
        sa.PrimaryKeyConstraint("municipality_code", "level", "node_index",
                                name=op.f("pk_registry_log_node")),
    )
    op.create_table(
        "registry_log_checkpoint",
        sa.Column("municipality_code", sa.String(length=9), nullable=False),
        sa.Column("size", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("root", sa.String(length=64), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("timestamp", sa.LargeBinary(), nullable=True),
        sa.Column("created_at", infra.db.UTCDateTime(timezone=True), nullable=False),
        _muni_fk("registry_log_checkpoint"),
        sa.PrimaryKeyConstraint("municipality_code", "size",
                                name=op.f("pk_registry_log_checkpoint")),
    )


def downgrade() -> None:
    op.drop_table("registry_log_checkpoint")
    op.drop_table("registry_log_node")
    op.drop_table("registry_log_leaf")
    op.drop_table("registry_log_head")
