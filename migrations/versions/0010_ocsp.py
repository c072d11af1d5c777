"""ocsp: each CA's delegated responder, pre-signed responses, served/signed counters

Revision ID: 0010
Revises: 0009


"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('ocsp_responders',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('ca_id', sa.Integer(), nullable=False),
    sa.Column('serial', sa.String(length=42), nullable=False),
    sa.Column('fingerprint_sha256', sa.String(length=64), nullable=False),
    sa.Column('not_before', sa.DateTime(), nullable=False),
    sa.Column('not_after', sa.DateTime(), nullable=False),
    sa.Column('certificate_der', sa.LargeBinary(), nullable=False),
    sa.Column('key_encrypted', sa.LargeBinary(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['ca_id'], ['certificate_authorities.id'], name=op.f('fk_ocsp_responders_ca_id_certificate_authorities')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ocsp_responders')),
    sa.UniqueConstraint('ca_id', name=op.f('uq_ocsp_responders_ca_id'))
    )
    op.create_table('ocsp_responses',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('ca_id', sa.Integer(), nullable=False),
    sa.Column('serial', sa.String(length=42), nullable=False),
    sa.Column('hash_algorithm', sa.String(length=8), nullable=False),
    sa.Column('status', sa.String(length=8), nullable=False),
    sa.Column('this_update', sa.DateTime(), nullable=False),
    sa.Column('next_update', sa.DateTime(), nullable=False),
    sa.Column('signed_by', sa.String(length=64), nullable=False),
    sa.Column('der', sa.LargeBinary(), nullable=False),
    sa.ForeignKeyConstraint(['ca_id'], ['certificate_authorities.id'], name=op.f('fk_ocsp_responses_ca_id_certificate_authorities')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ocsp_responses')),
    sa.UniqueConstraint('ca_id', 'serial', 'hash_algorithm', name=op.f('uq_ocsp_responses_ca_id_serial_hash_algorithm'))
    )
    with op.batch_alter_table('ocsp_responses', schema=None) as batch_op:
        batch_op.create_index('ix_ocsp_responses_this_update', ['this_update'], unique=False)

    op.create_table('ocsp_counters',
    sa.Column('name', sa.String(length=32), nullable=False),
    sa.Column('value', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_ocsp_counters'))
    )


def downgrade():
    op.drop_table('ocsp_counters')
    with op.batch_alter_table('ocsp_responses', schema=None) as batch_op:
        batch_op.drop_index('ix_ocsp_responses_this_update')

    op.drop_table('ocsp_responses')
    op.drop_table('ocsp_responders')
