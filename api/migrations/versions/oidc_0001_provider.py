"""oidc: clients, signing keys, consents

Revision ID: oidc_0001
Revises:
Create Date: 2026-12-03
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import infra.db

revision = "oidc_0001"
down_revision = None
branch_labels = ("oidc",)
depends_on = "infra_0001"


def upgrade() -> None:
    op.create_table(
        "oidc_client",
        sa.Column("client_id", sa.String(length=100), nullable=False),
        sa.Column("municipality_code", sa.String(length=9), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("client_type", sa.String(length=20), nullable=False),
        sa.Column("secret_hash", sa.String(length=64), nullable=True),
        sa.Column("redirect_uris", sa.JSON(), nullable=False),
        sa.Column("post_logout_redirect_uris", sa.JSON(), nullable=False),
        sa.Column("token_endpoint_auth_method", sa.String(length=40), nullable=False),
        sa.Column("jwks", sa.JSON(), nullable=True),
        sa.Column("tls_certificate_thumbprint", sa.String(length=64), nullable=True),
        sa.Column("allowed_scopes", sa.JSON(), nullable=False),
        sa.Column("subject_type", sa.String(length=10), nullable=False),
        sa.Column("id_token_signed_response_alg", sa.String(length=10), nullable=False),
        sa.Column("created_at", infra.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["municipality_code"], ["municipality.code"],
                                name=op.f("fk_oidc_client_municipality_code_municipality")),
        sa.PrimaryKeyConstraint("client_id", name=op.f("pk_oidc_client")),
    )
    with op.batch_alter_table("oidc_client", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_oidc_client_municipality_code"),
                              ["municipality_code"], unique=False)

    op.create_table(
        "oidc_signing_key",
        sa.Column("kid", sa.String(length=64), nullable=False),
        sa.Column("alg", sa.String(length=10), nullable=False),
        sa.Column("public_jwk", sa.JSON(), nullable=False),
        sa.Column("encrypted_private_jwk", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", infra.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("retired_at", infra.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("expires_after", infra.db.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("kid", name=op.f("pk_oidc_signing_key")),
    )

    op.create_table(
        "oidc_consent",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("municipality_code", sa.String(length=9), nullable=False),
        sa.Column("subject", sa.String(length=64), nullable=False),
        sa.Column("client_id", sa.String(length=100), nullable=False),
        sa.Column("scopes", sa.JSON(), nullable=False),
        sa.Column("granted_at", infra.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["client_id"], ["oidc_client.client_id"],
                                name=op.f("fk_oidc_consent_client_id_oidc_client"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["municipality_code"], ["municipality.code"],
                                name=op.f("fk_oidc_consent_municipality_code_municipality")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_oidc_consent")),
        sa.UniqueConstraint("municipality_code", "subject", "client_id",
                            name=op.f("uq_oidc_consent_municipality_code_subject_client_id")),
    )
    with op.batch_alter_table("oidc_consent", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_oidc_consent_municipality_code"),
                              ["municipality_code"], unique=False)
        batch_op.create_index(batch_op.f("ix_oidc_consent_client_id"), ["client_id"],
                              unique=False)


def downgrade() -> None:
    op.drop_table("oidc_consent")
    op.drop_table("oidc_signing_key")
    with op.batch_alter_table("oidc_client", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_oidc_client_municipality_code"))
    op.drop_table("oidc_client")
