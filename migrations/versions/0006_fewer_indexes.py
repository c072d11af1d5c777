"""Drop two indexes that no query uses.

Every issuance writes the certificate indexes (pending row, then issued) and the audit
indexes: nothing looks certificates up by fingerprint, nor audit events by time (the log is
read in id order). The single-column (status), (profile) and (ca_id) indexes stay although
composites lead with the same columns: they hold the rowid, so the default newest-first lists
read them in order without a sort.

Revision ID: 0006
Revises: 0005
"""
from alembic import op

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None

DROPPED = [
    ('certificates', 'ix_certificates_fingerprint_sha256', ['fingerprint_sha256']),
    ('audit_events', 'ix_audit_events_at', ['at']),
]


def upgrade():
    for table, name, _columns in DROPPED:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_index(name)


def downgrade():
    for table, name, columns in reversed(DROPPED):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.create_index(name, columns, unique=False)
