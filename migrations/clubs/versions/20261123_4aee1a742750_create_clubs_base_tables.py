"""create clubs base tables

Revision ID: 4aee1a742750
Revises: 
Create Date: 2026-11-23 09:34:22.006752

"""
from typing import Sequence, Union

from alembic import op

from migrations import plumbing

# revision identifiers, used by Alembic.
revision: str = '4aee1a742750'
down_revision: Union[str, Sequence[str], None] = None
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    plumbing.create_idempotency_keys_20261123()


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_table('idempotency_keys')
