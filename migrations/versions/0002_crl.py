"""crl: a CRL number counter per CA and the current signed CRL of each CA

Revision ID: 0002
Revises: 0001

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('crl_counters',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('ca_id', sa.Integer(), nullable=False),
    sa.Column('last_number', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['ca_id'], ['certificate_authorities.id'], name=op.f('fk_crl_counters_ca_id_certificate_authorities')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_crl_counters')),
    sa.UniqueConstraint('ca_id', name=op.f('uq_crl_counters_ca_id'))
    )
    op.create_table('crls',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('ca_id', sa.Integer(), nullable=False),
    sa.Column('number', sa.BigInteger(), nullable=False),
    sa.Column('this_update', sa.DateTime(), nullable=False),
    sa.Column('next_update', sa.DateTime(), nullable=False),
    sa.Column('revoked_count', sa.Integer(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('der', sa.LargeBinary(), nullable=False),
    sa.ForeignKeyConstraint(['ca_id'], ['certificate_authorities.id'], name=op.f('fk_crls_ca_id_certificate_authorities')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_crls')),
    sa.UniqueConstraint('ca_id', name=op.f('uq_crls_ca_id'))
    )


def downgrade():
    op.drop_table('crls')
    op.drop_table('crl_counters')
