"""Alembic, one history per component database, run from code or the command line.

`python -m common.migrate` upgrades every component's database to head, then gives it what
it needs besides its schema (the gateway: the first admin, our services' clients, the first
signing key); `python -m common.migrate clubs` only that one. Runs started at once on one
database (two replicas' start steps) take turns.
"""

import argparse
import fcntl
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from importlib import import_module
from pathlib import Path
from typing import Literal

from alembic import command, context
from alembic.autogenerate.api import AutogenContext
from alembic.config import Config
from sqlalchemy import MetaData, func, select
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
BOOTSTRAPS = {"gateway": "gateway.identity:bootstrap"}
"""What runs after a component's migrations, in the same turn (a function of no arguments)."""
MIGRATION_LOCK = 7_415_032_211
"""The PostgreSQL advisory lock that runs on one database take turns on."""


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


@contextmanager
def one_at_a_time(url: str) -> Iterator[None]:
    """Holds the database's migration lock: a PostgreSQL advisory lock, or a lock on a file
    beside a SQLite database. A second run waits for the first to finish, then finds its
    database at head (and bootstrapped)."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if not parsed.database or parsed.database == ":memory:":
            yield
            return
        lock_file = Path(f"{parsed.database}.migrate-lock")
        lock_file.parent.mkdir(parents=True, exist_ok=True)
        with lock_file.open("a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)  # released as the file closes
            yield
        return
    engine = make_engine(url)
    try:
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(select(func.pg_advisory_lock(MIGRATION_LOCK)))
            try:
                yield
            finally:
                connection.execute(select(func.pg_advisory_unlock(MIGRATION_LOCK)))
    finally:
        engine.dispose()


def migrate(component: str) -> None:
    """Upgrades the component's database to head and bootstraps it, in its turn."""
    with one_at_a_time(database_url(component)):
        upgrade(component)
        if component in BOOTSTRAPS:
            module, name = BOOTSTRAPS[component].split(":")
            getattr(import_module(module), name)()


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
        migrate(component)


if __name__ == "__main__":
    main()
