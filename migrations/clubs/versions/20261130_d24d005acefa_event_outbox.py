"""event outbox

Revision ID: d24d005acefa
Revises: 7c2e4f1a9b33
Create Date: 2026-11-30 14:34:06.943305

"""
from typing import Sequence, Union

from migrations import plumbing

# revision identifiers, used by Alembic.
revision: str = 'd24d005acefa'
down_revision: Union[str, Sequence[str], None] = '7c2e4f1a9b33'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    plumbing.create_outbox_events_20261130()


def downgrade() -> None:
    """Downgrade schema."""
    plumbing.drop_outbox_events_20261130()
