"""club status changes: what a club's status was on a past date, which reports for a past date
count by (the audit's snapshots are sealed, so counts cannot read them)

The changes already audited are copied here, their statuses read from the sealed snapshots
(`env.py` configures the keys).

Revision ID: 5ea940d8d6dc
Revises: d9f1b3c5e7a4
Create Date: 2026-12-08 00:30:00

"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

from common.db import UTCDateTime
from common.sealing import SealedJSON

revision: str = "5ea940d8d6dc"
down_revision: Union[str, Sequence[str], None] = "d9f1b3c5e7a4"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

CHUNK = 1000


def upgrade() -> None:
    op.create_table(
        "club_status_changes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("club_id", sa.Integer(), nullable=False),
        sa.Column("changed_at", UTCDateTime(), nullable=False),
        sa.Column("status_before", sa.String(length=20), nullable=False),
        sa.Column("status_after", sa.String(length=20), nullable=False),
        sa.ForeignKeyConstraint(
            ["club_id"], ["clubs.id"], name="fk_club_status_changes_club_id_clubs"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_club_status_changes")),
    )
    op.create_index(
        "ix_club_status_changes_club_id_changed_at",
        "club_status_changes",
        ["club_id", "changed_at"],
    )
    op.create_index(
        "ix_club_status_changes_status_after_changed_at",
        "club_status_changes",
        ["status_after", "changed_at"],
    )
    audit = sa.table(
        "audit_entries",
        sa.column("entity_id", sa.Integer()),
        sa.column("entity", sa.String()),
        sa.column("action", sa.String()),
        sa.column("at", UTCDateTime()),
        sa.column("before", SealedJSON("audit_entries.before")),
        sa.column("after", SealedJSON("audit_entries.after")),
    )
    rows = op.get_bind().execute(
        sa.select(audit.c.entity_id, audit.c.at, audit.c.before, audit.c.after)
        .where(audit.c.entity == "club", audit.c.action == "status_changed")
        .order_by(audit.c.at)
    )
    changes = [
        {
            "club_id": club_id,
            "changed_at": at,
            "status_before": before["status"],
            "status_after": after["status"],
        }
        for club_id, at, before, after in rows
        if before and after and "status" in before and "status" in after
    ]
    table = sa.table(
        "club_status_changes",
        sa.column("club_id", sa.Integer()),
        sa.column("changed_at", UTCDateTime()),
        sa.column("status_before", sa.String()),
        sa.column("status_after", sa.String()),
    )
    for start in range(0, len(changes), CHUNK):
        op.bulk_insert(table, changes[start : start + CHUNK])


def downgrade() -> None:
    op.drop_index(
        "ix_club_status_changes_status_after_changed_at", table_name="club_status_changes"
    )
    op.drop_index("ix_club_status_changes_club_id_changed_at", table_name="club_status_changes")
    op.drop_table("club_status_changes")
