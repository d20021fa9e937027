"""offline sync: a change stamp on commitments, receipts and allocations, the SQLite change counter and the tombstones

Revision ID: e3c7a1f5d924
Revises: c4687c9288f0
Create Date: 2026-12-06 12:30:00

The triggers that write the stamps are (re)installed after every migration run
(`common.sync.install_triggers`), since SQLite's batch migrations rebuild tables without them.
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = "e3c7a1f5d924"
down_revision: Union[str, Sequence[str], None] = "c4687c9288f0"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

SYNCED = ['commitments', 'receipts', 'allocations']


def upgrade() -> None:
    for table in SYNCED:
        op.add_column(table, sa.Column("sync_stamp", sa.BigInteger(), nullable=True))
        op.create_index(f"ix_{table}_sync_stamp", table, ["sync_stamp"], unique=False)
    op.create_table(
        "sync_clock",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("tick", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sync_clock")),
        comment="SQLite's change counter; PostgreSQL stamps transaction ids instead.",
    )
    op.create_table(
        "sync_tombstones",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("collection", sa.String(length=40), nullable=False),
        sa.Column("row_id", sa.Integer(), nullable=False),
        sa.Column("club_id", sa.Integer(), nullable=True),
        sa.Column("removed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sync_stamp", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sync_tombstones")),
    )
    op.create_index("ix_sync_tombstones_club_id", "sync_tombstones", ["club_id"], unique=False)
    op.create_index(
        "ix_sync_tombstones_sync_stamp", "sync_tombstones", ["sync_stamp"], unique=False
    )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table in [*SYNCED, "sync_tombstones"]:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_sync_stamp ON {table}")
        op.execute("DROP FUNCTION IF EXISTS ishc_sync_stamp()")
    else:
        for table in [*SYNCED, "sync_tombstones"]:
            for event in ("insert", "update"):
                op.execute(f"DROP TRIGGER IF EXISTS {table}_sync_{event}")
    op.drop_index("ix_sync_tombstones_sync_stamp", table_name="sync_tombstones")
    op.drop_index("ix_sync_tombstones_club_id", table_name="sync_tombstones")
    op.drop_table("sync_tombstones")
    op.drop_table("sync_clock")
    for table in SYNCED:
        op.drop_index(f"ix_{table}_sync_stamp", table_name=table)
        with op.batch_alter_table(table) as batch_op:
            batch_op.drop_column("sync_stamp")
