"""seal borrower IDs: the bank's borrowers sealed, matched by blind index; unmatches kept

The bank's borrowers' citizen IDs, in the loans and their history, are kept sealed with
AES-GCM (`common.sealing`) beside their blind index, which matching compares; the stored
answers of idempotent requests are sealed too. The keys come from the settings (`env.py`
configures them): the values already stored are sealed here, a thousand rows a statement.
A match undone (the member withdrew the consent to matching) is kept in `bank_loan_unmatches`.

Revision ID: b84f27c1d9e3
Revises: 8d4b6e1f2a37
Create Date: 2026-12-06 07:20:00

"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

from common.sealing import keyring

revision: str = "b84f27c1d9e3"
down_revision: Union[str, Sequence[str], None] = "8d4b6e1f2a37"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

SEALED_LENGTH = 80
CHUNK = 1000
BORROWER_ID = "bank_loans.borrower_national_id"
UNMATCHED = sa.text("member_id IS NULL")


def _rewrite(table: str, column: str, change) -> None:  # type: ignore[no-untyped-def]
    """Every row with a value in `column`, rewritten by `change(value) -> dict`."""
    bind = op.get_bind()
    rows = bind.execute(
        sa.text(f"SELECT id, {column} FROM {table} WHERE {column} IS NOT NULL ORDER BY id")
    ).all()
    if not rows:
        return
    changed = [{"row_id": row[0], **change(row[1])} for row in rows]
    names = [name for name in changed[0] if name != "row_id"]
    statement = sa.text(
        f"UPDATE {table} SET {', '.join(f'{name} = :{name}' for name in names)} WHERE id = :row_id"
    )
    for start in range(0, len(changed), CHUNK):
        bind.execute(statement, changed[start : start + CHUNK])


def _borrower(national_id: str) -> dict[str, str]:
    keys = keyring()
    return {
        "borrower_blind_index": keys.blind_index(national_id),
        "borrower_national_id_sealed": keys.seal(national_id, BORROWER_ID),
    }


def upgrade() -> None:
    op.drop_index("ix_bank_loans_unmatched", table_name="bank_loans")
    for table in ("bank_loans", "bank_loan_versions"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column("borrower_blind_index", sa.String(22), nullable=True))
            batch_op.add_column(
                sa.Column("borrower_national_id_sealed", sa.String(SEALED_LENGTH), nullable=True)
            )
        _rewrite(table, "borrower_national_id", _borrower)
        with op.batch_alter_table(table, schema=None) as batch_op:
            for name, length in (("borrower_blind_index", 22), ("borrower_national_id_sealed", 80)):
                batch_op.alter_column(name, existing_type=sa.String(length), nullable=False)
            batch_op.drop_column("borrower_national_id")
    op.create_index(
        "ix_bank_loans_unmatched",
        "bank_loans",
        ["borrower_blind_index"],
        unique=False,
        postgresql_where=UNMATCHED,
        sqlite_where=UNMATCHED,
    )
    _rewrite(
        "idempotency_keys",
        "response_body",
        lambda body: {"response_body": keyring().seal(body, "idempotency_keys.response_body")},
    )


    op.create_table(
        "bank_loan_unmatches",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("bank_loan_id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("club_id", sa.Integer(), nullable=False),
        sa.Column("matched_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reason", sa.String(length=200), nullable=False),
        sa.Column("effective_on", sa.Date(), nullable=False),
        sa.Column("unmatched_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_bank_loan_unmatches_bank_loan_id", "bank_loan_unmatches", ["bank_loan_id"])


def downgrade() -> None:
    """Back to plain borrower IDs (with the keys of the settings it runs with)."""
    op.drop_index("ix_bank_loan_unmatches_bank_loan_id", table_name="bank_loan_unmatches")
    op.drop_table("bank_loan_unmatches")
    _rewrite(
        "idempotency_keys",
        "response_body",
        lambda body: {"response_body": keyring().open(body, "idempotency_keys.response_body")},
    )
    op.drop_index("ix_bank_loans_unmatched", table_name="bank_loans")
    for table in ("bank_loans", "bank_loan_versions"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column("borrower_national_id", sa.String(12), nullable=True))
        _rewrite(
            table,
            "borrower_national_id_sealed",
            lambda sealed: {"borrower_national_id": keyring().open(sealed, BORROWER_ID)},
        )
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.alter_column("borrower_national_id", existing_type=sa.String(12), nullable=False)
            batch_op.drop_column("borrower_national_id_sealed")
            batch_op.drop_column("borrower_blind_index")
    op.create_index(
        "ix_bank_loans_unmatched",
        "bank_loans",
        ["borrower_national_id"],
        unique=False,
        postgresql_where=UNMATCHED,
        sqlite_where=UNMATCHED,
    )
