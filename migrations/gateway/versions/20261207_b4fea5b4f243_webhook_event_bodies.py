"""a webhook delivery refers to its event's body, stored once per event and view, instead of
holding a copy of it

Revision ID: b4fea5b4f243
Revises: e1f3b5d7a9c2
Create Date: 2026-12-07 12:00:00

"""
import hashlib
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = "b4fea5b4f243"
down_revision: Union[str, Sequence[str], None] = "e1f3b5d7a9c2"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

EVENTS_AT_A_TIME = 500
"""How many events' bodies are read and moved at once: the log can hold 30 days of them."""

deliveries = sa.table(
    "webhook_deliveries",
    sa.column("event_id", sa.String(36)),
    sa.column("body", sa.Text()),
    sa.column("body_id", sa.Integer()),
    sa.column("created_at", sa.DateTime(timezone=True)),
)
bodies = sa.table(
    "webhook_event_bodies",
    sa.column("id", sa.Integer()),
    sa.column("event_id", sa.String(36)),
    sa.column("digest", sa.String(64)),
    sa.column("body", sa.Text()),
    sa.column("created_at", sa.DateTime(timezone=True)),
)


def upgrade() -> None:
    op.create_table(
        "webhook_event_bodies",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.String(length=36), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_event_bodies")),
        sa.UniqueConstraint(
            "event_id", "digest", name=op.f("uq_webhook_event_bodies_event_id_digest")
        ),
    )
    with op.batch_alter_table("webhook_deliveries") as batch:
        batch.add_column(sa.Column("body_id", sa.Integer(), nullable=True))
    _store_bodies()
    # Each delivery finds its body among its event's (by the unique index's first column).
    found = (
        sa.select(bodies.c.id)
        .where(bodies.c.event_id == deliveries.c.event_id, bodies.c.body == deliveries.c.body)
        .scalar_subquery()
    )
    op.execute(deliveries.update().values(body_id=found))
    with op.batch_alter_table("webhook_deliveries") as batch:
        batch.drop_column("body")
        batch.alter_column("body_id", existing_type=sa.Integer(), nullable=False)
        batch.create_index("ix_webhook_deliveries_body_id", ["body_id"], unique=False)
        batch.create_foreign_key(
            op.f("fk_webhook_deliveries_body_id_webhook_event_bodies"),
            "webhook_event_bodies",
            ["body_id"],
            ["id"],
        )


def _store_bodies() -> None:
    """The distinct bodies of each event, with their SHA-256 (which SQLite cannot compute),
    dated by their first delivery."""
    connection = op.get_bind()
    event_ids = sorted(
        connection.execute(sa.select(deliveries.c.event_id).distinct()).scalars()
    )
    for start in range(0, len(event_ids), EVENTS_AT_A_TIME):
        rows = connection.execute(
            sa.select(
                deliveries.c.event_id, deliveries.c.body, sa.func.min(deliveries.c.created_at)
            )
            .where(deliveries.c.event_id.in_(event_ids[start : start + EVENTS_AT_A_TIME]))
            .group_by(deliveries.c.event_id, deliveries.c.body)
        ).all()
        connection.execute(
            bodies.insert(),
            [
                {
                    "event_id": event_id,
                    "digest": hashlib.sha256(body.encode()).hexdigest(),
                    "body": body,
                    "created_at": first,
                }
                for event_id, body, first in rows
            ],
        )


def downgrade() -> None:
    with op.batch_alter_table("webhook_deliveries") as batch:
        batch.add_column(sa.Column("body", sa.Text(), nullable=True))
    copied = sa.select(bodies.c.body).where(bodies.c.id == deliveries.c.body_id)
    op.execute(deliveries.update().values(body=copied.scalar_subquery()))
    with op.batch_alter_table("webhook_deliveries") as batch:
        batch.alter_column("body", existing_type=sa.Text(), nullable=False)
        batch.drop_constraint(
            op.f("fk_webhook_deliveries_body_id_webhook_event_bodies"), type_="foreignkey"
        )
        batch.drop_index("ix_webhook_deliveries_body_id")
        batch.drop_column("body_id")
    op.drop_table("webhook_event_bodies")
