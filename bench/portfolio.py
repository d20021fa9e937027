"""Latency of the loan portfolio on a national loan book in PostgreSQL, through the gateway.

    python bench/portfolio.py [--club-loans 1000000] [--bank-loans 10000000] [--runs 10] [--reuse]

Uses the national registry of `bench/clubs.py` (database `ishc_bench_clubs`: generated here if
missing) and a loan book in its own database `ishc_bench_loanbook` (`bench/generate_loans.py`:
one million member loans with their schedules and repayments, ten million bank records, 30 % of
them matched to members; `--reuse` keeps both). Then it starts the platform and times, through
the gateway with an admin token:

- one province's portfolio   GET /api/v1/loans/portfolio?province=15   (target < 1 s median)
- one club's portfolio       GET /api/v1/loans/portfolio?club_id=ID    (target < 100 ms)
- with `--national`, the national portfolio   GET /api/v1/loans/portfolio   (< 2 s wanted;
  it does not answer within the gateway's 10 s yet at this scale)

Exit code: 0 when every target is met, 1 when one is missed, 2 when the run failed.
"""

import argparse
import random
import sys
import tempfile
from pathlib import Path

import httpx
import psycopg

from bench._common import (
    database_exists,
    database_url,
    get_token,
    libpq_url,
    migrated_stack,
    one_row,
    progress,
    recreate_database,
)
from bench.clubs import (
    DEFAULT_SERVER,
    REQUEST_TIMEOUT,
    Call,
    club_count,
    load_average,
    time_calls,
)
from bench.generate_loans import generate as generate_loan_book
from bench.generate_registry import DEFAULT_MEMBERS, DEFAULT_SEED
from bench.generate_registry import generate as generate_registry
from common import clock
from tools.stack import Stack

COMPONENTS = ("gateway", "clubs", "loans", "funding")
DATABASES = {
    "gateway": "ishc_bench_portfolio_gateway",
    "clubs": "ishc_bench_clubs",
    "loans": "ishc_bench_loanbook",
    "funding": "ishc_bench_portfolio_funding",
}
PROVINCE = "15"
REGISTRY_CLUBS = 25_000


def loan_count(url: str) -> int:
    with psycopg.connect(libpq_url(url), connect_timeout=5) as conn:
        row = one_row(
            conn.execute(
                "SELECT CASE WHEN to_regclass('loans') IS NULL THEN 0"
                " ELSE (SELECT count(*) FROM loans) END"
            )
        )
    return int(row[0])


def prepare(args: argparse.Namespace, urls: dict[str, str]) -> Stack:
    keep = {
        component
        for component in ("clubs", "loans")
        if args.reuse and database_exists(args.server_url, DATABASES[component])
    }
    for component, name in DATABASES.items():
        if component not in keep:
            progress(f"creating database {name} for {component}")
            recreate_database(args.server_url, name)
    stack = migrated_stack(urls, args.var_dir)
    if not club_count(urls["clubs"]):
        progress(f"generating the national registry: {REGISTRY_CLUBS:,} clubs")
        generate_registry(
            urls["clubs"],
            clubs=REGISTRY_CLUBS,
            members_per_club=DEFAULT_MEMBERS,
            seed=DEFAULT_SEED,
            replace=True,
            log=progress,
        )
    existing = loan_count(urls["loans"])
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


def run(args: argparse.Namespace) -> list[Call]:
    urls = {c: database_url(args.server_url, n) for c, n in DATABASES.items()}
    with tempfile.TemporaryDirectory(prefix="ishc-bench-portfolio-") as tmp:
        args.var_dir = Path(tmp)
        stack = prepare(args, urls)
        progress(book_size(urls["loans"]))
        calls = [
            Call(
                f"province {PROVINCE} portfolio",
                1000.0,
                [f"/api/v1/loans/portfolio?province={PROVINCE}"],
            ),
            Call(
                "one club's portfolio",
                100.0,
                [f"/api/v1/loans/portfolio?club_id={some_club(urls['loans'], args.seed)}"],
            ),
        ]
        if args.national:
            calls.append(Call("national portfolio", 2000.0, ["/api/v1/loans/portfolio"]))
        progress("starting clubs, loans, funding and the gateway")
        stack.start(log_dir=args.var_dir / "logs")
        try:
            headers = {"Authorization": f"Bearer {get_token(stack)}"}
            with httpx.Client(
                base_url=stack.gateway_url, headers=headers, timeout=REQUEST_TIMEOUT
            ) as client:
                for call in calls:
                    answer = client.get(call.path(0))
                    if answer.status_code != 200:
                        raise RuntimeError(f"{call.path(0)}: {answer.status_code} {answer.text}")
                    body = answer.json()
                    progress(
                        f"{call.name}: club loans {body['club_loans']}, bank loans "
                        f"{body['bank_loans']}, borrowing {body['borrowing']}"
                    )
                progress(f"timing, {load_average()}")
                time_calls(client, calls, args.runs, args.warmup, budget=300.0)
        finally:
            stack.stop()
    return calls


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--club-loans", type=int, default=1_000_000)
    parser.add_argument("--bank-loans", type=int, default=10_000_000)
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--reuse", action="store_true", help="keep the registry and loan book")
    parser.add_argument(
        "--national", action="store_true", help="also time the national portfolio (slow)"
    )
    parser.add_argument("--server-url", default=DEFAULT_SERVER)
    args = parser.parse_args(argv)
    progress(f"bench of the loan portfolio on {clock.today()}")
    try:
        calls = run(args)
    except (RuntimeError, OSError, httpx.HTTPError, psycopg.Error) as exc:
        print(f"benchmark failed: {exc}", file=sys.stderr, flush=True)
        return 2
    print()
    print(f"{'call':30} {'runs':>4} {'median':>10} {'p95':>10} target")
    for call in calls:
        verdict = "PASS" if call.passed else "FAIL"
        print(
            f"{call.name:30} {len(call.timings_ms):>4} {call.median:>7.1f} ms {call.p95:>7.1f} ms"
            f" < {call.target_ms:,.0f} ms: {verdict}"
        )
    return 0 if all(call.passed for call in calls) else 1


if __name__ == "__main__":
    sys.exit(main())
