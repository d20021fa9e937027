"""an event keeps the id of the request that caused it

Revision ID: e3c5a7b9d1f4
Revises: 5b9d63fb4426
Create Date: 2026-12-07 03:00:00

"""
from typing import Sequence, Union

from migrations import plumbing

revision: str = "e3c5a7b9d1f4"
down_revision: Union[str, Sequence[str], None] = "5b9d63fb4426"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    plumbing.add_event_request_ids_20261207()


def downgrade() -> None:
    plumbing.drop_event_request_ids_20261207()
