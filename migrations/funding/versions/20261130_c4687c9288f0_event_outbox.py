"""event outbox

Revision ID: c4687c9288f0
Revises: c38ac9ef2de7
Create Date: 2026-11-30 14:34:18.353240

"""
from typing import Sequence, Union

from migrations import plumbing

# revision identifiers, used by Alembic.
revision: str = 'c4687c9288f0'
down_revision: Union[str, Sequence[str], None] = 'c38ac9ef2de7'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    plumbing.create_outbox_events_20261130()


def downgrade() -> None:
    """Downgrade schema."""
    plumbing.drop_outbox_events_20261130()
