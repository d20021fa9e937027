"""Each database's migrations build exactly the schema its models declare.

The session's platform was migrated with Alembic; comparing its databases with the models
catches a model changed without a migration (and the reverse) on SQLite and on PostgreSQL.
"""

from datetime import UTC, date, datetime

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, Integer, MetaData, String, column, table, text

from common.db import UTCDateTime, make_engine
from common.migrate import alembic_config, objects_of
from common.sealing import SealedJSON
from gateway.tables import metadata as gateway_metadata
from services.clubs.models import ClubsBase
from services.funding.tables import metadata as funding_metadata
from services.loans.tables import metadata as loans_metadata
from tests.conftest import PERSONAL_DATA_INDEX_KEY, PERSONAL_DATA_KEYS
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


def test_activities_of_the_mistaken_area_become_communication(
    scratch_engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The eighth area is communication (truyền thông); an earlier brief, and the code, had
    lifelong learning in its place."""
    # The clubs' migrations configure the sealing keys of this process from the settings:
    # the tests' own, or the rest of the session could not read what the services sealed.
    monkeypatch.setenv("CLUBS_PERSONAL_DATA_KEYS", PERSONAL_DATA_KEYS)
    monkeypatch.setenv("CLUBS_PERSONAL_DATA_INDEX_KEY", PERSONAL_DATA_INDEX_KEY)
    url = scratch_engine.url.render_as_string(hide_password=False)
    command.upgrade(alembic_config("clubs", url), "c5e7a9b1d3f8")
    # The rows as that revision's tables hold them (the models have moved on since).
    now = datetime.now(UTC)
    with scratch_engine.begin() as connection:
        profile = connection.execute(text("SELECT MIN(id) FROM quota_profiles")).scalar_one()
        connection.execute(
            text(
                "INSERT INTO clubs (created_at, updated_at, code, name, name_folded, "
                "province_code, commune_code, village, quota_profile_id, status, version) "
                "VALUES (:now, :now, 'CLB-1', 'CLB', 'clb', '15', '02647', '', :profile, "
                "'active', 1)"
            ),
            {"now": now, "profile": profile},
        )
        club = connection.execute(text("SELECT id FROM clubs")).scalar_one()
        for area in ("lifelong_learning", "health_care"):
            connection.execute(
                text(
                    "INSERT INTO activities (created_at, updated_at, club_id, held_on, area, "
                    "title, participants, beneficiaries, notes) "
                    "VALUES (:now, :now, :club, :day, :area, 'x', 0, 0, '')"
                ),
                {"now": now, "club": club, "day": date(2024, 3, 1), "area": area},
            )
    command.upgrade(alembic_config("clubs", url), "head")
    with scratch_engine.connect() as connection:
        areas = sorted(connection.execute(text("SELECT area FROM activities")).scalars())
    assert areas == ["communication", "health_care"]


def test_the_status_changes_already_audited_give_the_clubs_past_statuses(
    scratch_engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Counts on a past date read a club's status then from its status changes; those made
    before the table existed are read from the audit's sealed snapshots."""
    monkeypatch.setenv("CLUBS_PERSONAL_DATA_KEYS", PERSONAL_DATA_KEYS)
    monkeypatch.setenv("CLUBS_PERSONAL_DATA_INDEX_KEY", PERSONAL_DATA_INDEX_KEY)
    url = scratch_engine.url.render_as_string(hide_password=False)
    command.upgrade(alembic_config("clubs", url), "d9f1b3c5e7a4")
    at = datetime(2025, 5, 1, 3, 0, tzinfo=UTC)
    audit = table(
        "audit_entries",
        column("entity", String()),
        column("entity_id", Integer()),
        column("action", String()),
        column("actor", String()),
        column("at", UTCDateTime()),
        column("before", SealedJSON("audit_entries.before")),
        column("after", SealedJSON("audit_entries.after")),
    )
    with scratch_engine.begin() as connection:
        profile = connection.execute(text("SELECT MIN(id) FROM quota_profiles")).scalar_one()
        connection.execute(
            text(
                "INSERT INTO clubs (created_at, updated_at, code, name, name_folded, "
                "province_code, commune_code, village, quota_profile_id, status, version) "
                "VALUES (:now, :now, 'CLB-1', 'CLB', 'clb', '15', '02647', '', :profile, "
                "'suspended', 1)"
            ),
            {"now": at, "profile": profile},
        )
        club = connection.execute(text("SELECT id FROM clubs")).scalar_one()
        entry = {"entity": "club", "entity_id": club, "actor": "user:admin", "at": at}
        connection.execute(
            audit.insert(),
            [
                {**entry, "action": "updated", "before": {"name": "A"}, "after": {"name": "B"}},
                {
                    **entry,
                    "action": "status_changed",
                    "before": {"status": "active"},
                    "after": {"status": "suspended", "reason": "no meetings"},
                },
            ],
        )
    command.upgrade(alembic_config("clubs", url), "head")
    with scratch_engine.connect() as connection:
        changes = connection.execute(
            text("SELECT club_id, status_before, status_after FROM club_status_changes")
        ).all()
    assert [tuple(row) for row in changes] == [(club, "active", "suspended")]
