"""the portfolio's running balances by shard, area and day, the areas of each shard, the marks
of stale shards, and one row per shard for the rebuild's lock (every shard starts unbuilt: the
worker builds it)

Revision ID: e1f3a5c7b9d2
Revises: a3c5e7b9d1f6
Create Date: 2026-12-07 04:30:00

"""

from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = "e1f3a5c7b9d2"
down_revision: Union[str, Sequence[str], None] = "a3c5e7b9d1f6"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

SHARDS = 32
FIGURES = (
    "loans_outstanding",
    "outstanding_principal",
    "par30_principal",
    "due_to_date",
    "repaid_to_date",
    "written_off_principal",
    "borrowers",
    "bank_loans_outstanding",
    "bank_outstanding_principal",
    "bank_overdue_amount",
    "bank_borrowers",
    "members_with_loan",
)


def upgrade() -> None:
    op.create_table(
        "portfolio_balances",
        sa.Column("shard", sa.Integer(), nullable=False),
        sa.Column("area", sa.String(length=2), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        *(sa.Column(name, sa.BigInteger(), nullable=False) for name in FIGURES),
        sa.PrimaryKeyConstraint("shard", "area", "day", name=op.f("pk_portfolio_balances")),
    )
    op.create_table(
        "portfolio_areas",
        sa.Column("shard", sa.Integer(), nullable=False),
        sa.Column("area", sa.String(length=2), nullable=False),
        sa.PrimaryKeyConstraint("shard", "area", name=op.f("pk_portfolio_areas")),
    )
    op.create_table(
        "portfolio_stale",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("shard", sa.Integer(), nullable=False),
        sa.Column("from_day", sa.Date(), nullable=False),
        sa.Column("marked_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_portfolio_stale")),
    )
    op.create_index("ix_portfolio_stale_from_day_shard", "portfolio_stale", ["from_day", "shard"])
    shards = op.create_table(
        "portfolio_shards",
        sa.Column("shard", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("built_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("shard", name=op.f("pk_portfolio_shards")),
    )
    op.bulk_insert(shards, [{"shard": shard} for shard in range(SHARDS)])


def downgrade() -> None:
    op.drop_table("portfolio_shards")
    op.drop_index("ix_portfolio_stale_from_day_shard", table_name="portfolio_stale")
    op.drop_table("portfolio_stale")
    op.drop_table("portfolio_areas")
    op.drop_table("portfolio_balances")
