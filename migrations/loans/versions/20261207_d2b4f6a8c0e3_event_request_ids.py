"""an event keeps the id of the request that caused it

Revision ID: d2b4f6a8c0e3
Revises: 5d0f68f3c3ab
Create Date: 2026-12-07 03:00:00

"""
from typing import Sequence, Union

from migrations import plumbing

revision: str = "d2b4f6a8c0e3"
down_revision: Union[str, Sequence[str], None] = "5d0f68f3c3ab"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    plumbing.add_event_request_ids_20261207()


def downgrade() -> None:
    plumbing.drop_event_request_ids_20261207()
