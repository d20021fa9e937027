"""a club's former province and district (before the 2025 merger), which older plans count by

Revision ID: d9f1b3c5e7a4
Revises: c7e9b1d3f5a2
Create Date: 2026-12-07 11:00:00

"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = "d9f1b3c5e7a4"
down_revision: Union[str, Sequence[str], None] = "c7e9b1d3f5a2"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    # Imported here: the conversion tables ship with the `vietnamadminunits` package.
    from services.clubs.locations.legacy import former_place

    with op.batch_alter_table("clubs") as batch:
        batch.add_column(sa.Column("former_province_code", sa.String(length=2), nullable=True))
        batch.add_column(sa.Column("former_district_code", sa.String(length=3), nullable=True))
        batch.create_index(batch.f("ix_clubs_former_province_code"), ["former_province_code"])
        batch.create_index(batch.f("ix_clubs_former_district_code"), ["former_district_code"])
    connection = op.get_bind()
    clubs = sa.table(
        "clubs",
        sa.column("id", sa.Integer()),
        sa.column("commune_code", sa.String()),
        sa.column("legacy_address", sa.String()),
        sa.column("former_province_code", sa.String()),
        sa.column("former_district_code", sa.String()),
    )
    rows = connection.execute(sa.select(clubs.c.id, clubs.c.commune_code, clubs.c.legacy_address))
    for club_id, commune_code, legacy_address in rows.all():
        former = former_place(commune_code, legacy_address)
        connection.execute(
            clubs.update()
            .where(clubs.c.id == club_id)
            .values(
                former_province_code=former.province_code,
                former_district_code=former.district_code,
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("clubs") as batch:
        batch.drop_index(batch.f("ix_clubs_former_district_code"))
        batch.drop_index(batch.f("ix_clubs_former_province_code"))
        batch.drop_column("former_district_code")
        batch.drop_column("former_province_code")
