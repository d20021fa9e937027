"""create member loans

Revision ID: ace86d32cdd0
Revises: fdced488f63f
Create Date: 2026-11-23 11:51:44.357285

"""

from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa
import sqlmodel  # noqa: F401  (autogenerate writes its column types)


# revision identifiers, used by Alembic.
revision: str = "ace86d32cdd0"
down_revision: Union[str, Sequence[str], None] = "fdced488f63f"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table(
        "loan_rules",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("fund_id", sa.Integer(), nullable=False),
        sa.Column("monthly_rate_ppm", sa.Integer(), nullable=False),
        sa.Column("interest_method", sa.String(length=30), nullable=False),
        sa.Column("repayment_frequency", sa.String(length=30), nullable=False),
        sa.Column("max_term_months", sa.Integer(), nullable=False),
        sa.Column("max_amount", sa.BigInteger(), nullable=False),
        sa.Column("set_by", sa.String(length=200), nullable=False),
        sa.Column("set_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("max_amount > 0", name=op.f("ck_loan_rules_max_amount_positive")),
        sa.CheckConstraint(
            "max_term_months BETWEEN 1 AND 120", name=op.f("ck_loan_rules_term_in_range")
        ),
        sa.CheckConstraint(
            "monthly_rate_ppm BETWEEN 0 AND 50000", name=op.f("ck_loan_rules_rate_in_range")
        ),
        sa.ForeignKeyConstraint(
            ["fund_id"], ["funds.id"], name=op.f("fk_loan_rules_fund_id_funds")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_loan_rules")),
    )
    with op.batch_alter_table("loan_rules", schema=None) as batch_op:
        batch_op.create_index("uq_loan_rules_fund_id", ["fund_id"], unique=True)

    op.create_table(
        "loans",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("fund_id", sa.Integer(), nullable=False),
        sa.Column("club_id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("province_code", sa.String(length=2), nullable=False),
        sa.Column("commune_code", sa.String(length=5), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("form", sa.String(length=20), nullable=False),
        sa.Column("in_kind_description", sa.String(length=500), nullable=True),
        sa.Column("purpose", sa.String(length=500), nullable=False),
        sa.Column("principal", sa.BigInteger(), nullable=False),
        sa.Column("term_months", sa.Integer(), nullable=False),
        sa.Column("monthly_rate_ppm", sa.Integer(), nullable=False),
        sa.Column("interest_method", sa.String(length=30), nullable=False),
        sa.Column("repayment_frequency", sa.String(length=30), nullable=False),
        sa.Column("applied_on", sa.Date(), nullable=False),
        sa.Column("applied_by", sa.String(length=200), nullable=False),
        sa.Column("applied_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_by", sa.String(length=200), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("rejection_reason", sa.String(length=500), nullable=True),
        sa.Column("disbursed_on", sa.Date(), nullable=True),
        sa.Column("matures_on", sa.Date(), nullable=True),
        sa.Column("disbursed_by", sa.String(length=200), nullable=True),
        sa.Column("disbursed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("principal_repaid", sa.BigInteger(), nullable=False),
        sa.Column("interest_paid", sa.BigInteger(), nullable=False),
        sa.Column("closed_on", sa.Date(), nullable=True),
        sa.Column("written_off_on", sa.Date(), nullable=True),
        sa.Column("written_off_principal", sa.BigInteger(), nullable=True),
        sa.Column("write_off_reason", sa.String(length=500), nullable=True),
        sa.Column("written_off_by", sa.String(length=200), nullable=True),
        sa.Column("written_off_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.CheckConstraint("principal > 0", name=op.f("ck_loans_principal_positive")),
        sa.CheckConstraint(
            "principal_repaid BETWEEN 0 AND principal", name=op.f("ck_loans_repaid_in_range")
        ),
        sa.ForeignKeyConstraint(["fund_id"], ["funds.id"], name=op.f("fk_loans_fund_id_funds")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_loans")),
    )
    with op.batch_alter_table("loans", schema=None) as batch_op:
        batch_op.create_index("ix_loans_club_id", ["club_id"], unique=False)
        batch_op.create_index("ix_loans_fund_id", ["fund_id"], unique=False)
        batch_op.create_index("ix_loans_member_id", ["member_id"], unique=False)
        batch_op.create_index(
            "ix_loans_province_code_status", ["province_code", "status"], unique=False
        )

    op.create_table(
        "loan_instalments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("loan_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column("principal", sa.BigInteger(), nullable=False),
        sa.Column("interest", sa.BigInteger(), nullable=False),
        sa.Column("cumulative_principal", sa.BigInteger(), nullable=False),
        sa.Column("cumulative_interest", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["loan_id"], ["loans.id"], name=op.f("fk_loan_instalments_loan_id_loans")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_loan_instalments")),
    )
    with op.batch_alter_table("loan_instalments", schema=None) as batch_op:
        batch_op.create_index(
            "ix_loan_instalments_loan_id_due_on", ["loan_id", "due_on"], unique=False
        )
        batch_op.create_index(
            "uq_loan_instalments_loan_id_number", ["loan_id", "number"], unique=True
        )

    op.create_table(
        "loan_repayments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("loan_id", sa.Integer(), nullable=False),
        sa.Column("paid_on", sa.Date(), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("principal", sa.BigInteger(), nullable=False),
        sa.Column("interest", sa.BigInteger(), nullable=False),
        sa.Column("cumulative_principal", sa.BigInteger(), nullable=False),
        sa.Column("cumulative_interest", sa.BigInteger(), nullable=False),
        sa.Column("reference", sa.String(length=200), nullable=False),
        sa.Column("principal_entry_id", sa.Integer(), nullable=True),
        sa.Column("interest_entry_id", sa.Integer(), nullable=True),
        sa.Column("recorded_by", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "amount > 0 AND amount = principal + interest",
            name=op.f("ck_loan_repayments_parts_add_up"),
        ),
        sa.ForeignKeyConstraint(
            ["interest_entry_id"],
            ["ledger_entries.id"],
            name=op.f("fk_loan_repayments_interest_entry_id_ledger_entries"),
        ),
        sa.ForeignKeyConstraint(
            ["loan_id"], ["loans.id"], name=op.f("fk_loan_repayments_loan_id_loans")
        ),
        sa.ForeignKeyConstraint(
            ["principal_entry_id"],
            ["ledger_entries.id"],
            name=op.f("fk_loan_repayments_principal_entry_id_ledger_entries"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_loan_repayments")),
    )
    with op.batch_alter_table("loan_repayments", schema=None) as batch_op:
        batch_op.create_index(
            "ix_loan_repayments_loan_id_paid_on", ["loan_id", "paid_on", "id"], unique=False
        )

    # SQLite gets the column with an inline REFERENCES, so batch mode adds it in place: copying
    # the table instead would drop the old one, which its enforced foreign keys (postings →
    # entries) refuse once entries exist. PostgreSQL adds the named constraint after the column.
    loan_id = sa.Column(
        "loan_id",
        sa.Integer(),
        sa.ForeignKey("loans.id", name="fk_ledger_entries_loan_id_loans"),
        nullable=True,
    )
    with op.batch_alter_table("ledger_entries", schema=None) as batch_op:
        batch_op.add_column(loan_id, inline_references=op.get_bind().dialect.name == "sqlite")
        batch_op.create_index("ix_ledger_entries_loan_id", ["loan_id"], unique=False)


def downgrade() -> None:
    """Downgrade schema."""
    # SQLite's inline foreign key has no name; dropping its column copies the table, which
    # works only while no postings reference entries (see upgrade).
    with op.batch_alter_table("ledger_entries", schema=None) as batch_op:
        if op.get_bind().dialect.name != "sqlite":
            batch_op.drop_constraint("fk_ledger_entries_loan_id_loans", type_="foreignkey")
        batch_op.drop_index("ix_ledger_entries_loan_id")
        batch_op.drop_column("loan_id")

    with op.batch_alter_table("loan_repayments", schema=None) as batch_op:
        batch_op.drop_index("ix_loan_repayments_loan_id_paid_on")

    op.drop_table("loan_repayments")
    with op.batch_alter_table("loan_instalments", schema=None) as batch_op:
        batch_op.drop_index("uq_loan_instalments_loan_id_number")
        batch_op.drop_index("ix_loan_instalments_loan_id_due_on")

    op.drop_table("loan_instalments")
    with op.batch_alter_table("loans", schema=None) as batch_op:
        batch_op.drop_index("ix_loans_province_code_status")
        batch_op.drop_index("ix_loans_member_id")
        batch_op.drop_index("ix_loans_fund_id")
        batch_op.drop_index("ix_loans_club_id")

    op.drop_table("loans")
    with op.batch_alter_table("loan_rules", schema=None) as batch_op:
        batch_op.drop_index("uq_loan_rules_fund_id")

    op.drop_table("loan_rules")
