"""create gateway base tables

Revision ID: 95d6b2d91600
Revises: 
Create Date: 2026-11-23 09:34:19.805482

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa
import sqlmodel  # noqa: F401  (autogenerate writes its column types)

from migrations import plumbing


# revision identifiers, used by Alembic.
revision: str = '95d6b2d91600'
down_revision: Union[str, Sequence[str], None] = None
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def _create_principals(table: str, identity: str, name: str, secret: str) -> None:
    """Users and API clients alike: a role and its scope, then who they are."""
    op.create_table(table,
    sa.Column('role', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('provinces', sa.JSON(), nullable=False),
    sa.Column('communes', sa.JSON(), nullable=False),
    sa.Column('clubs', sa.JSON(), nullable=False),
    sa.Column('funder_id', sa.Integer(), nullable=True),
    sa.Column('bank_code', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=True),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column(identity, sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column(name, sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column(secret, sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f(f'pk_{table}')),
    sa.UniqueConstraint(identity, name=op.f(f'uq_{table}_{identity}'))
    )
    with op.batch_alter_table(table, schema=None) as batch_op:
        batch_op.create_index(batch_op.f(f'ix_{table}_role'), ['role'], unique=False)


def _drop_principals(table: str) -> None:
    with op.batch_alter_table(table, schema=None) as batch_op:
        batch_op.drop_index(batch_op.f(f'ix_{table}_role'))

    op.drop_table(table)


def upgrade() -> None:
    """Upgrade schema."""
    _create_principals('api_clients', 'client_id', 'name', 'secret_hash')
    plumbing.create_idempotency_keys_20261123()
    op.create_table('login_failures',
    sa.Column('identity', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
    sa.Column('failures', sa.Integer(), nullable=False),
    sa.Column('blocked_until', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('identity', name=op.f('pk_login_failures'))
    )
    _create_principals('users', 'username', 'full_name', 'password_hash')


def downgrade() -> None:
    """Downgrade schema."""
    _drop_principals('users')
    op.drop_table('login_failures')
    op.drop_table('idempotency_keys')
    _drop_principals('api_clients')
