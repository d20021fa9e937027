"""Key rotation: every sealed value of a component's database moved to its current key.

    python -m common.reseal clubs|loans [--chunk 1000]

Run it after making a new key current (docs/personal-data.md gives the steps), while the
services run: each chunk is its own transaction, a value is rewritten only if it is still the
one read (a request that changed it meanwhile sealed it with the current key already), so two
copies of the command, or one stopped and started again, do no harm. It prints its progress
and, at the end, how many values each column still holds under an old key (none, unless a
writer with the old settings is still running).
"""

import argparse
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from importlib import import_module

from sqlalchemy import Column, Engine, MetaData, Table, bindparam, func, select, update
from sqlalchemy.exc import SQLAlchemyError

from common import sealing
from common.db import make_engine, normalise_url
from common.sealing import SealedValues
from common.settings import PersonalDataSettings

COMPONENTS = {
    "clubs": ("services.clubs.settings:ClubsSettings", "services.clubs.models:ClubsBase"),
    "loans": ("services.loans.settings:LoansSettings", "services.loans.tables:metadata"),
}
DEFAULT_CHUNK = 1_000


def _load(reference: str) -> object:
    module, name = reference.split(":")
    return getattr(import_module(module), name)


def sealed_columns(metadata: MetaData) -> Iterator[tuple[Table, Column[str]]]:
    """Every column whose values are sealed, in a stable order."""
    for table in metadata.sorted_tables:
        for column in table.columns:
            if isinstance(column.type, SealedValues):
                yield table, column


@dataclass
class Resealed:
    examined: int = 0
    resealed: int = 0


def reseal_column(
    engine: Engine,
    table: Table,
    column: Column[str],
    chunk: int,
    progress: Callable[[Resealed], None] = lambda _: None,
) -> Resealed:
    """Walks the table by id; values under an old key are opened and sealed with the current
    one, each chunk in a transaction of its own (`progress` sees the count after each)."""
    keys = sealing.keyring()
    purpose = column.type.purpose  # type: ignore[attr-defined]  # a SealedValues, see above
    row_id = table.c.id
    # The stored text as it is: the column's own type would open it.
    raw = column.type.impl  # type: ignore[attr-defined]
    stored = Column(column.name, raw)
    done = Resealed()
    after = 0
    rewrite = (
        update(table)
        .where(row_id == bindparam("row_id"), stored == bindparam("old", type_=raw))
        .values({column.name: bindparam("new", type_=raw)})
    )
    while True:
        with engine.begin() as connection:
            rows = connection.execute(
                select(row_id, stored.label("value"))
                .select_from(table)
                .where(row_id > after, stored.is_not(None))
                .order_by(row_id)
                .limit(chunk)
            ).all()
            if not rows:
                return done
            stale = [
                {"row_id": row.id, "old": row.value, "new": _resealed(row.value, purpose)}
                for row in rows
                if not keys.is_current(row.value)
            ]
            if stale:
                connection.execute(rewrite, stale)
        done.examined += len(rows)
        done.resealed += len(stale)
        after = rows[-1].id
        progress(done)


def _resealed(value: str, purpose: str) -> str:
    keys = sealing.keyring()
    return keys.seal(keys.open(value, purpose), purpose)


def under_old_keys(engine: Engine, table: Table, column: Column[str]) -> int:
    current = sealing.keyring().current + "."
    stored = Column(column.name, column.type.impl)  # type: ignore[attr-defined]
    with engine.connect() as connection:
        count = connection.execute(
            select(func.count())
            .select_from(table)
            .where(stored.is_not(None), ~stored.startswith(current, autoescape=True))
        ).scalar_one()
    return int(count)


def _arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m common.reseal",
        description="Seal every stored personal value with the current key (key rotation).",
    )
    parser.add_argument("component", choices=sorted(COMPONENTS))
    parser.add_argument(
        "--chunk", type=int, default=DEFAULT_CHUNK, help=f"rows per transaction ({DEFAULT_CHUNK:,})"
    )
    args = parser.parse_args(argv)
    if not 1 <= args.chunk <= 100_000:
        parser.error("--chunk must be within 1..100,000")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = _arguments(argv)
    settings_reference, metadata_reference = COMPONENTS[args.component]
    settings = _load(settings_reference)()  # type: ignore[operator]
    assert isinstance(settings, PersonalDataSettings)
    keys = sealing.configure(settings)
    found = _load(metadata_reference)
    metadata = found if isinstance(found, MetaData) else found.metadata  # type: ignore[attr-defined]
    engine = make_engine(normalise_url(settings.database_url))
    started = time.monotonic()
    print(f"sealing with key {keys.current!r}", flush=True)
    try:
        for table, column in sealed_columns(metadata):
            name = f"{table.name}.{column.name}"

            def report(done: Resealed, name: str = name) -> None:
                if done.examined % (args.chunk * 100) < args.chunk:
                    print(f"{name}: {done.examined:,} values examined", flush=True)

            done = reseal_column(engine, table, column, args.chunk, report)
            left = under_old_keys(engine, table, column)
            print(
                f"{name}: {done.examined:,} values examined, "
                f"{done.resealed:,} resealed, {left:,} under an old key "
                f"({time.monotonic() - started:.1f} s)",
                flush=True,
            )
    except sealing.PersonalDataKeyError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except SQLAlchemyError as exc:
        print(f"error: the database failed: {exc.__class__.__name__}", file=sys.stderr)
        return 1
    finally:
        engine.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
