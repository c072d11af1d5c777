"""The audit log's integrity chain: a seal per row and a one-row chain head.

Rows already in the log stay as they are (no key is at hand here): the head records the last
of them, and the first sealed write seals them together as the chain's genesis.

Revision ID: 0008
Revises: 0007
"""
import sqlalchemy as sa
from alembic import op

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade():
    # ADD COLUMN in place (no table copy), so the append-only triggers stay.
    op.add_column('audit_events', sa.Column('chain_seq', sa.BigInteger(), nullable=True))
    op.add_column('audit_events', sa.Column('seal', sa.String(length=64), nullable=True))
    head = op.create_table(
        'audit_chain_head',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('length', sa.BigInteger(), nullable=False),
        sa.Column('genesis_after_id', sa.BigInteger(), nullable=False),
        sa.Column('genesis_seal', sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_chain_head')),
    )
    last = op.get_bind().execute(sa.text("SELECT max(id) FROM audit_events")).scalar()
    op.bulk_insert(head, [{'id': 1, 'length': 0,
                           'genesis_after_id': last or 0, 'genesis_seal': None}])


def downgrade():
    op.drop_table('audit_chain_head')
    # DROP COLUMN in place (SQLite 3.35 and later), not a batch copy, so the triggers stay.
    op.drop_column('audit_events', 'seal')
    op.drop_column('audit_events', 'chain_seq')
