"""outbox relays: how far each outbox is published to NATS JetStream, and by which relay

Revision ID: 5d0f68f3c3ab
Revises: d4e6f8a0b2c5
Create Date: 2026-12-07 09:00:00

"""
from typing import Sequence, Union

from migrations import plumbing

revision: str = "5d0f68f3c3ab"
down_revision: Union[str, Sequence[str], None] = "d4e6f8a0b2c5"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    plumbing.create_outbox_relays_20261207()


def downgrade() -> None:
    plumbing.drop_outbox_relays_20261207()
