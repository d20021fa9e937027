"""a client's replaced secret works for an overlap; login failures are counted per address

Revision ID: a7e3c9f1b246
Revises: f1d3b5a7c920
Create Date: 2026-12-06 13:00:00

"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = "a7e3c9f1b246"
down_revision: Union[str, Sequence[str], None] = "f1d3b5a7c920"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    with op.batch_alter_table("api_clients", schema=None) as batch_op:
        batch_op.add_column(sa.Column("previous_secret_hash", sa.String(length=200), nullable=True))
        batch_op.add_column(
            sa.Column("previous_secret_expires_at", sa.DateTime(timezone=True), nullable=True)
        )
    # Failures were counted per identity; they are now counted per identity and address.
    op.execute("DELETE FROM login_failures")
    with op.batch_alter_table("login_failures", schema=None) as batch_op:
        batch_op.alter_column(
            "identity", existing_type=sa.String(length=100), type_=sa.String(length=200)
        )


def downgrade() -> None:
    op.execute("DELETE FROM login_failures")
    with op.batch_alter_table("login_failures", schema=None) as batch_op:
        batch_op.alter_column(
            "identity", existing_type=sa.String(length=200), type_=sa.String(length=100)
        )
    with op.batch_alter_table("api_clients", schema=None) as batch_op:
        batch_op.drop_column("previous_secret_expires_at")
        batch_op.drop_column("previous_secret_hash")
