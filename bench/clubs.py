"""Latency of the registry's read calls on a national registry in PostgreSQL, through the gateway.

    python bench/clubs.py [--scale full|small] [--runs 30] [--warmup 3] [--reuse] [--explain]

Creates one PostgreSQL database per component (`ishc_bench_<component>`, dropped and created
again on every run; `--reuse` keeps the clubs database and its data and skips the generation),
migrates them with the stack, generates the registry into the clubs database
(`bench/generate_registry.py`: 25,000 clubs and about 1.5 million members at full scale, 2,000
clubs with `--scale small`), starts the gateway and the services as real processes, gets an
admin token, and times each call `--runs` times after `--warmup` calls, one after another on
one keep-alive connection:

- a filtered page of clubs    GET /api/v1/clubs?province=P&status=active&q=Q&limit=20
- one club's composition      GET /api/v1/clubs/{id}/composition
- the national non-compliance list   GET /api/v1/clubs/non-compliant?limit=50
- a province aggregate        GET /api/v1/clubs/composition?province=15

It prints median and p95 per call against its target (50 ms for the first two, 1 s for the
others, on the median) with PASS or FAIL. `--explain` then runs each endpoint's own code
in-process, captures the SQL it issues and prints `EXPLAIN (ANALYZE, BUFFERS)` of every
statement, so the plans stay those of the current service code.

Exit code: 0 when every target is met, 1 when one is missed, 2 when the run failed, 130 on
Ctrl-C. The platform is always stopped; the databases are kept for `--reuse` and inspection.
"""

import argparse
import random
import sys
from collections.abc import Callable
from pathlib import Path

import httpx
import psycopg

from bench._calls import BUDGET_SECONDS, Call, first_answer, print_table, time_as_admin
from bench._common import (
    database_exists,
    database_urls,
    explain_endpoints,
    libpq_url,
    migrated_stack,
    one_row,
    progress,
    recreate_databases,
    table_rows,
)
from bench._guard import guarded_run
from bench._options import add_seed, add_server, add_timing, prefixed_databases
from bench.generate_registry import DEFAULT_CLUBS, DEFAULT_MEMBERS, generate
from common import clock
from common.text import fold
from tools.stack import Stack

SCALES = {"full": DEFAULT_CLUBS, "small": 2_000}
PROVINCE = "15"
"""The province of the aggregate: Lào Cai, the plan of 2018."""
PAGE_LIMIT = 20


# --- the databases and the platform -----------------------------------------------------------


def prepare(args: argparse.Namespace, urls: dict[str, str], var_dir: Path) -> Stack:
    """Databases created (or reused), migrated and filled; the stack not yet started."""
    names = args.databases
    reuse = args.reuse and database_exists(args.server_url, names["clubs"])
    if args.reuse and not reuse:
        progress(f"--reuse: no database {names['clubs']} yet, creating it")
    # Only the registry is worth keeping: the gateway's admin user must get this run's
    # password, and the other services hold nothing the bench reads.
    recreate_databases(args.server_url, names, keep={"clubs"} if reuse else ())
    stack = migrated_stack(urls, var_dir)
    existing = table_rows(urls["clubs"], "clubs")
    if reuse and existing:
        progress(f"--reuse: {existing:,} clubs already in {names['clubs']}, no generation")
        return stack
    progress(
        f"generating {args.clubs:,} clubs x ~{args.members_per_club} members into "
        f"{names['clubs']} (seed {args.seed})"
    )
    stats = generate(
        urls["clubs"],
        clubs=args.clubs,
        members_per_club=args.members_per_club,
        seed=args.seed,
        replace=True,
        log=progress,
    )
    progress(f"generated in {stats.seconds['total']:.1f} s: {stats.describe()}")
    args.generation = stats
    return stack


# --- what to call ---------------------------------------------------------------------------


def choose_inputs(url: str, seed: int, count: int) -> tuple[list[tuple[str, str]], list[int]]:
    """(province, search) pairs for the page, and active club ids, drawn from the data."""
    rng = random.Random(seed)
    with psycopg.connect(libpq_url(url), connect_timeout=5) as conn:
        active = [
            row
            for row in conn.execute(
                "SELECT id, province_code, commune_code FROM clubs WHERE status = 'active'"
                " ORDER BY id"
            ).fetchall()
        ]
    if not active:
        raise RuntimeError("no active club in the clubs database")
    from common import places

    communes = places.communes()
    searches = []
    for _, province, commune in rng.sample(active, min(count, len(active))):
        # Search the way an officer does: part of a commune's name, without its type.
        words = fold(communes[commune].name).split()[1:]
        searches.append((province, " ".join(words[:2]) or fold(communes[commune].name)))
    club_ids = [club_id for club_id, _, _ in rng.sample(active, min(count, len(active)))]
    return searches, club_ids


def make_calls(searches: list[tuple[str, str]], club_ids: list[int]) -> list[Call]:
    page = [
        str(
            httpx.URL(
                "/api/v1/clubs",
                params={"province": p, "status": "active", "q": q, "limit": PAGE_LIMIT},
            )
        )
        for p, q in searches
    ]
    aggregate = f"/api/v1/clubs/composition?province={PROVINCE}"
    return [
        Call("club page (province, status, q)", 50.0, page),
        Call("one club's composition", 50.0, [f"/api/v1/clubs/{i}/composition" for i in club_ids]),
        Call("national non-compliance list", 1000.0, ["/api/v1/clubs/non-compliant?limit=50"]),
        Call(f"province {PROVINCE} aggregate", 1000.0, [aggregate]),
    ]


def describe_answer(client: httpx.Client, call: Call) -> None:
    """What the call answers on this data: size, totals, the share of failing clubs."""
    response = first_answer(client, call)
    body = response.json()
    size = len(response.content)
    if "items" in body:
        facts = f"total {body['total']:,}, {len(body['items'])} items"
        if body["items"] and "failures" in body["items"][0]:
            facts += f"; first: {body['items'][0]['code']} {body['items'][0]['failures']}"
    elif "clubs_compliant" in body:
        facts = (
            f"{body['clubs']:,} active clubs, {body['clubs_compliant_pct']} % compliant, "
            f"{body['counts']['members']:,} members, shares {body['shares']}"
        )
    else:
        facts = f"compliant {body.get('compliant')}, failures {body.get('failures')}"
    progress(f"{call.name}: {call.path(0)} -> {size:,} bytes; {facts}")


def report(calls: list[Call], args: argparse.Namespace) -> None:
    print()
    scale = f"{args.clubs_found:,} clubs, {args.members_found:,} members"
    print(f"PostgreSQL, through the gateway, {scale}; {args.runs} runs after {args.warmup} warm-up")
    print_table(calls, 34, args.load_before, args.load_after)


def registry_size(url: str) -> tuple[int, int]:
    with psycopg.connect(libpq_url(url), connect_timeout=5) as conn:
        clubs = one_row(conn.execute("SELECT count(*) FROM clubs"))[0]
        members = one_row(conn.execute("SELECT count(*) FROM members"))[0]
    return int(clubs), int(members)


# --- the plans ------------------------------------------------------------------------------


def explain(url: str, searches: list[tuple[str, str]], club_id: int) -> None:
    """EXPLAIN (ANALYZE, BUFFERS) of the SQL each endpoint's code issues, captured in-process."""
    from sqlmodel import Session

    from common.auth import Principal, Role
    from common.schemas import PageParams
    from services.clubs.domain import ClubStatus
    from services.clubs.quotas import composition
    from services.clubs.registry import routes as registry
    from services.clubs.scope import visible_club

    admin = Principal(subject="bench", role=Role.ADMIN)
    province, q = searches[0]
    page = PageParams(limit=PAGE_LIMIT, offset=0)

    def club_page(session: Session) -> None:
        registry.list_clubs(
            session, admin, page, province=province, commune=None, status=ClubStatus.ACTIVE,
            compliant=None, on=None, founded_from=None, founded_to=None, q=q, sort="code",
        )  # fmt: skip

    def one_club(session: Session) -> None:
        composition.read_composition(visible_club(club_id, session, admin), session, None)

    def non_compliant(session: Session) -> None:
        composition.non_compliant(session, admin, PageParams(limit=50, offset=0), None, None)

    def aggregate(session: Session) -> None:
        composition.composition_summary(session, admin, None, PROVINCE)

    endpoints: list[tuple[str, Callable[[Session], object]]] = [
        (f"club page (province={province}, status=active, q={q!r})", club_page),
        (f"one club's composition (club {club_id})", one_club),
        ("national non-compliance list", non_compliant),
        (f"province {PROVINCE} aggregate", aggregate),
    ]
    explain_endpoints(url, endpoints)


# --- the run ----------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Latency of the registry's read calls on a national registry in PostgreSQL."
    )
    parser.add_argument(
        "--scale", choices=sorted(SCALES), default="full", help="25,000 or 2,000 clubs (full)"
    )
    parser.add_argument("--clubs", type=int, default=None, help="clubs, overriding --scale")
    parser.add_argument(
        "--members-per-club", type=int, default=DEFAULT_MEMBERS, help="mean per club (60)"
    )
    add_seed(parser)
    add_timing(parser, runs=30, warmup=3)
    parser.add_argument(
        "--budget",
        type=float,
        default=BUDGET_SECONDS,
        help="seconds at most per endpoint's runs (300)",
    )
    parser.add_argument(
        "--reuse", action="store_true", help="keep the clubs database and its data if present"
    )
    parser.add_argument(
        "--explain", action="store_true", help="print EXPLAIN (ANALYZE, BUFFERS) of each call"
    )
    add_server(parser, prefix="ishc_bench")
    args = parser.parse_args(argv)
    args.clubs = args.clubs if args.clubs is not None else SCALES[args.scale]
    if not 1 <= args.clubs <= 1_000_000:
        parser.error("--clubs must be within 1..1,000,000")
    if not 1 <= args.members_per_club <= 1_000:
        parser.error("--members-per-club must be within 1..1,000")
    if not 0 <= args.runs <= 10_000 or not 0 <= args.warmup <= 1_000:
        parser.error("--runs must be within 0..10,000 and --warmup within 0..1,000")
    if args.budget <= 0:
        parser.error("--budget must be positive")
    args.databases = prefixed_databases(parser, args.prefix)
    args.generation = None
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    urls = database_urls(args.server_url, args.databases)
    progress(f"bench of the club registry on {clock.today()}: {args.clubs:,} clubs wanted")
    calls: list[Call] = []
    with guarded_run("ishc-bench-clubs-") as guard:
        stack = prepare(args, urls, guard.var_dir)
        args.clubs_found, args.members_found = registry_size(urls["clubs"])
        searches, club_ids = choose_inputs(urls["clubs"], args.seed, max(args.runs, 10))
        calls = make_calls(searches, club_ids)
        if args.runs:
            args.load_before, args.load_after = time_as_admin(
                guard, stack, calls, describe_answer, args.runs, args.warmup, args.budget
            )
            stack.stop()
        if args.explain:
            explain(urls["clubs"], searches, club_ids[0])
    if guard.exit_code is not None:
        return guard.exit_code
    if args.generation is not None:
        seconds = args.generation.seconds
        print(
            f"generation: {seconds['total']:.1f} s (COPY {seconds['copy']:.1f} s, indexes "
            f"{seconds['indexes']:.1f} s, VACUUM ANALYZE {seconds['analyze']:.1f} s)"
        )
    if not args.runs:
        return 0
    report(calls, args)
    return 0 if all(call.passed for call in calls) else 1


if __name__ == "__main__":
    sys.exit(main())
