"""an event keeps the id of the request that caused it

Revision ID: c1a3e5f7b9d2
Revises: b8867a734ce3
Create Date: 2026-12-07 03:00:00

"""
from typing import Sequence, Union

from migrations import plumbing

revision: str = "c1a3e5f7b9d2"
down_revision: Union[str, Sequence[str], None] = "b8867a734ce3"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    plumbing.add_event_request_ids_20261207()


def downgrade() -> None:
    plumbing.drop_event_request_ids_20261207()
