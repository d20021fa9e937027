"""the token signing keys live in the gateway's database, shared by every replica, each private
key encrypted; the first one is made by the bootstrap after the migrations

Revision ID: 577e99c64db3
Revises: c9e3a7b1d468
Create Date: 2026-12-07 10:00:00

"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = "577e99c64db3"
down_revision: Union[str, Sequence[str], None] = "c9e3a7b1d468"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    # Keys a gateway kept in its folder before (GATEWAY_KEYS_DIR) are not read here: the
    # bootstrap makes a new first key, and `python -m gateway.keys import <folder>/*.pem`
    # publishes the old ones so that the tokens they signed stay valid until they expire.
    op.create_table(
        "signing_keys",
        sa.Column("kid", sa.String(length=64), nullable=False),
        sa.Column("private_key", sa.Text(), nullable=False),
        sa.Column("signs_from", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("kid", name=op.f("pk_signing_keys")),
    )


def downgrade() -> None:
    op.drop_table("signing_keys")
