"""targets of plans and programme phases, in the indicators' catalogue; the phases' own

Revision ID: f2a4c6e8b0d3
Revises: d0e2a4c6f8b1
Create Date: 2026-12-07 08:00:00

"""
from datetime import UTC, date, datetime
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = "f2a4c6e8b0d3"
down_revision: Union[str, Sequence[str], None] = "d0e2a4c6f8b1"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

# The phases' national targets as the decisions state them (domain.md, "Programme targets and
# scale"): (programme, indicator, from, to, minimum, wording).
PHASE_TARGETS = [
    ("1336", "clubs.founded", date(2021, 1, 1), date(2025, 12, 31), 3000,
     "Thành lập mới ít nhất 3.000 câu lạc bộ"),
    ("1336", "members.total", None, date(2025, 12, 31), 150000,
     "với 150.000 thành viên"),
    ("1336", "members.older", None, date(2025, 12, 31), 100001,
     "trên 100.000 thành viên là người cao tuổi"),
    ("1336", "clubs.maintained_share", date(2021, 1, 1), date(2025, 12, 31), 100,
     "100 % câu lạc bộ hiện có được duy trì"),
    ("1336", "clubs.running_all_areas_share", date(2025, 1, 1), date(2025, 12, 31), 70,
     "ít nhất 70 % câu lạc bộ thực hiện đầy đủ các nội dung hoạt động"),
    ("1336", "members.borrowed_share", date(2025, 1, 1), date(2025, 12, 31), 50,
     "ít nhất 50 % thành viên được vay vốn"),
    ("1336", "clubs.with_both_funds_share", None, date(2025, 12, 31), 100,
     "100 % câu lạc bộ có quỹ tự giúp nhau và quỹ hoạt động"),
    ("1648", "clubs.founded", date(2026, 1, 1), date(2030, 12, 31), 6000,
     "ít nhất 6.000 câu lạc bộ mới đến năm 2030"),
    ("1648", "clubs.founded", date(2026, 1, 1), date(2035, 12, 31), 12000,
     "ít nhất 12.000 câu lạc bộ mới đến năm 2035"),
]  # fmt: skip


def upgrade() -> None:
    targets = op.create_table(
        "targets",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("plan_id", sa.Integer(), nullable=True),
        sa.Column("programme_code", sa.String(length=30), nullable=True),
        sa.Column("indicator", sa.String(length=60), nullable=False),
        sa.Column("area_level", sa.String(length=20), nullable=False),
        sa.Column("area_code", sa.String(length=5), nullable=True),
        sa.Column("period_from", sa.Date(), nullable=True),
        sa.Column("period_to", sa.Date(), nullable=False),
        sa.Column("minimum", sa.Numeric(20, 2), nullable=True),
        sa.Column("maximum", sa.Numeric(20, 2), nullable=True),
        sa.Column("parameter", sa.BigInteger(), nullable=True),
        sa.Column("each_year", sa.Boolean(), nullable=False),
        sa.Column("wording", sa.String(length=1000), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "(plan_id IS NULL) <> (programme_code IS NULL)", name=op.f("ck_targets_plan_or_programme")
        ),
        sa.CheckConstraint(
            "minimum IS NOT NULL OR maximum IS NOT NULL", name=op.f("ck_targets_has_a_bound")
        ),
        sa.CheckConstraint(
            "minimum IS NULL OR maximum IS NULL OR minimum <= maximum",
            name=op.f("ck_targets_bounds_in_order"),
        ),
        sa.ForeignKeyConstraint(["plan_id"], ["plans.id"], name="fk_targets_plan_id_plans"),
        sa.ForeignKeyConstraint(
            ["programme_code"], ["programmes.code"], name="fk_targets_programme_code_programmes"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_targets")),
    )
    op.create_index(op.f("ix_targets_plan_id"), "targets", ["plan_id"])
    op.create_index(op.f("ix_targets_programme_code"), "targets", ["programme_code"])
    now = datetime.now(UTC)
    op.bulk_insert(
        targets,
        [
            {
                "programme_code": programme,
                "indicator": indicator,
                "area_level": "nation",
                "area_code": None,
                "period_from": start,
                "period_to": end,
                "minimum": minimum,
                "maximum": None,
                "parameter": None,
                "each_year": False,
                "wording": wording,
                "created_by": "migration",
                "created_at": now,
            }
            for programme, indicator, start, end, minimum, wording in PHASE_TARGETS
        ],
    )


def downgrade() -> None:
    op.drop_table("targets")
