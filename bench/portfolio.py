"""Latency of the loan portfolio on a national loan book in PostgreSQL, through the gateway.

    python bench/portfolio.py [--club-loans 1000000] [--bank-loans 10000000] [--runs 10] [--reuse]

Uses the national registry of `bench/clubs.py` (database `ishc_bench_clubs`: generated here if
missing) and a loan book in its own database `ishc_bench_loanbook` (`bench/generate_loans.py`:
one million member loans with their schedules and repayments, ten million bank records, 30 % of
them matched to members; `--reuse` keeps both). Then it starts the platform and times, through
the gateway with an admin token:

- the national portfolio     GET /api/v1/loans/portfolio                (target < 2 s median)
  today, and on past dates (`PAST_DATES`: year ends, a half-year, mid-month days)
- one province's portfolio   GET /api/v1/loans/portfolio?province=15    (target < 200 ms)
  today and on the same past dates
- one club's portfolio       GET /api/v1/loans/portfolio?club_id=ID     (target < 100 ms)

Before timing it waits until the loans worker has built the portfolio's running balances of
every shard (`services/loans/portfolio/balances.py`) and prints how long that took;
`--rebuild-balances` throws away the balances a reused loan book kept, to time their build.

Exit code: 0 when every target is met, 1 when one is missed, 2 when the run failed.
"""

import argparse
import random
import sys
import time
from collections.abc import Callable
from datetime import date, timedelta
from functools import partial
from pathlib import Path

import httpx
import psycopg

from bench._calls import Call, first_answer, print_verdicts, time_as_admin
from bench._common import (
    database_exists,
    database_urls,
    libpq_url,
    migrated_stack,
    one_row,
    progress,
    recreate_databases,
    table_rows,
)
from bench._guard import GuardedRun, guarded_run
from bench._options import add_seed, add_server, add_timing
from bench.generate_loans import generate as generate_loan_book
from bench.generate_registry import generate_national
from common import clock
from services.loans.portfolio.models import SHARDS
from tools.stack import Stack

DATABASES = {
    "gateway": "ishc_bench_portfolio_gateway",
    "clubs": "ishc_bench_clubs",
    "loans": "ishc_bench_loanbook",
    "funding": "ishc_bench_portfolio_funding",
}
PROVINCE = "15"
BALANCES_TIMEOUT_SECONDS = 3600.0


def past_dates(today: date) -> list[date]:
    """The past dates timed: the last two year ends, a half-year, and days a month, a year and
    two years back (mid-month, not month ends)."""
    return [
        date(today.year - 1, 12, 31),
        date(today.year - 2, 12, 31),
        date(today.year - 1, 6, 30),
        today - timedelta(days=30),
        today - timedelta(days=365),
        today - timedelta(days=730),
    ]


def drop_balances(url: str) -> None:
    """Every shard unbuilt: the worker builds them all again when the platform starts."""
    with psycopg.connect(libpq_url(url), connect_timeout=5) as conn:
        conn.execute("UPDATE portfolio_shards SET built_at = NULL")


def wait_for_balances(url: str) -> float:
    """Waits until the loans worker has built every shard's balances and none is stale; the
    seconds it took."""
    started = time.monotonic()
    shown = None
    with psycopg.connect(libpq_url(url), connect_timeout=5, autocommit=True) as conn:
        while True:
            unbuilt, stale = one_row(
                conn.execute(
                    "SELECT (SELECT count(*) FROM portfolio_shards WHERE built_at IS NULL),"
                    " (SELECT count(DISTINCT shard) FROM portfolio_stale)"
                )
            )
            if not unbuilt and not stale:
                break
            if (unbuilt, stale) != shown:
                progress(f"balances: {SHARDS - unbuilt}/{SHARDS} shards built, {stale} stale")
                shown = (unbuilt, stale)
            if time.monotonic() - started > BALANCES_TIMEOUT_SECONDS:
                raise RuntimeError("the portfolio's balances were not built in time")
            time.sleep(1)
    seconds = time.monotonic() - started
    progress(f"balances of {SHARDS} shards ready after {seconds:.0f} s")
    return seconds


def add_loan_book_options(parser: argparse.ArgumentParser) -> None:
    """The loan book's size, which `prepare` generates when there is none to reuse."""
    parser.add_argument("--club-loans", type=int, default=1_000_000)
    parser.add_argument("--bank-loans", type=int, default=10_000_000)


def prepare(args: argparse.Namespace, urls: dict[str, str], var_dir: Path) -> Stack:
    """The registry and the loan book made, or kept with `--reuse`, and the platform's databases
    migrated; the stack not yet started."""
    keep = {
        component
        for component in ("clubs", "loans")
        if args.reuse and database_exists(args.server_url, DATABASES[component])
    }
    recreate_databases(args.server_url, DATABASES, keep)
    stack = migrated_stack(urls, var_dir)
    if not table_rows(urls["clubs"], "clubs"):
        generate_national(urls["clubs"], progress)
    existing = table_rows(urls["loans"], "loans")
    if existing:
        progress(f"--reuse: {existing:,} member loans already in {DATABASES['loans']}")
        return stack
    progress(
        f"generating the loan book: {args.club_loans:,} member loans, "
        f"{args.bank_loans:,} bank records"
    )
    stats = generate_loan_book(
        urls["loans"], urls["clubs"], args.club_loans, args.bank_loans, args.seed, progress
    )
    progress(f"generated in {stats.seconds['total']:.0f} s: {stats.describe()}")
    return stack


def book_size(url: str) -> str:
    with psycopg.connect(libpq_url(url), connect_timeout=5) as conn:
        counts = [
            one_row(conn.execute(f"SELECT count(*) FROM {table}"))[0]
            for table in ("loans", "loan_instalments", "loan_repayments", "bank_loans")
        ]
        in_province = one_row(
            conn.execute(
                "SELECT (SELECT count(*) FROM loans WHERE province_code = %s),"
                " (SELECT count(*) FROM bank_loans WHERE province_code = %s)",
                (PROVINCE, PROVINCE),
            )
        )
    return (
        f"{counts[0]:,} member loans ({counts[1]:,} instalments, {counts[2]:,} repayments), "
        f"{counts[3]:,} bank records; province {PROVINCE}: {in_province[0]:,} member loans, "
        f"{in_province[1]:,} matched bank records"
    )


def some_club(url: str, seed: int) -> int:
    with psycopg.connect(libpq_url(url), connect_timeout=5) as conn:
        ids: list[int] = [row[0] for row in conn.execute("SELECT club_id FROM funds LIMIT 1000")]
    return random.Random(seed).choice(ids)


def show_figures(client: httpx.Client, call: Call) -> None:
    body = first_answer(client, call).json()
    progress(
        f"{call.name}: club loans {body['club_loans']}, bank loans "
        f"{body['bank_loans']}, borrowing {body['borrowing']}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_loan_book_options(parser)
    add_timing(parser, runs=10, warmup=2)
    add_seed(parser)
    parser.add_argument("--reuse", action="store_true", help="keep the registry and loan book")
    parser.add_argument(
        "--rebuild-balances",
        action="store_true",
        help="build the portfolio's running balances anew (timed)",
    )
    add_server(parser)
    args = parser.parse_args(argv)
    progress(f"bench of the loan portfolio on {clock.today()}")
    urls = database_urls(args.server_url, DATABASES)
    with guarded_run("ishc-bench-portfolio-") as guard:
        stack = prepare(args, urls, guard.var_dir)
        progress(book_size(urls["loans"]))
        if args.rebuild_balances:
            drop_balances(urls["loans"])
        past = [f"on={day}" for day in past_dates(clock.today())]
        national, province = (
            "/api/v1/loans/portfolio",
            f"/api/v1/loans/portfolio?province={PROVINCE}",
        )
        calls = [
            Call("national portfolio, today", 2000.0, [national]),
            Call("national portfolio, past dates", 2000.0, [f"{national}?{on}" for on in past]),
            Call(f"province {PROVINCE} portfolio, today", 200.0, [province]),
            Call(f"province {PROVINCE}, past dates", 200.0, [f"{province}&{on}" for on in past]),
            Call(
                "one club's portfolio",
                100.0,
                [f"/api/v1/loans/portfolio?club_id={some_club(urls['loans'], args.seed)}"],
            ),
        ]
        time_with_balances(guard, stack, calls, show_figures, args, urls["loans"])
    return verdict(guard, calls)


def time_with_balances(
    guard: GuardedRun,
    stack: Stack,
    calls: list[Call],
    show: Callable[[httpx.Client, Call], None],
    args: argparse.Namespace,
    loans_url: str,
) -> None:
    """Starts the platform and times `calls` (`time_as_admin`) once the portfolio's running
    balances are built."""
    ready = partial(wait_for_balances, loans_url)
    time_as_admin(guard, stack, calls, show, args.runs, args.warmup, ready=ready)


def verdict(guard: GuardedRun, calls: list[Call]) -> int:
    """The exit code: the run's failure, or each call against its target, printed."""
    if guard.exit_code is not None:
        return guard.exit_code
    print()
    print_verdicts(calls)
    return 0 if all(call.passed for call in calls) else 1


if __name__ == "__main__":
    sys.exit(main())
