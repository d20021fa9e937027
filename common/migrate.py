"""Alembic, one history per component database, run from code or the command line.

`python -m common.migrate` upgrades every component's database to head;
`python -m common.migrate clubs` only that one.
"""

import argparse
from collections.abc import Callable
from importlib import import_module
from pathlib import Path
from typing import Literal

from alembic import command, context
from alembic.autogenerate.api import AutogenContext
from alembic.config import Config
from sqlalchemy import MetaData
from sqlalchemy.engine import make_url

from common import sync
from common.db import UTCDateTime, make_engine, normalise_url

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"
COMPONENTS = {
    "gateway": "gateway.settings:GatewaySettings",
    "clubs": "services.clubs.settings:ClubsSettings",
    "loans": "services.loans.settings:LoansSettings",
    "funding": "services.funding.settings:FundingSettings",
}


def database_url(component: str) -> str:
    module, name = COMPONENTS[component].split(":")
    return normalise_url(getattr(import_module(module), name)().database_url)


def alembic_config(component: str, url: str | None = None) -> Config:
    config = Config(str(MIGRATIONS_DIR / "alembic.ini"), ini_section=component)
    config.set_main_option("script_location", str(MIGRATIONS_DIR / component))
    config.set_main_option("sqlalchemy.url", url or database_url(component))
    return config


def upgrade(component: str, url: str | None = None, revision: str = "head") -> None:
    command.upgrade(alembic_config(component, url), revision)


def _render_item(type_: str, obj: object, autogen_context: AutogenContext) -> str | Literal[False]:
    # Migrations use plain SQLAlchemy types, so they never depend on our code.
    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def objects_of(dialect: str) -> Callable[..., bool]:
    """Alembic's `include_object` for comparing a `dialect` database with the models: leaves
    out what the models create only on another backend (`Index(...).ddl_if(dialect=...)`)."""

    def include(obj: object, _name: object, _type: str, reflected: bool, _other: object) -> bool:
        condition = getattr(obj, "_ddl_if", None)
        return reflected or condition is None or condition.dialect in (None, dialect)

    return include


def run_env(metadata: MetaData) -> None:
    """The body of every component's `env.py`: online migrations in SQLite batch mode."""
    config = context.config
    url = config.get_main_option("sqlalchemy.url") or database_url(config.config_ini_section)
    is_sqlite = make_url(url).get_backend_name() == "sqlite"
    if context.is_offline_mode():
        context.configure(
            url=url,
            target_metadata=metadata,
            literal_binds=True,
            render_as_batch=is_sqlite,
            render_item=_render_item,
        )
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = make_engine(url)
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=metadata,
            render_as_batch=is_sqlite,
            compare_type=True,
            render_item=_render_item,
            include_object=objects_of(connection.dialect.name),
        )
        with context.begin_transaction():
            context.run_migrations()
    with engine.begin() as connection:
        sync.install_triggers(connection)
    engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description="Migrate the component databases to head.")
    parser.add_argument(
        "components",
        nargs="*",
        metavar="COMPONENT",
        help=f"any of {', '.join(COMPONENTS)}; all when left out",
    )
    components = parser.parse_args().components or list(COMPONENTS)
    unknown = set(components) - set(COMPONENTS)
    if unknown:
        parser.error(f"unknown component(s): {', '.join(sorted(unknown))}")
    for component in components:
        print(f"migrating {component} ...", flush=True)
        upgrade(component)


if __name__ == "__main__":
    main()
