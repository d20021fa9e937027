"""outbox relays: how far each outbox is published to NATS JetStream, and by which relay

Revision ID: b8867a734ce3
Revises: c1a5e9d3b702
Create Date: 2026-12-07 09:00:00

"""
from typing import Sequence, Union

from migrations import plumbing

revision: str = "b8867a734ce3"
down_revision: Union[str, Sequence[str], None] = "c1a5e9d3b702"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    plumbing.create_outbox_relays_20261207()


def downgrade() -> None:
    plumbing.drop_outbox_relays_20261207()
