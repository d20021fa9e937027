"""outbox relays: how far each outbox is published to NATS JetStream, and by which relay

Revision ID: 5d0f68f3c3ab
Revises: d4e6f8a0b2c5
Create Date: 2026-12-07 09:00:00

"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = "5d0f68f3c3ab"
down_revision: Union[str, Sequence[str], None] = "d4e6f8a0b2c5"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_table(
        "outbox_relays",
        sa.Column("stream", sa.String(length=40), nullable=False),
        sa.Column("position", sa.BigInteger(), nullable=False),
        sa.Column("holder", sa.String(length=40), nullable=True),
        sa.Column("leased_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("stream", name=op.f("pk_outbox_relays")),
    )


def downgrade() -> None:
    op.drop_table("outbox_relays")
