"""What the access log adds to a page of members read through the gateway.

Starts its own platform (SQLite in a temporary directory, or PostgreSQL with `--postgres URL`
of a server where it may create databases), adds a club of `--members` members, then in
alternating rounds (so machine noise hits both) times:
- a page of all those members read through the gateway, which logs it (one entry with the
  members' ids, written by the gateway before the answer leaves);
- the log's own write of such an entry with as many members, on the gateway's database, made
  by the same code (`gateway.access_log.AccessLog`) in this process;
and prints the medians and the write's share of the read:

    python -m bench.access_log [--members 200] [--rounds 5] [--reads 40] [--postgres URL]

Exit code 0 (1 with `--max-share` exceeded, 2 when the platform could not be run).
"""

import argparse
import secrets
import statistics
import sys
import time
from pathlib import Path

import httpx
from sqlalchemy import Engine

from bench._common import (
    admin_client,
    component_databases,
    database_urls,
    make_stack,
    progress,
    recreate_database,
    sqlite_urls,
)
from bench._guard import guarded_run
from common import clock
from common.auth import Role
from common.db import make_engine, normalise_url
from gateway.access_log import AccessLog
from tools.stack import Stack


def _databases(directory: Path, postgres: str | None) -> dict[str, str]:
    """SQLite in `directory`, or new databases on the `postgres` server."""
    if not postgres:
        return sqlite_urls(directory)
    names = component_databases("ishc_bench_access")
    for name in names.values():
        recreate_database(postgres, name)
    return database_urls(postgres, names)


def _club_of(client: httpx.Client, members: int) -> int:
    club = client.post(
        "/api/v1/clubs",
        json={
            "code": f"B-{secrets.token_hex(4)}",
            "name": "CLB bench",
            "province_code": "15",
            "commune_code": "02647",
            "status": "active",
        },
    ).json()
    for number in range(members):
        year = 1940 + number % 40
        response = client.post(
            f"/api/v1/clubs/{club['id']}/members",
            json={
                "full_name": f"Hội Viên {chr(65 + number % 26)}{chr(97 + number // 26 % 26)}",
                "gender": "female",
                "birth_year": year,
                "household_status": "poor",
                "national_id": f"0151{year % 100:02d}{number:06d}",
                "phone": "0912345678",
                "consents": [
                    {"purpose": "membership", "given_on": "2020-01-01", "form_reference": "1"}
                ],
            },
        )
        if response.status_code != 201:
            raise RuntimeError(f"adding a member answered {response.status_code}: {response.text}")
    club_id: int = club["id"]
    return club_id


def _read(client: httpx.Client, club_id: int, members: int) -> float:
    started = time.perf_counter()
    response = client.get(f"/api/v1/clubs/{club_id}/members", params={"limit": members})
    elapsed = time.perf_counter() - started
    response.raise_for_status()
    return elapsed


def _write(log: AccessLog, members: int) -> float:
    entry = {
        "at": clock.utcnow(),
        "principal": "user:bench",
        "role": Role.ADMIN.value,
        "client": None,
        "method": "GET",
        "path": "/api/v1/clubs/1/members",
        "request_id": None,
        "service": "clubs",
        "members": members,
    }
    started = time.perf_counter()
    log.write(entry, list(range(1, members + 1)))  # the proxy's own write
    return time.perf_counter() - started


def measure(stack: Stack, engine: Engine, args: argparse.Namespace) -> tuple[float, float]:
    with admin_client(stack) as client:
        progress(f"adding a club of {args.members} members")
        club_id = _club_of(client, args.members)
        log = AccessLog(engine)
        for _ in range(5):  # warm up both
            _read(client, club_id, args.members)
            _write(log, args.members)
        reads: list[float] = []
        writes: list[float] = []
        for number in range(1, args.rounds + 1):
            reads += [_read(client, club_id, args.members) for _ in range(args.reads)]
            writes += [_write(log, args.members) for _ in range(args.reads)]
            progress(f"round {number}/{args.rounds}")
    return statistics.median(reads), statistics.median(writes)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--members", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--reads", type=int, default=40)
    parser.add_argument("--postgres", help="a server URL (the databases are recreated)")
    parser.add_argument("--max-share", type=float, help="fail above this share (e.g. 0.05)")
    args = parser.parse_args(argv)
    with guarded_run("ishc-bench-access-") as guard:
        stack = make_stack(
            _databases(guard.var_dir, args.postgres), guard.var_dir, token_minutes=120
        )
        progress("migrating and starting the platform")
        stack.migrate()
        guard.stack = stack
        stack.start(log_dir=guard.log_dir)
        engine = make_engine(normalise_url(stack.database_urls["gateway"]))
        read, write = measure(stack, engine, args)
        engine.dispose()
    if guard.exit_code is not None:
        return guard.exit_code
    database = "PostgreSQL" if args.postgres else "SQLite"
    share = write / read
    print(f"{database}, a page of {args.members} members through the gateway:")
    print(f"  read (logged), median       {read * 1000:8.2f} ms")
    print(f"  the log's write, median     {write * 1000:8.2f} ms")
    print(f"  the write's share of a read {share:8.1%}")
    return 1 if args.max_share is not None and share > args.max_share else 0


if __name__ == "__main__":
    sys.exit(main())
