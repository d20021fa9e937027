"""offline sync: a change stamp on commitments, receipts and allocations, the SQLite change counter and the tombstones

Revision ID: e3c7a1f5d924
Revises: c4687c9288f0
Create Date: 2026-12-06 12:30:00

The triggers that write the stamps are (re)installed after every migration run
(`common.sync.install_triggers`), since SQLite's batch migrations rebuild tables without them.
"""
from typing import Sequence, Union

from migrations import plumbing

revision: str = "e3c7a1f5d924"
down_revision: Union[str, Sequence[str], None] = "c4687c9288f0"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

SYNCED = ['commitments', 'receipts', 'allocations']


def upgrade() -> None:
    plumbing.add_offline_sync_20261206(SYNCED)


def downgrade() -> None:
    plumbing.drop_offline_sync_20261206(SYNCED)
