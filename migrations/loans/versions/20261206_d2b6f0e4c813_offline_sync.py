"""offline sync: a change stamp on loans, repayments, fund entries and bank loan records, the SQLite change counter and the tombstones

Revision ID: d2b6f0e4c813
Revises: b84f27c1d9e3
Create Date: 2026-12-06 12:30:00

The triggers that write the stamps are (re)installed after every migration run
(`common.sync.install_triggers`), since SQLite's batch migrations rebuild tables without them.
"""
from typing import Sequence, Union

from migrations import plumbing

revision: str = "d2b6f0e4c813"
down_revision: Union[str, Sequence[str], None] = "b84f27c1d9e3"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

SYNCED = ['loans', 'loan_repayments', 'ledger_entries', 'bank_loans']


def upgrade() -> None:
    plumbing.add_offline_sync_20261206(SYNCED)


def downgrade() -> None:
    plumbing.drop_offline_sync_20261206(SYNCED)
