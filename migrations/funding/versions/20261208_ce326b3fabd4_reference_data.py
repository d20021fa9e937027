"""reference data an administrator extends: activity kinds, funding sources, funder types

Revision ID: ce326b3fabd4
Revises: e6a8c0b2d4f9
Create Date: 2026-12-08 01:00:00

"""
from datetime import UTC, datetime
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = "ce326b3fabd4"
down_revision: Union[str, Sequence[str], None] = "e6a8c0b2d4f9"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

# The lists as they start (services/funding/rules.py, SEEDS): the codes the earlier enums had,
# and what the provinces' plans add: (code, Vietnamese name, English name).
ACTIVITIES = [
    ("training", "Tập huấn", "Training"),
    ("club_establishment", "Thành lập, ra mắt câu lạc bộ", "Club establishment"),
    ("seed_capital", "Hỗ trợ vốn ban đầu cho câu lạc bộ", "Seed capital"),
    ("monitoring", "Giám sát, hỗ trợ kỹ thuật", "Monitoring"),
    ("review_conference", "Hội nghị sơ kết, tổng kết", "Review conference"),
    ("communication", "Truyền thông", "Communication"),
    ("planning", "Xây dựng kế hoạch", "Planning"),
    ("resource_mobilisation", "Vận động nguồn lực", "Resource mobilisation"),
    ("international_cooperation", "Hợp tác quốc tế", "International cooperation"),
    ("other", "Hoạt động khác", "Other"),
]
SOURCES = [
    ("central_budget", "Ngân sách trung ương", "Central budget"),
    ("provincial_budget", "Ngân sách tỉnh", "Provincial budget"),
    ("commune_budget", "Ngân sách xã", "Commune budget"),
    ("elderly_care_fund", "Quỹ Chăm sóc và phát huy vai trò người cao tuổi", "Elderly Care Fund"),
    ("fund_for_the_poor", "Quỹ Vì người nghèo", "Fund for the Poor"),
    ("socialisation", "Xã hội hóa", "Socialisation"),
    ("member_contributions", "Thành viên đóng góp", "Members' contributions"),
    ("international", "Tài trợ quốc tế", "International donors"),
    ("social_security_fund", "Quỹ An sinh xã hội", "Social security fund"),
    ("credit_fund", "Quỹ tín dụng", "Credit funds"),
    ("elderly_association", "Hội Người cao tuổi đóng góp",
     "The Association of the Elderly's own contribution"),
]  # fmt: skip
# (code, Vietnamese name, English name, the source its money counts in)
FUNDER_TYPES = [
    ("central_budget", "Ngân sách trung ương", "Central budget", "central_budget"),
    ("provincial_budget", "Ngân sách tỉnh", "Provincial budget", "provincial_budget"),
    ("commune_budget", "Ngân sách xã", "Commune budget", "commune_budget"),
    ("elderly_care_fund", "Quỹ Chăm sóc và phát huy vai trò người cao tuổi",
     "Elderly Care Fund", "elderly_care_fund"),
    ("fund_for_the_poor", "Quỹ Vì người nghèo", "Fund for the Poor", "fund_for_the_poor"),
    ("enterprise", "Doanh nghiệp", "Enterprise", "socialisation"),
    ("individual", "Cá nhân", "Individual", "socialisation"),
    ("member_contributions", "Thành viên câu lạc bộ đóng góp", "Club members",
     "member_contributions"),
    ("international_donor", "Nhà tài trợ quốc tế", "International donor", "international"),
    ("ngo", "Tổ chức phi chính phủ", "Non-governmental organisation", "international"),
    ("social_security_fund", "Quỹ An sinh xã hội", "Social security fund",
     "social_security_fund"),
    ("credit_fund", "Quỹ tín dụng", "Credit fund", "credit_fund"),
    ("elderly_association", "Hội Người cao tuổi", "Association of the Elderly",
     "elderly_association"),
]  # fmt: skip


def upgrade() -> None:
    items = op.create_table(
        "reference_items",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("code", sa.String(length=30), nullable=False),
        sa.Column("name_vi", sa.String(length=200), nullable=False),
        sa.Column("name_en", sa.String(length=200), nullable=False),
        sa.Column("source", sa.String(length=30), nullable=True),
        sa.Column("retired", sa.Boolean(), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reference_items")),
    )
    op.create_index(
        "uq_reference_items_kind_code", "reference_items", ["kind", "code"], unique=True
    )
    now = datetime.now(UTC)
    rows = [
        *(("activities", code, vi, en, None) for code, vi, en in ACTIVITIES),
        *(("sources", code, vi, en, None) for code, vi, en in SOURCES),
        *(("funder-types", code, vi, en, source) for code, vi, en, source in FUNDER_TYPES),
    ]
    op.bulk_insert(
        items,
        [
            {
                "kind": kind,
                "code": code,
                "name_vi": vi,
                "name_en": en,
                "source": source,
                "retired": False,
                "created_by": "migration",
                "created_at": now,
            }
            for kind, code, vi, en, source in rows
        ],
    )
    # A source named on a line before its amount is known ("trong dự toán hằng năm").
    with op.batch_alter_table("plan_line_amounts") as batch:
        batch.alter_column("amount", existing_type=sa.BigInteger(), nullable=True)
    # Set when a table import inferred the line's activity from its wording, until confirmed.
    with op.batch_alter_table("plan_lines") as batch:
        batch.add_column(
            sa.Column("activity_inferred", sa.Boolean(), nullable=False, server_default=sa.false())
        )


def downgrade() -> None:
    with op.batch_alter_table("plan_lines") as batch:
        batch.drop_column("activity_inferred")
    op.execute("DELETE FROM plan_line_amounts WHERE amount IS NULL")
    with op.batch_alter_table("plan_line_amounts") as batch:
        batch.alter_column("amount", existing_type=sa.BigInteger(), nullable=False)
    op.drop_index("uq_reference_items_kind_code", table_name="reference_items")
    op.drop_table("reference_items")
