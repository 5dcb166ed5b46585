"""signing: TSA serial counter

Revision ID: signing_0001
Revises:
Create Date: 2026-12-03
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = 'signing_0001'
down_revision = None
branch_labels = ('signing',)
depends_on = 'infra_0001'


def upgrade() -> None:
    op.create_table(
        'tsa_serial',
        sa.Column('name', sa.String(length=50), nullable=False),
        sa.Column('value', sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint('name', name=op.f('pk_tsa_serial')),
    )
    op.bulk_insert(sa.table('tsa_serial', sa.column('name', sa.String), sa.column('value', sa.BigInteger)),
                   [{'name': 'tsa', 'value': 0}])


def downgrade() -> None:
    op.drop_table('tsa_serial')
