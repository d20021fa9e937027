"""offline sync: a change stamp on clubs, members, meetings and activities, the SQLite change counter and the tombstones

Revision ID: c1a5e9d3b702
Revises: e7a2c4b9d105
Create Date: 2026-12-06 12:30:00

The triggers that write the stamps are (re)installed after every migration run
(`common.sync.install_triggers`), since SQLite's batch migrations rebuild tables without them.
"""
from typing import Sequence, Union

from migrations import plumbing

revision: str = "c1a5e9d3b702"
down_revision: Union[str, Sequence[str], None] = "e7a2c4b9d105"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

SYNCED = ['clubs', 'members', 'activities', 'meetings']


def upgrade() -> None:
    plumbing.add_offline_sync_20261206(SYNCED)


def downgrade() -> None:
    plumbing.drop_offline_sync_20261206(SYNCED)
