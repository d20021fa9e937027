"""a new webhook subscription can ask for the events since a date: backfills, and deliveries
ordered by when their event occurred

Revision ID: b8d2f6a0c357
Revises: a7e3c9f1b246
Create Date: 2026-12-06 15:40:00

"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = "b8d2f6a0c357"
down_revision: Union[str, Sequence[str], None] = "a7e3c9f1b246"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    with op.batch_alter_table("webhook_subscriptions") as batch:
        batch.add_column(sa.Column("backfill_from", sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table("webhook_deliveries") as batch:
        batch.add_column(sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=True))
    # Deliveries made before: their event occurred about when they were made.
    op.execute("UPDATE webhook_deliveries SET occurred_at = created_at")
    with op.batch_alter_table("webhook_deliveries") as batch:
        batch.alter_column("occurred_at", existing_type=sa.DateTime(timezone=True), nullable=False)
    op.create_table(
        "webhook_backfills",
        sa.Column("subscription_id", sa.Integer(), nullable=False),
        sa.Column("service", sa.String(length=20), nullable=False),
        sa.Column("after_position", sa.Integer(), nullable=False),
        sa.Column("done", sa.Boolean(), nullable=False),
        sa.Column("leased_until", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["subscription_id"],
            ["webhook_subscriptions.id"],
            name=op.f("fk_webhook_backfills_subscription_id_webhook_subscriptions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "subscription_id", "service", name=op.f("pk_webhook_backfills")
        ),
    )


def downgrade() -> None:
    op.drop_table("webhook_backfills")
    with op.batch_alter_table("webhook_deliveries") as batch:
        batch.drop_column("occurred_at")
    with op.batch_alter_table("webhook_subscriptions") as batch:
        batch.drop_column("backfill_from")
