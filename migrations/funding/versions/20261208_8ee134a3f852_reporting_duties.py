"""reporting duties and the reports sent under them, frozen as sent

Revision ID: 8ee134a3f852
Revises: ae881e0e39f7
Create Date: 2026-12-08 03:00:00

"""

from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = "8ee134a3f852"
down_revision: Union[str, Sequence[str], None] = "ae881e0e39f7"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_table(
        "reporting_duties",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("reporter_level", sa.String(length=20), nullable=False),
        sa.Column("province_code", sa.String(length=2), nullable=True),
        sa.Column("commune_code", sa.String(length=5), nullable=True),
        sa.Column("recipient", sa.String(length=200), nullable=False),
        sa.Column("recipient_level", sa.String(length=20), nullable=False),
        sa.Column("frequency", sa.String(length=20), nullable=False),
        sa.Column("plan_id", sa.Integer(), nullable=True),
        sa.Column("programme_code", sa.String(length=30), nullable=True),
        sa.Column("first_period", sa.String(length=9), nullable=False),
        sa.Column("last_period", sa.String(length=9), nullable=False),
        sa.Column("due_days", sa.Integer(), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "(plan_id IS NULL) <> (programme_code IS NULL)",
            name=op.f("ck_reporting_duties_plan_or_programme"),
        ),
        sa.CheckConstraint("due_days >= 0", name=op.f("ck_reporting_duties_due_days_not_negative")),
        sa.ForeignKeyConstraint(
            ["plan_id"], ["plans.id"], name="fk_reporting_duties_plan_id_plans"
        ),
        sa.ForeignKeyConstraint(
            ["programme_code"],
            ["programmes.code"],
            name="fk_reporting_duties_programme_code_programmes",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reporting_duties")),
    )
    op.create_index(op.f("ix_reporting_duties_plan_id"), "reporting_duties", ["plan_id"])
    op.create_index(
        op.f("ix_reporting_duties_province_code"), "reporting_duties", ["province_code"]
    )
    op.create_table(
        "duty_reports",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("duty_id", sa.Integer(), nullable=False),
        sa.Column("period", sa.String(length=9), nullable=False),
        sa.Column("period_from", sa.Date(), nullable=False),
        sa.Column("period_to", sa.Date(), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column("late", sa.Boolean(), nullable=False),
        sa.Column("content", sa.JSON(), nullable=False),
        sa.Column("sent_by", sa.String(length=200), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["duty_id"], ["reporting_duties.id"], name="fk_duty_reports_duty_id_reporting_duties"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_duty_reports")),
    )
    op.create_index(
        "uq_duty_reports_duty_id_period", "duty_reports", ["duty_id", "period"], unique=True
    )


def downgrade() -> None:
    op.drop_table("duty_reports")
    op.drop_table("reporting_duties")
