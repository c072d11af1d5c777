"""expiry notices: the stale-claims index holds only the claims not sent yet (a partial index)

The index on (sent_at, claimed_at) held every notice ever sent, and marking a run's two
thousand claims sent moved each one inside it. A partial index on claimed_at WHERE sent_at IS
NULL holds only the claims in flight: marking one sent just removes it.

Revision ID: 0017
Revises: 0014

"""
import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision = '0017'
down_revision = '0014'
branch_labels = None
depends_on = None

UNSENT = sa.text('sent_at IS NULL')


def upgrade():
    with op.batch_alter_table('expiry_notices', schema=None) as batch_op:
        batch_op.drop_index('ix_expiry_notices_sent_at_claimed_at')
        batch_op.create_index('ix_expiry_notices_unsent_claimed_at', ['claimed_at'], unique=False,
                              sqlite_where=UNSENT, postgresql_where=UNSENT)


def downgrade():
    with op.batch_alter_table('expiry_notices', schema=None) as batch_op:
        batch_op.drop_index('ix_expiry_notices_unsent_claimed_at')
        batch_op.create_index('ix_expiry_notices_sent_at_claimed_at', ['sent_at', 'claimed_at'],
                              unique=False)
