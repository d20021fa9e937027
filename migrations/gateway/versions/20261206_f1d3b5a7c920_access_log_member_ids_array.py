"""access log: the members an entry showed as an array in the entry, not a row each

Revision ID: f1d3b5a7c920
Revises: c5e8a1f3b742
Create Date: 2026-12-06 10:00:00

"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from migrations import plumbing

revision: str = "f1d3b5a7c920"
down_revision: Union[str, Sequence[str], None] = "c5e8a1f3b742"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

MEMBER_IDS = sa.JSON().with_variant(postgresql.ARRAY(sa.Integer()), "postgresql")
GATHER = {
    "postgresql": "COALESCE((SELECT array_agg(m.member_id ORDER BY m.member_id)"
    " FROM access_log_members m WHERE m.entry_id = access_log.id), '{}')",
    "sqlite": "(SELECT json_group_array(member_id) FROM (SELECT m.member_id"
    " FROM access_log_members m WHERE m.entry_id = access_log.id ORDER BY m.member_id))",
}
SPREAD = {
    "postgresql": "SELECT id, unnest(member_ids) FROM access_log",
    "sqlite": "SELECT access_log.id, value FROM access_log, json_each(access_log.member_ids)",
}


def _dialect() -> str:
    return op.get_bind().dialect.name


def upgrade() -> None:
    with op.batch_alter_table("access_log", schema=None) as batch_op:
        batch_op.add_column(sa.Column("member_ids", MEMBER_IDS, nullable=True))
    op.execute(f"UPDATE access_log SET member_ids = {GATHER[_dialect()]}")
    with op.batch_alter_table("access_log", schema=None) as batch_op:
        batch_op.alter_column("member_ids", existing_type=MEMBER_IDS, nullable=False)
    if _dialect() == "postgresql":
        op.create_index(
            "ix_access_log_member_ids", "access_log", ["member_ids"], postgresql_using="gin"
        )
    op.drop_table("access_log_members")


def downgrade() -> None:
    plumbing.create_access_log_members_20261206()
    op.execute(f"INSERT INTO access_log_members (entry_id, member_id) {SPREAD[_dialect()]}")
    if _dialect() == "postgresql":
        op.drop_index("ix_access_log_member_ids", table_name="access_log")
    with op.batch_alter_table("access_log", schema=None) as batch_op:
        batch_op.drop_column("member_ids")
