"""Each database's migrations build exactly the schema its models declare.

The session's platform was migrated with Alembic; comparing its databases with the models
catches a model changed without a migration (and the reverse) on SQLite and on PostgreSQL.
"""

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import MetaData

from common.db import make_engine
from common.migrate import alembic_config, objects_of
from gateway.tables import metadata as gateway_metadata
from services.clubs.models import ClubsBase
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
