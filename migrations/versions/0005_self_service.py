"""self service: profile policies, certificate requests and one-time enrollment links

Revision ID: 0005
Revises: 0004

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('profile_policies',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('profile', sa.String(length=16), nullable=False),
    sa.Column('self_service', sa.Boolean(), nullable=False),
    sa.Column('auto_issue', sa.Boolean(), nullable=False),
    sa.Column('common_name_rule', sa.String(length=16), nullable=False),
    sa.Column('email_rule', sa.String(length=16), nullable=False),
    sa.Column('dns_suffixes', sa.Text(), nullable=False),
    sa.Column('ip_networks', sa.Text(), nullable=False),
    sa.Column('max_days', sa.Integer(), nullable=True),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.Column('updated_by', sa.String(length=128), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_profile_policies')),
    sa.UniqueConstraint('profile', name=op.f('uq_profile_policies_profile'))
    )
    op.create_table('certificate_requests',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('requester_id', sa.Integer(), nullable=False),
    sa.Column('profile', sa.String(length=16), nullable=False),
    sa.Column('method', sa.String(length=16), nullable=False),
    sa.Column('common_name', sa.String(length=255), nullable=True),
    sa.Column('subject', sa.String(length=1024), nullable=False),
    sa.Column('sans', sa.Text(), nullable=False),
    sa.Column('key_type', sa.String(length=16), nullable=False),
    sa.Column('days', sa.Integer(), nullable=True),
    sa.Column('csr_der', sa.LargeBinary(), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('renews_id', sa.Integer(), nullable=True),
    sa.Column('certificate_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('decided_at', sa.DateTime(), nullable=True),
    sa.Column('decided_by', sa.String(length=128), nullable=True),
    sa.Column('comment', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['certificate_id'], ['certificates.id'], name=op.f('fk_certificate_requests_certificate_id_certificates')),
    sa.ForeignKeyConstraint(['renews_id'], ['certificates.id'], name=op.f('fk_certificate_requests_renews_id_certificates')),
    sa.ForeignKeyConstraint(['requester_id'], ['users.id'], name=op.f('fk_certificate_requests_requester_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_certificate_requests'))
    )
    with op.batch_alter_table('certificate_requests', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_certificate_requests_renews_id'), ['renews_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_certificate_requests_requester_id'), ['requester_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_certificate_requests_status'), ['status'], unique=False)

    op.create_table('enrollment_links',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('token_sha256', sa.String(length=64), nullable=False),
    sa.Column('common_name', sa.String(length=64), nullable=False),
    sa.Column('email', sa.String(length=254), nullable=True),
    sa.Column('profile', sa.String(length=16), nullable=False),
    sa.Column('key_type', sa.String(length=16), nullable=False),
    sa.Column('days', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('created_by', sa.String(length=128), nullable=False),
    sa.Column('expires_at', sa.DateTime(), nullable=False),
    sa.Column('used_at', sa.DateTime(), nullable=True),
    sa.Column('cancelled_at', sa.DateTime(), nullable=True),
    sa.Column('certificate_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['certificate_id'], ['certificates.id'], name=op.f('fk_enrollment_links_certificate_id_certificates')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_enrollment_links')),
    sa.UniqueConstraint('token_sha256', name=op.f('uq_enrollment_links_token_sha256'))
    )


def downgrade():
    op.drop_table('enrollment_links')
    with op.batch_alter_table('certificate_requests', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_certificate_requests_status'))
        batch_op.drop_index(batch_op.f('ix_certificate_requests_requester_id'))
        batch_op.drop_index(batch_op.f('ix_certificate_requests_renews_id'))

    op.drop_table('certificate_requests')
    op.drop_table('profile_policies')
