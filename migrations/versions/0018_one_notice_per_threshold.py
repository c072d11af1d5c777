"""expiry notices: one row per certificate and threshold, each channel's state in its columns

A run's warnings were one row per certificate, threshold and channel (owner, admins, webhook):
two or three rows to insert, index and mark sent for every certificate due. Now one row holds
all three: per mail channel the time (claimed, or sent) and the claiming run's token, and the
time the webhook event was queued. Existing rows are folded into the new ones: a sent notice
keeps its sent time, and a claim still in flight gets token 0 (no run's), so that it goes stale
and is retried as a dead host's claim was before. The new table has no foreign key to
certificates: certificate rows are never deleted, and checking the key of each claimed row was
three fifths of the claim statement's time.

Revision ID: 0018
Revises: 0017

"""
import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision = '0018'
down_revision = '0017'
branch_labels = None
depends_on = None

CHANNELS = ('owner', 'admins')  # the mail channels, claimed before sending
ORPHANED = 0  # the token of claims made before this revision: no run holds it


def _new_columns():
    return [
        sa.Column('certificate_id', sa.Integer(), nullable=False),
        sa.Column('threshold_days', sa.Integer(), nullable=False),
        sa.Column('owner_at', sa.DateTime(), nullable=True),
        sa.Column('owner_claim', sa.BigInteger(), nullable=True),
        sa.Column('admins_at', sa.DateTime(), nullable=True),
        sa.Column('admins_claim', sa.BigInteger(), nullable=True),
        sa.Column('webhook_at', sa.DateTime(), nullable=True),
    ]


def _old_columns():
    return [
        sa.Column('certificate_id', sa.Integer(), nullable=False),
        sa.Column('threshold_days', sa.Integer(), nullable=False),
        sa.Column('channel', sa.String(length=16), nullable=False),
        sa.Column('claimed_at', sa.DateTime(), nullable=False),
        sa.Column('sent_at', sa.DateTime(), nullable=True),
    ]


def _table(columns, *constraints):
    """expiry_notices with these columns (and an id), made anew."""
    op.create_table(
        'expiry_notices',
        sa.Column('id', sa.Integer(), nullable=False),
        *columns,
        sa.PrimaryKeyConstraint('id', name=op.f('pk_expiry_notices')),
        *constraints,
    )


def _copy(source: str, columns: list[str], select: str) -> None:
    op.execute(f"INSERT INTO {source} ({', '.join(columns)}) {select}")


def upgrade():
    # the rows, folded, in a table of plain columns: the old one's constraint names are free
    # again once it is dropped, on PostgreSQL too
    op.create_table('expiry_notices_0018', *_new_columns())
    channel = "MAX(CASE WHEN channel = '{0}' THEN {1} END)"
    folded = []
    for name in CHANNELS:
        folded.append(channel.format(name, 'COALESCE(sent_at, claimed_at)'))
        folded.append(channel.format(name, f'CASE WHEN sent_at IS NULL THEN {ORPHANED} END'))
    folded.append(channel.format('webhook', 'COALESCE(sent_at, claimed_at)'))
    names = [column.name for column in _new_columns()]
    _copy('expiry_notices_0018', names,
          f"SELECT certificate_id, threshold_days, {', '.join(folded)} FROM expiry_notices "
          "GROUP BY certificate_id, threshold_days")
    with op.batch_alter_table('expiry_notices', schema=None) as batch_op:
        batch_op.drop_index('ix_expiry_notices_unsent_claimed_at')
    op.drop_table('expiry_notices')

    _table(_new_columns(), sa.UniqueConstraint(
        'certificate_id', 'threshold_days',
        name=op.f('uq_expiry_notices_certificate_id_threshold_days')))
    with op.batch_alter_table('expiry_notices', schema=None) as batch_op:
        for name in CHANNELS:
            claimed = sa.text(f'{name}_claim IS NOT NULL')
            batch_op.create_index(f'ix_expiry_notices_{name}_claimed', [f'{name}_at'],
                                  unique=False, sqlite_where=claimed, postgresql_where=claimed)
    _copy('expiry_notices', names,
          f"SELECT {', '.join(names)} FROM expiry_notices_0018 "
          "ORDER BY certificate_id, threshold_days")
    op.drop_table('expiry_notices_0018')


def downgrade():
    op.create_table('expiry_notices_0017', *_old_columns())
    names = [column.name for column in _old_columns()]
    for name in CHANNELS:
        _copy('expiry_notices_0017', names,
              f"SELECT certificate_id, threshold_days, '{name}', {name}_at, "
              f"CASE WHEN {name}_claim IS NULL THEN {name}_at END FROM expiry_notices "
              f"WHERE {name}_at IS NOT NULL")
    _copy('expiry_notices_0017', names,
          "SELECT certificate_id, threshold_days, 'webhook', webhook_at, webhook_at "
          "FROM expiry_notices WHERE webhook_at IS NOT NULL")
    with op.batch_alter_table('expiry_notices', schema=None) as batch_op:
        for name in CHANNELS:
            batch_op.drop_index(f'ix_expiry_notices_{name}_claimed')
    op.drop_table('expiry_notices')

    _table(_old_columns(), sa.ForeignKeyConstraint(
        ['certificate_id'], ['certificates.id'],
        name=op.f('fk_expiry_notices_certificate_id_certificates')), sa.UniqueConstraint(
        'certificate_id', 'threshold_days', 'channel',
        name=op.f('uq_expiry_notices_certificate_id_threshold_days_channel')))
    unsent = sa.text('sent_at IS NULL')
    with op.batch_alter_table('expiry_notices', schema=None) as batch_op:
        batch_op.create_index('ix_expiry_notices_unsent_claimed_at', ['claimed_at'],
                              unique=False, sqlite_where=unsent, postgresql_where=unsent)
    _copy('expiry_notices', names,
          f"SELECT {', '.join(names)} FROM expiry_notices_0017 "
          "ORDER BY certificate_id, threshold_days, channel")
    op.drop_table('expiry_notices_0017')
