"""seal personal data, record consents: citizen IDs and phones sealed, looked up by blind index

Members' citizen IDs and phone numbers, the audit's snapshots (they hold both) and the stored
answers of idempotent requests are sealed with AES-GCM (`common.sealing`), so a dump of this
database holds none of them in plain text; the unique index of active members' IDs moves to
the IDs' blind index. Members' consents (purpose, how and when given and withdrawn) get a
table of their own; members stored before have none recorded. The keys come from the settings (`env.py` configures them): the values
already stored are sealed here, in place, a thousand rows a statement.

Revision ID: a3c91e5d7b20
Revises: d24d005acefa
Create Date: 2026-12-06 07:10:00

"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

from common.sealing import keyring

revision: str = "a3c91e5d7b20"
down_revision: Union[str, Sequence[str], None] = "d24d005acefa"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

SEALED_LENGTH = 80
CHUNK = 1000
ACTIVE = sa.text("left_on IS NULL")


def _rewrite(table: str, columns: list[str], change) -> None:  # type: ignore[no-untyped-def]
    """Every row with a value in one of `columns`, rewritten by `change(row) -> dict`."""
    bind = op.get_bind()
    present = " OR ".join(f'"{name}" IS NOT NULL' for name in columns)
    rows = bind.execute(
        sa.text(f'SELECT id, {", ".join(columns)} FROM {table} WHERE {present} ORDER BY id')
    ).all()
    if not rows:
        return
    changed = [{"row_id": row.id, **change(row)} for row in rows]
    names = [name for name in changed[0] if name != "row_id"]
    statement = sa.text(
        f"UPDATE {table} SET {', '.join(f'{name} = :{name}' for name in names)} WHERE id = :row_id"
    )
    for start in range(0, len(changed), CHUNK):
        bind.execute(statement, changed[start : start + CHUNK])


def _sealed(value: str | None, purpose: str) -> str | None:
    return None if value is None else keyring().seal(value, purpose)


def upgrade() -> None:
    with op.batch_alter_table("members", schema=None) as batch_op:
        batch_op.drop_index("uq_members_active_national_id")
        batch_op.drop_index("ix_members_national_id")
        batch_op.add_column(sa.Column("national_id_blind_index", sa.String(length=22), nullable=True))
        batch_op.alter_column(
            "national_id", existing_type=sa.String(length=12), type_=sa.String(length=SEALED_LENGTH)
        )
        batch_op.alter_column(
            "phone", existing_type=sa.String(length=15), type_=sa.String(length=SEALED_LENGTH)
        )
    _rewrite(
        "members",
        ["national_id", "phone"],
        lambda row: {
            "national_id": _sealed(row.national_id, "members.national_id"),
            "national_id_blind_index": (
                None if row.national_id is None else keyring().blind_index(row.national_id)
            ),
            "phone": _sealed(row.phone, "members.phone"),
        },
    )
    with op.batch_alter_table("members", schema=None) as batch_op:
        batch_op.create_index(
            "uq_members_active_national_id",
            ["national_id_blind_index"],
            unique=True,
            sqlite_where=ACTIVE,
            postgresql_where=ACTIVE,
        )
        batch_op.create_index("ix_members_national_id_blind_index", ["national_id_blind_index"])

    with op.batch_alter_table("audit_entries", schema=None) as batch_op:
        for name in ("before", "after"):
            batch_op.alter_column(
                name, existing_type=sa.JSON(), type_=sa.Text(), postgresql_using=f'"{name}"::text'
            )
    _rewrite(
        "audit_entries",
        ["before", "after"],
        lambda row: {
            "before": _sealed(row.before, "audit_entries.before"),
            "after": _sealed(row.after, "audit_entries.after"),
        },
    )
    _rewrite(
        "idempotency_keys",
        ["response_body"],
        lambda row: {
            "response_body": _sealed(row.response_body, "idempotency_keys.response_body")
        },
    )


    op.create_table(
        "member_consents",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("purpose", sa.String(length=30), nullable=False),
        sa.Column("given_on", sa.Date(), nullable=False),
        sa.Column("form_reference", sa.String(length=100), nullable=False),
        sa.Column("recorded_by", sa.String(length=200), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("withdrawn_on", sa.Date(), nullable=True),
        sa.Column("withdrawal_reference", sa.String(length=100), nullable=True),
        sa.Column("withdrawn_by", sa.String(length=200), nullable=True),
        sa.Column("withdrawn_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["member_id"], ["members.id"], name="fk_member_consents_member_id_members"
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    current = sa.text("withdrawn_on IS NULL")
    op.create_index(
        "uq_member_consents_current",
        "member_consents",
        ["member_id", "purpose"],
        unique=True,
        sqlite_where=current,
        postgresql_where=current,
    )


def _opened(value: str | None, purpose: str) -> str | None:
    return None if value is None else keyring().open(value, purpose)


def downgrade() -> None:
    """Back to plain values (with the keys of the settings it runs with)."""
    op.drop_index("uq_member_consents_current", table_name="member_consents")
    op.drop_table("member_consents")
    _rewrite(
        "idempotency_keys",
        ["response_body"],
        lambda row: {
            "response_body": _opened(row.response_body, "idempotency_keys.response_body")
        },
    )
    _rewrite(
        "audit_entries",
        ["before", "after"],
        lambda row: {
            "before": _opened(row.before, "audit_entries.before"),
            "after": _opened(row.after, "audit_entries.after"),
        },
    )
    with op.batch_alter_table("audit_entries", schema=None) as batch_op:
        for name in ("before", "after"):
            batch_op.alter_column(
                name, existing_type=sa.Text(), type_=sa.JSON(), postgresql_using=f'"{name}"::json'
            )
    with op.batch_alter_table("members", schema=None) as batch_op:
        batch_op.drop_index("uq_members_active_national_id")
        batch_op.drop_index("ix_members_national_id_blind_index")
    _rewrite(
        "members",
        ["national_id", "phone"],
        lambda row: {
            "national_id": _opened(row.national_id, "members.national_id"),
            "phone": _opened(row.phone, "members.phone"),
        },
    )
    with op.batch_alter_table("members", schema=None) as batch_op:
        batch_op.drop_column("national_id_blind_index")
        batch_op.alter_column(
            "national_id", existing_type=sa.String(length=SEALED_LENGTH), type_=sa.String(length=12)
        )
        batch_op.alter_column(
            "phone", existing_type=sa.String(length=SEALED_LENGTH), type_=sa.String(length=15)
        )
        batch_op.create_index("ix_members_national_id", ["national_id"])
        batch_op.create_index(
            "uq_members_active_national_id",
            ["national_id"],
            unique=True,
            sqlite_where=ACTIVE,
            postgresql_where=ACTIVE,
        )
