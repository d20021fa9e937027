"""Latency of the funding reports on national money flows in PostgreSQL, through the gateway.

    python bench/funding.py [--allocations 200000] [--runs 30] [--national-runs 10] [--reuse]
                            [--explain]

Uses the national registry of `bench/clubs.py` (database `ishc_bench_clubs`, 25,000 clubs:
kept when it holds them, generated otherwise) and money flows in their own database
`ishc_bench_flows` (`bench/generate_funding.py`: 40 funders, a plan per province and year,
receipts and commitments, 200,000 allocations to the registry's clubs; `--reuse` keeps them).
Then it starts the platform, with the clubs service on the registry so club names resolve, and
times through the gateway:

- one funder's clubs in one province   GET /api/v1/funded-clubs?funder_id=F&province=P
  with an admin token and with a partner token bound to that funder (the page's real users),
  `--runs` times each (target < 100 ms median); the pair is the partner funder (NGO, donor or
  enterprise) with the most clubs in one province;
- the national plan-against-actual     GET /api/v1/plans/execution
  with an admin token, `--national-runs` times (target < 1 s median).

`--explain` then prints `EXPLAIN (ANALYZE, BUFFERS)` of the SQL the report code issues.

Exit code: 0 when every target is met, 1 when one is missed, 2 when the run failed, 130 on
Ctrl-C. The platform is always stopped; the databases are kept for `--reuse` and inspection.
"""

import argparse
import secrets
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx
import psycopg
from sqlmodel import Session

from bench._calls import BUDGET_SECONDS, Call, first_answer, print_table, time_calls
from bench._common import (
    REQUEST_TIMEOUT,
    admin_client,
    database_exists,
    database_urls,
    explain_endpoints,
    get_token,
    libpq_url,
    load_average,
    migrated_stack,
    one_row,
    progress,
    recreate_databases,
    table_rows,
)
from bench._guard import guarded_run
from bench._options import add_seed, add_server, add_timing
from bench.generate_funding import generate as generate_flows
from bench.generate_registry import DEFAULT_CLUBS, generate_national
from common import clock
from tools.stack import Stack

DATABASES = {
    "gateway": "ishc_bench_flows_gateway",
    "clubs": "ishc_bench_clubs",
    "loans": "ishc_bench_flows_loans",
    "funding": "ishc_bench_flows",
}
PAGE_TARGET_MS = 100.0
NATIONAL_TARGET_MS = 1000.0
PARTNER_TYPES = ("ngo", "international_donor", "enterprise")


@dataclass(frozen=True)
class PagePair:
    """The funder and province of the timed page, and how much the page covers."""

    funder_id: int
    funder_name: str
    province_code: str
    clubs: int
    allocations: int

    @property
    def path(self) -> str:
        return f"/api/v1/funded-clubs?funder_id={self.funder_id}&province={self.province_code}"


def prepare(args: argparse.Namespace, urls: dict[str, str], var_dir: Path) -> Stack:
    """Databases created (or kept), migrated and filled; the stack not yet started."""
    # The registry takes minutes to make and other benches share it: kept whenever it is the
    # full national one. The flows name its club ids, so they are only kept along with it.
    registry = database_exists(args.server_url, DATABASES["clubs"]) and (
        table_rows(urls["clubs"], "clubs") == DEFAULT_CLUBS
    )
    keep = {"clubs"} if registry else set()
    if registry and args.reuse and database_exists(args.server_url, DATABASES["funding"]):
        keep.add("funding")
    recreate_databases(args.server_url, DATABASES, keep)
    stack = migrated_stack(urls, var_dir)
    if not registry:
        generate_national(urls["clubs"], progress)
    existing = table_rows(urls["funding"], "allocations")
    if existing:
        progress(f"--reuse: {existing:,} allocations already in {DATABASES['funding']}")
        return stack
    progress(f"generating the money flows: {args.allocations:,} allocations (seed {args.seed})")
    args.generation = generate_flows(
        urls["funding"], urls["clubs"], args.allocations, args.seed, progress
    )
    seconds = args.generation.seconds
    progress(
        f"generated in {seconds['total']:.1f} s (drawing {seconds['draw']:.1f} s, COPY "
        f"{seconds['copy']:.1f} s, VACUUM ANALYZE {seconds['analyze']:.1f} s): "
        f"{args.generation.describe()}"
    )
    return stack


def data_size(url: str) -> str:
    tables = ("funders", "plans", "plan_lines", "commitments", "receipts", "allocations")
    with psycopg.connect(libpq_url(url), connect_timeout=5) as conn:
        counts = [one_row(conn.execute(f"SELECT count(*) FROM {t}"))[0] for t in tables]
        clubs = one_row(conn.execute("SELECT count(DISTINCT club_id) FROM allocations"))[0]
    return ", ".join(f"{n:,} {t}" for t, n in zip(tables, counts, strict=True)) + (
        f" to {clubs:,} clubs"
    )


def choose_page(url: str) -> PagePair:
    """The partner funder with the most clubs in one province: the heaviest realistic page."""
    with psycopg.connect(libpq_url(url), connect_timeout=5) as conn:
        row = conn.execute(
            "SELECT f.id, f.name, a.province_code, count(DISTINCT a.club_id), count(*)"
            " FROM allocations a JOIN funders f ON f.id = a.funder_id"
            " WHERE f.funder_type = ANY(%s)"
            " GROUP BY f.id, f.name, a.province_code ORDER BY 4 DESC, 1, 3 LIMIT 1",
            (list(PARTNER_TYPES),),
        ).fetchone()
    if row is None:
        raise RuntimeError("no allocation of a partner funder in the funding database")
    return PagePair(*row)


def partner_token(stack: Stack, admin: httpx.Client, funder_id: int) -> str:
    """A partner person bound to the funder (the gateway's database is new every run)."""
    username, password = f"partner.{funder_id}", secrets.token_urlsafe(16)
    created = admin.post(
        "/api/v1/users",
        json={
            "username": username,
            "password": password,
            "full_name": "Bench partner",
            "role": "partner",
            "funder_id": funder_id,
        },
    )
    if created.status_code != 201:
        raise RuntimeError(f"creating the partner user: {created.status_code} {created.text}")
    return get_token(stack, username, password)


def describe(client: httpx.Client, call: Call) -> None:
    """What the call answers on this data, and that it answers at all."""
    response = first_answer(client, call)
    body = response.json()
    size = f"{len(response.content):,} bytes"
    if "summary" in body:
        summary = body["summary"]
        named = sum(1 for item in body["items"] if item["club_name"])
        progress(
            f"{call.name}: {size}; {summary['clubs']:,} clubs, {summary['allocations']:,}"
            f" allocations, {summary['amount']:,} đồng; {len(body['items'])} on the page"
            f" ({named} named, missing {body['missing']}); other clubs {summary['other_clubs']}"
        )
    else:
        total = body["total"]
        progress(
            f"{call.name}: {size}; {body['plans']} plans, planned {total['planned']:,},"
            f" received {total['received']:,}, allocated {total['allocated']:,} đồng"
            f" ({total['execution_pct']} % executed), {len(body['by_province'])} provinces"
        )


def explain(url: str, page: PagePair) -> None:
    from common.auth import Principal, Role
    from common.schemas import DEFAULT_PAGE_SIZE, PageParams
    from services.funding.plans import execution
    from services.funding.reports import funded_clubs

    admin = Principal(subject="bench", role=Role.ADMIN)
    partner = Principal(subject="bench", role=Role.PARTNER, funder_id=page.funder_id)
    filters: funded_clubs.Filters = {
        "funder_id": page.funder_id,
        "province": page.province_code,
        "programme": None,
        "source": None,
        "date_from": None,
        "date_to": None,
    }

    def page_of(principal: Principal) -> Callable[[Session], object]:
        """The route's statements: the page's rows, then its items and summary."""

        def run(session: Session) -> object:
            visible = funded_clubs.allocation_conditions(principal, **filters, own_only=True)
            first = PageParams(limit=DEFAULT_PAGE_SIZE)
            rows, _, _ = funded_clubs._page(session, visible, first)
            return funded_clubs.club_items(session, principal, filters, visible, rows)

        return run

    explain_endpoints(
        url,
        [
            (f"funded clubs, admin ({page.path})", page_of(admin)),
            (f"funded clubs, partner of funder {page.funder_id} ({page.path})", page_of(partner)),
            (
                "national plan-against-actual (/api/v1/plans/execution)",
                lambda session: execution.for_area(session, admin, None, None, None),
            ),
        ],
    )


def measure(args: argparse.Namespace, stack: Stack, page: PagePair) -> list[Call]:
    admin_call = Call("funded clubs, admin", PAGE_TARGET_MS, [page.path])
    partner_call = Call("funded clubs, partner", PAGE_TARGET_MS, [page.path])
    national = Call("national plan-against-actual", NATIONAL_TARGET_MS, ["/api/v1/plans/execution"])
    with (
        admin_client(stack) as admin,
        httpx.Client(base_url=stack.gateway_url, timeout=REQUEST_TIMEOUT) as partner,
    ):
        partner.headers["Authorization"] = f"Bearer {partner_token(stack, admin, page.funder_id)}"
        describe(admin, admin_call)
        describe(partner, partner_call)
        describe(admin, national)
        args.load_before = load_average()
        progress(f"timing, {args.load_before}")
        time_calls(admin, [admin_call], args.runs, args.warmup, args.budget)
        time_calls(partner, [partner_call], args.runs, args.warmup, args.budget)
        time_calls(admin, [national], args.national_runs, args.warmup, args.budget)
        args.load_after = load_average()
    return [admin_call, partner_call, national]


def report(calls: list[Call], args: argparse.Namespace, page: PagePair) -> None:
    print()
    print(f"PostgreSQL, through the gateway; {args.size}")
    print(
        f"page: funder {page.funder_id} ({page.funder_name}) in province {page.province_code}:"
        f" {page.clubs:,} clubs, {page.allocations:,} allocations"
    )
    print_table(calls, 30, args.load_before, args.load_after)
    if args.generation is not None:
        print(f"generation: {args.generation.seconds['total']:.1f} s")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--allocations", type=int, default=200_000, help="(200,000)")
    add_timing(parser, runs=30, warmup=3, what="pages per token")
    parser.add_argument("--national-runs", type=int, default=10, help="timed national reports (10)")
    parser.add_argument(
        "--budget", type=float, default=BUDGET_SECONDS, help="seconds at most per call's runs (300)"
    )
    add_seed(parser)
    parser.add_argument("--reuse", action="store_true", help="keep the money flows if present")
    parser.add_argument(
        "--explain", action="store_true", help="print EXPLAIN (ANALYZE, BUFFERS) of the reports"
    )
    add_server(parser)
    args = parser.parse_args(argv)
    if not 1 <= args.allocations <= 10_000_000:
        parser.error("--allocations must be within 1..10,000,000")
    if not 1 <= args.runs <= 10_000 or not 1 <= args.national_runs <= 10_000:
        parser.error("--runs and --national-runs must be within 1..10,000")
    if not 0 <= args.warmup <= 1_000 or args.budget <= 0:
        parser.error("--warmup must be within 0..1,000 and --budget positive")
    args.generation = None
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    urls = database_urls(args.server_url, DATABASES)
    progress(f"bench of the funding reports on {clock.today()}")
    with guarded_run("ishc-bench-funding-") as guard:
        stack = prepare(args, urls, guard.var_dir)
        args.size = data_size(urls["funding"])
        progress(args.size)
        page = choose_page(urls["funding"])
        progress(
            f"page: funder {page.funder_id} ({page.funder_name}), province "
            f"{page.province_code}: {page.clubs:,} clubs, {page.allocations:,} allocations"
        )
        guard.start(stack)
        calls = measure(args, stack, page)
        stack.stop()
        if args.explain:
            explain(urls["funding"], page)
    if guard.exit_code is not None:
        return guard.exit_code
    report(calls, args, page)
    return 0 if all(call.passed for call in calls) else 1


if __name__ == "__main__":
    sys.exit(main())
