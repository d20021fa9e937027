"""Each database's migrations build exactly the schema its models declare.

The session's platform was migrated with Alembic; comparing its databases with the models
catches a model changed without a migration (and the reverse) on SQLite and on PostgreSQL.
"""

from datetime import date

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, MetaData
from sqlmodel import Session, select

from common.db import make_engine
from common.migrate import alembic_config, objects_of
from gateway.tables import metadata as gateway_metadata
from services.clubs.models import Activity, Club, ClubsBase, QuotaProfile
from services.funding.tables import metadata as funding_metadata
from services.loans.tables import metadata as loans_metadata
from tools.stack import Stack

METADATA: dict[str, MetaData] = {
    "gateway": gateway_metadata,
    "clubs": ClubsBase.metadata,
    "loans": loans_metadata,
    "funding": funding_metadata,
}


@pytest.mark.parametrize("component", sorted(METADATA))
def test_the_migrated_schema_is_the_models_schema(stack: Stack, component: str) -> None:
    engine = make_engine(stack.database_urls[component])
    try:
        with engine.connect() as connection:
            options = {"compare_type": True, "include_object": objects_of(connection.dialect.name)}
            context = MigrationContext.configure(connection, opts=options)
            differences = compare_metadata(context, METADATA[component])
    finally:
        engine.dispose()
    assert differences == []


@pytest.mark.parametrize("component", sorted(METADATA))
def test_each_history_is_one_line(component: str) -> None:
    """Two migrations written side by side must be put in order before they land."""
    heads = ScriptDirectory.from_config(alembic_config(component)).get_heads()
    assert len(heads) == 1, f"{component} has several heads: {heads}"


def test_activities_of_the_mistaken_area_become_communication(scratch_engine: Engine) -> None:
    """The eighth area is communication (truyền thông); an earlier brief, and the code, had
    lifelong learning in its place."""
    url = scratch_engine.url.render_as_string(hide_password=False)
    command.upgrade(alembic_config("clubs", url), "c5e7a9b1d3f8")
    with Session(scratch_engine) as session, session.begin():
        profile = session.exec(select(QuotaProfile)).first()
        assert profile is not None and profile.id is not None  # the migrations' default
        club = Club(
            code="CLB-1",
            name="CLB",
            name_folded="clb",
            province_code="15",
            commune_code="02647",
            quota_profile_id=profile.id,
            status="active",
        )
        session.add(club)
        session.flush()
        assert club.id is not None
        for area in ("lifelong_learning", "health_care"):
            session.add(Activity(club_id=club.id, held_on=date(2024, 3, 1), area=area, title="x"))
    command.upgrade(alembic_config("clubs", url), "head")
    with Session(scratch_engine) as session:
        areas = sorted(session.exec(select(Activity.area)).all())
    assert areas == ["communication", "health_care"]
