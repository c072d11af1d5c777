"""acme server: endpoints, nonces, accounts, orders, authorizations, challenges, EAB keys

Revision ID: 0011
Revises: 0009


"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('acme_nonces',
    sa.Column('value', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('value', name=op.f('pk_acme_nonces'))
    )
    with op.batch_alter_table('acme_nonces', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_acme_nonces_created_at'), ['created_at'], unique=False)

    op.create_table('acme_eab_keys',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('key_id', sa.String(length=64), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('hmac_sealed', sa.LargeBinary(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('created_by', sa.String(length=128), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_acme_eab_keys_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_acme_eab_keys')),
    sa.UniqueConstraint('key_id', name=op.f('uq_acme_eab_keys_key_id'))
    )
    with op.batch_alter_table('acme_eab_keys', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_acme_eab_keys_user_id'), ['user_id'], unique=False)

    op.create_table('acme_endpoints',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('ca_id', sa.Integer(), nullable=False),
    sa.Column('profile', sa.String(length=16), nullable=False),
    sa.Column('domains', sa.Text(), nullable=False),
    sa.Column('networks', sa.Text(), nullable=False),
    sa.Column('days', sa.Integer(), nullable=False),
    sa.Column('eab_required', sa.Boolean(), nullable=False),
    sa.Column('enabled', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['ca_id'], ['certificate_authorities.id'], name=op.f('fk_acme_endpoints_ca_id_certificate_authorities')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_acme_endpoints')),
    sa.UniqueConstraint('name', name=op.f('uq_acme_endpoints_name'))
    )
    op.create_table('acme_accounts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('endpoint_id', sa.Integer(), nullable=False),
    sa.Column('thumbprint', sa.String(length=64), nullable=False),
    sa.Column('jwk', sa.Text(), nullable=False),
    sa.Column('contact', sa.Text(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('eab_key_id', sa.Integer(), nullable=True),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['eab_key_id'], ['acme_eab_keys.id'], name=op.f('fk_acme_accounts_eab_key_id_acme_eab_keys')),
    sa.ForeignKeyConstraint(['endpoint_id'], ['acme_endpoints.id'], name=op.f('fk_acme_accounts_endpoint_id_acme_endpoints')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_acme_accounts_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_acme_accounts')),
    sa.UniqueConstraint('eab_key_id', name=op.f('uq_acme_accounts_eab_key_id')),
    sa.UniqueConstraint('endpoint_id', 'thumbprint', name=op.f('uq_acme_accounts_endpoint_id_thumbprint'))
    )
    with op.batch_alter_table('acme_accounts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_acme_accounts_user_id'), ['user_id'], unique=False)

    op.create_table('acme_authorizations',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('identifier_type', sa.String(length=8), nullable=False),
    sa.Column('identifier_value', sa.String(length=255), nullable=False),
    sa.Column('wildcard', sa.Boolean(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('expires', sa.DateTime(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['acme_accounts.id'], name=op.f('fk_acme_authorizations_account_id_acme_accounts')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_acme_authorizations'))
    )
    with op.batch_alter_table('acme_authorizations', schema=None) as batch_op:
        batch_op.create_index('ix_acme_authorizations_account_value', ['account_id', 'identifier_value'], unique=False)

    op.create_table('acme_orders',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('identifiers', sa.Text(), nullable=False),
    sa.Column('expires', sa.DateTime(), nullable=False),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('certificate_id', sa.Integer(), nullable=True),
    sa.Column('replaces', sa.String(length=255), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['acme_accounts.id'], name=op.f('fk_acme_orders_account_id_acme_accounts')),
    sa.ForeignKeyConstraint(['certificate_id'], ['certificates.id'], name=op.f('fk_acme_orders_certificate_id_certificates')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_acme_orders'))
    )
    with op.batch_alter_table('acme_orders', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_acme_orders_account_id'), ['account_id'], unique=False)

    op.create_table('acme_challenges',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('authorization_id', sa.Integer(), nullable=False),
    sa.Column('type', sa.String(length=16), nullable=False),
    sa.Column('token', sa.String(length=64), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('validated', sa.DateTime(), nullable=True),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', sa.DateTime(), nullable=True),
    sa.Column('deadline', sa.DateTime(), nullable=True),
    sa.Column('claimed_until', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['authorization_id'], ['acme_authorizations.id'], name=op.f('fk_acme_challenges_authorization_id_acme_authorizations')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_acme_challenges'))
    )
    with op.batch_alter_table('acme_challenges', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_acme_challenges_authorization_id'), ['authorization_id'], unique=False)
        batch_op.create_index('ix_acme_challenges_status_next_attempt_at', ['status', 'next_attempt_at'], unique=False)

    op.create_table('acme_order_authorizations',
    sa.Column('order_id', sa.Integer(), nullable=False),
    sa.Column('authorization_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['authorization_id'], ['acme_authorizations.id'], name=op.f('fk_acme_order_authorizations_authorization_id_acme_authorizations')),
    sa.ForeignKeyConstraint(['order_id'], ['acme_orders.id'], name=op.f('fk_acme_order_authorizations_order_id_acme_orders')),
    sa.PrimaryKeyConstraint('order_id', 'authorization_id', name=op.f('pk_acme_order_authorizations'))
    )
    with op.batch_alter_table('acme_order_authorizations', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_acme_order_authorizations_authorization_id'), ['authorization_id'], unique=False)



def downgrade():
    with op.batch_alter_table('acme_order_authorizations', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_acme_order_authorizations_authorization_id'))

    op.drop_table('acme_order_authorizations')
    with op.batch_alter_table('acme_challenges', schema=None) as batch_op:
        batch_op.drop_index('ix_acme_challenges_status_next_attempt_at')
        batch_op.drop_index(batch_op.f('ix_acme_challenges_authorization_id'))

    op.drop_table('acme_challenges')
    with op.batch_alter_table('acme_orders', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_acme_orders_account_id'))

    op.drop_table('acme_orders')
    with op.batch_alter_table('acme_authorizations', schema=None) as batch_op:
        batch_op.drop_index('ix_acme_authorizations_account_value')

    op.drop_table('acme_authorizations')
    with op.batch_alter_table('acme_accounts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_acme_accounts_user_id'))

    op.drop_table('acme_accounts')
    op.drop_table('acme_endpoints')
    with op.batch_alter_table('acme_eab_keys', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_acme_eab_keys_user_id'))

    op.drop_table('acme_eab_keys')
    with op.batch_alter_table('acme_nonces', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_acme_nonces_created_at'))

    op.drop_table('acme_nonces')
