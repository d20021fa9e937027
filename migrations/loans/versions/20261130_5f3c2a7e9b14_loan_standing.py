"""loan standing

Revision ID: 5f3c2a7e9b14
Revises: 02ed85c9a95e
Create Date: 2026-11-30 15:20:30

Each loan keeps its standing: the day of its last repayment and the day from which it is more
than 30 days late if nothing more is paid (`services/loans/portfolio/standing.py`), filled here
from the repayments and schedules already stored. A partial covering index holds the loans
still being repaid with those columns, so today's national figures read no instalment or
repayment; two partial indexes find the loans repaid or written off after a past date.
"""

from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = "5f3c2a7e9b14"
down_revision: Union[str, Sequence[str], None] = "02ed85c9a95e"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

OPEN = sa.text("status = 'disbursed'")
OPEN_LOAN_COLUMNS = [
    "id",
    "club_id",
    "member_id",
    "disbursed_on",
    "principal",
    "principal_repaid",
    "interest_paid",
    "last_paid_on",
    "late_from",
]
PAR_DAYS = 30
# The first instalment that what was paid does not cover, PAR_DAYS + 1 days on.
LATE_FROM = {
    "postgresql": "min(i.due_on) + {days}",
    "sqlite": "date(min(i.due_on), '+{days} days')",
}


def upgrade() -> None:
    with op.batch_alter_table("loans") as batch:
        batch.add_column(sa.Column("last_paid_on", sa.Date(), nullable=True))
        batch.add_column(sa.Column("late_from", sa.Date(), nullable=True))
    late_from = LATE_FROM[op.get_bind().dialect.name].format(days=PAR_DAYS + 1)
    op.execute(
        "UPDATE loans SET"
        " last_paid_on = (SELECT max(r.paid_on) FROM loan_repayments r"
        " WHERE r.loan_id = loans.id),"
        f" late_from = (SELECT {late_from} FROM loan_instalments i"
        " WHERE i.loan_id = loans.id AND (i.cumulative_principal > loans.principal_repaid"
        " OR i.cumulative_interest > loans.interest_paid))"
        " WHERE disbursed_on IS NOT NULL"
    )
    op.create_index(
        "ix_loans_open",
        "loans",
        ["province_code", "commune_code"],
        postgresql_include=OPEN_LOAN_COLUMNS,
        postgresql_where=OPEN,
        sqlite_where=OPEN,
    )
    if op.get_bind().dialect.name == "postgresql":
        # Every loan row was rewritten: plan with fresh statistics (VACUUM cannot run here).
        op.execute("ANALYZE loans")
    for column in ("last_paid_on", "written_off_on"):
        condition = sa.text(f"{column} IS NOT NULL")
        op.create_index(
            f"ix_loans_{column}",
            "loans",
            [column],
            postgresql_where=condition,
            sqlite_where=condition,
        )


def downgrade() -> None:
    for name in ("ix_loans_written_off_on", "ix_loans_last_paid_on", "ix_loans_open"):
        op.drop_index(name, table_name="loans")
    with op.batch_alter_table("loans") as batch:
        batch.drop_column("late_from")
        batch.drop_column("last_paid_on")
