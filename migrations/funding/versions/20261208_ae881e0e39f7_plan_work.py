"""plan tasks with lead and partner agencies and timing, spending on plan lines, events above the club

Revision ID: ae881e0e39f7
Revises: ce326b3fabd4
Create Date: 2026-12-08 02:00:00

"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = "ae881e0e39f7"
down_revision: Union[str, Sequence[str], None] = "ce326b3fabd4"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def _created() -> list[sa.Column]:
    return [
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    ]


def upgrade() -> None:
    op.create_table(
        "plan_tasks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("plan_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.String(length=30), nullable=False),
        sa.Column("content", sa.String(length=2000), nullable=False),
        sa.Column("lead_agency", sa.String(length=300), nullable=False),
        sa.Column("partner_agencies", sa.JSON(), nullable=False),
        sa.Column("timing", sa.String(length=200), nullable=False),
        sa.Column("from_year", sa.Integer(), nullable=True),
        sa.Column("from_month", sa.Integer(), nullable=True),
        sa.Column("from_quarter", sa.Integer(), nullable=True),
        sa.Column("to_year", sa.Integer(), nullable=True),
        sa.Column("to_month", sa.Integer(), nullable=True),
        sa.Column("to_quarter", sa.Integer(), nullable=True),
        sa.Column("line_numbers", sa.JSON(), nullable=False),
        sa.Column("sources", sa.JSON(), nullable=False),
        *_created(),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["plan_id"], ["plans.id"], name="fk_plan_tasks_plan_id_plans"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_plan_tasks")),
    )
    op.create_index("ix_plan_tasks_plan_id", "plan_tasks", ["plan_id"])

    op.create_table(
        "plan_spending",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("plan_id", sa.Integer(), nullable=False),
        sa.Column("plan_line_id", sa.Integer(), nullable=False),
        sa.Column("series_id", sa.Integer(), nullable=False),
        sa.Column("line_number", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=30), nullable=False),
        sa.Column("province_code", sa.String(length=2), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("spent_on", sa.Date(), nullable=False),
        sa.Column("document", sa.String(length=200), nullable=False),
        sa.Column("description", sa.String(length=500), nullable=False),
        *_created(),
        sa.Column("withdrawn_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("withdrawn_by", sa.String(length=200), nullable=True),
        sa.Column("withdrawal_reason", sa.String(length=500), nullable=True),
        sa.CheckConstraint("amount > 0", name=op.f("ck_plan_spending_amount_positive")),
        sa.ForeignKeyConstraint(
            ["plan_id"], ["plans.id"], name="fk_plan_spending_plan_id_plans"
        ),
        sa.ForeignKeyConstraint(
            ["plan_line_id"], ["plan_lines.id"], name="fk_plan_spending_plan_line_id_plan_lines"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_plan_spending")),
    )
    op.create_index(
        "ix_plan_spending_series_id_line_number", "plan_spending", ["series_id", "line_number"]
    )
    op.create_index(
        "ix_plan_spending_province_code_spent_on", "plan_spending", ["province_code", "spent_on"]
    )

    op.create_table(
        "plan_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("series_id", sa.Integer(), nullable=False),
        sa.Column("plan_id", sa.Integer(), nullable=False),
        sa.Column("line_number", sa.Integer(), nullable=False),
        sa.Column("province_code", sa.String(length=2), nullable=False),
        sa.Column("level", sa.String(length=20), nullable=False),
        sa.Column("commune_code", sa.String(length=5), nullable=True),
        sa.Column("kind", sa.String(length=30), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("started_on", sa.Date(), nullable=False),
        sa.Column("days", sa.Integer(), nullable=False),
        sa.Column("participants", sa.Integer(), nullable=True),
        sa.Column("notes", sa.String(length=2000), nullable=False),
        *_created(),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("days > 0", name=op.f("ck_plan_events_days_positive")),
        sa.ForeignKeyConstraint(["plan_id"], ["plans.id"], name="fk_plan_events_plan_id_plans"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_plan_events")),
    )
    op.create_index(
        "ix_plan_events_series_id_started_on", "plan_events", ["series_id", "started_on"]
    )

    op.create_table(
        "plan_event_clubs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column("club_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=30), nullable=False),
        sa.Column("started_on", sa.Date(), nullable=False),
        sa.Column("province_code", sa.String(length=2), nullable=False),
        sa.Column("commune_code", sa.String(length=5), nullable=False),
        sa.Column("former_province_code", sa.String(length=2), nullable=True),
        sa.Column("former_district_code", sa.String(length=3), nullable=True),
        sa.ForeignKeyConstraint(
            ["event_id"], ["plan_events.id"], name="fk_plan_event_clubs_event_id_plan_events"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_plan_event_clubs")),
    )
    op.create_index(
        "uq_plan_event_clubs_event_id_club_id",
        "plan_event_clubs",
        ["event_id", "club_id"],
        unique=True,
    )
    # The counts of clubs trained or monitored in an area and period read these alone.
    for area in (None, "province_code", "commune_code", "former_district_code"):
        columns = ["kind", *([area] if area else []), "started_on", "club_id"]
        name = "_".join(["ix_plan_event_clubs", "kind", *([area] if area else []), "started_on"])
        op.create_index(name, "plan_event_clubs", columns)


def downgrade() -> None:
    op.drop_table("plan_event_clubs")
    op.drop_table("plan_events")
    op.drop_table("plan_spending")
    op.drop_table("plan_tasks")
