"""Command-line options several benchmarks take, declared once so that they mean the same in all."""

import argparse

from bench._common import DEFAULT_SERVER, component_databases
from bench.generate_registry import DEFAULT_SEED


def add_seed(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help="random seed (1336)")


def add_timing(
    parser: argparse.ArgumentParser, runs: int, warmup: int, what: str = "calls per endpoint"
) -> None:
    """--runs and --warmup: how many timed calls of each kind (`what`), after how many
    untimed ones."""
    parser.add_argument("--runs", type=int, default=runs, help=f"timed {what} ({runs})")
    parser.add_argument(
        "--warmup", type=int, default=warmup, help=f"untimed calls first ({warmup})"
    )


def add_server(parser: argparse.ArgumentParser, prefix: str | None = None) -> None:
    """--server-url, and with a `prefix` (its default) --prefix: the benchmark's databases are
    PREFIX_<component> on that server; `prefixed_databases` checks the names."""
    parser.add_argument(
        "--server-url", default=DEFAULT_SERVER, help=f"a database to connect to ({DEFAULT_SERVER})"
    )
    if prefix is not None:
        parser.add_argument(
            "--prefix", default=prefix, help=f"database names: PREFIX_<component> ({prefix})"
        )


def prefixed_databases(parser: argparse.ArgumentParser, prefix: str) -> dict[str, str]:
    """The components' database names from --prefix; exits with a usage error when unsafe."""
    try:
        return component_databases(prefix)
    except ValueError as exc:
        parser.error(f"--prefix: {exc}")
