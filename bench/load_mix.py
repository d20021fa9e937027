"""A realistic mix under load: officers, partners, reports and the bank's batches at once.

    python bench/load_mix.py [--seconds 60] [--users 16] [--seed 1336]
                             [--database sqlite|postgres] [--server-url URL] [--prefix NAME]

Starts the platform (SQLite in a temporary directory by default; with `--database postgres`,
`PREFIX_<component>` databases on `--server-url`, dropped and created again), loads `make run`'s
demo data through the API (`tools/demo.py`: Lào Cai's 16 clubs with their members, funds, loans
and seed capital, the funders and the plan, the bank's records) and logs in through the
gateway as the demo's people and bank system, as a client would: the officer of Lào Cai and the
partner (the enterprise that co-funded the seed capital) with the password grant, the bank
with its client credentials, and the admin.

Then `--users` virtual users call back to back, for `--seconds`, reads drawn by weight from
`MIX` below, while the bank's system posts a batch of `BATCH_RECORDS` new loan records (about
half of the borrowers club members, a new `Idempotency-Key` each) `BATCHES_PER_MINUTE` times a
minute. A line every 5 s shows the progress; at the end, per kind of call: requests, throughput,
p50/p95/p99 latency and errors (the first one's status and body), the totals and the machine's
load average.

An error is an answer that is not 2xx, a connection error or a timeout, a report or page whose
`missing` names a part that did not answer, or a batch not created whole. Exit code: 0 without
errors, 1 with any, 2 when the run failed (the platform did not start, the demo data did not
load, a call of the mix failed before the run), 130 on Ctrl-C. The platform is always stopped.

Fair use is lifted for the run (`GATEWAY_RATE_LIMITS` all 0): a virtual user calls back to
back, far faster than a person, and the one demo officer would spend a minute's 600 calls in
seconds. What is measured is the platform's capacity for the mix, not its fair-use answers.
"""

import argparse
import asyncio
import math
import os
import random
import statistics
import sys
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import httpx
import orjson

from bench._common import (
    database_urls,
    get_token,
    load_average,
    make_stack,
    progress,
    recreate_databases,
    sqlite_urls,
)
from bench._guard import guarded_run
from bench._options import add_seed, add_server, prefixed_databases
from bench.bank_loans import make_records
from bench.gateway import cpu_seconds, server_setup
from common.auth import Role
from tools.demo import DEMO_CLIENTS, DEMO_PASSWORD, DEMO_USERS, Demo
from tools.demo_clubs import CLUBS
from tools.demo_funding import LAO_CAI
from tools.stack import Stack


@dataclass(frozen=True)
class Kind:
    """One kind of read: who makes it, its weight in the virtual users' draw and its path under
    `/api/v1` (its placeholders filled at random from the demo's data, see `Targets.fill`)."""

    name: str
    role: Role
    weight: int
    path: str


OFFICER, PARTNER, ADMIN = Role.OFFICER, Role.PARTNER, Role.ADMIN
# A day of the programme: officers work through their province's clubs (most calls), partners
# look at the clubs they funded, reports are asked now and then; the bank posts beside them.
# fmt: off
MIX: tuple[Kind, ...] = (
    #    name                     who      weight  path under /api/v1
    Kind("clubs page",            OFFICER, 27, "/clubs?province={province}&status=active&limit=20"),
    Kind("clubs search",          OFFICER,  8, "/clubs?province={province}&q={search}&limit=20"),
    Kind("one club",              OFFICER, 17, "/clubs/{club}"),
    Kind("club members page",     OFFICER, 13, "/clubs/{club}/members?limit=50"),
    Kind("club composition",      OFFICER, 10, "/clubs/{club}/composition"),
    Kind("province composition",  OFFICER,  3, "/clubs/composition?province={province}"),
    Kind("funded clubs",          PARTNER, 10, "/funded-clubs?province={province}"),
    Kind("one funded club",       PARTNER,  4, "/funded-clubs/{funded_club}"),
    Kind("portfolio, province",   OFFICER,  4, "/loans/portfolio?province={province}"),
    Kind("indicators, province",  OFFICER,  3, "/reports/indicators?province={province}"),
    Kind("indicators, national",  ADMIN,    1, "/reports/indicators"),
)
# fmt: on
BATCH = "bank batch"
BATCHES_PER_MINUTE = 4
BATCH_RECORDS = 500
BATCH_PATH = "/api/v1/bank-loans/batches"
MEMBER_SHARE = 0.5
"""Of a batch's borrowers, the share who are club members (matched by the loans service)."""

PROGRESS_SECONDS = 5.0
CALL_TIMEOUT = 30.0
"""Seconds a call may take (the gateway answers 504 after its own 10 s upstream timeout)."""
ERROR_EXCERPT = 300
NO_LIMITS = ",".join(f"{role.value}:0" for role in Role)


# --- the tally ---------------------------------------------------------------------------------


@dataclass
class Tally:
    """One kind's calls: the latencies of those answered (errors included) and the errors."""

    latencies_ms: list[float] = field(default_factory=list)
    unanswered: int = 0
    """Calls that got no answer (a connection error, a timeout): they have no latency."""
    errors: int = 0
    first_error: str = ""

    @property
    def requests(self) -> int:
        return len(self.latencies_ms) + self.unanswered

    def answered(self, elapsed_ms: float, problem: str | None) -> None:
        self.latencies_ms.append(elapsed_ms)
        if problem is not None:
            self.error(problem)

    def lost(self, problem: str) -> None:
        self.unanswered += 1
        self.error(problem)

    def error(self, problem: str) -> None:
        self.errors += 1
        if not self.first_error:
            self.first_error = problem

    def add(self, other: "Tally") -> None:
        self.latencies_ms += other.latencies_ms
        self.unanswered += other.unanswered
        self.errors += other.errors
        self.first_error = self.first_error or other.first_error

    def percentile(self, share: int) -> float:
        if len(self.latencies_ms) < 2:
            return self.latencies_ms[0] if self.latencies_ms else math.nan
        return statistics.quantiles(self.latencies_ms, n=100, method="inclusive")[share - 1]


def excerpt(content: bytes) -> str:
    text = content.decode(errors="replace").replace("\n", " ")
    return text if len(text) <= ERROR_EXCERPT else text[:ERROR_EXCERPT] + " …"


def judge(status: int, content: bytes) -> str | None:
    """What is wrong with an answer, None when nothing is: a status that is not 2xx, or a
    report or page that names in `missing` a part (a service) that did not answer."""
    if not 200 <= status < 300:
        return f"HTTP {status}: {excerpt(content)}"
    # Only the reports carry `missing`: the other answers are not parsed, to spare the CPU the
    # load generator shares with the platform.
    if b'"missing"' in content and orjson.loads(content).get("missing"):
        return f"HTTP {status}, incomplete: {excerpt(content)}"
    return None


def judge_batch(status: int, content: bytes) -> str | None:
    """`judge`, and every record of the batch created."""
    problem = judge(status, content)
    if problem is None:
        counts = orjson.loads(content)["counts"]
        if counts["created"] != BATCH_RECORDS:
            problem = f"HTTP {status}, a batch of {BATCH_RECORDS} records answered {counts}"
    return problem


# --- the platform and its demo data -------------------------------------------------------------


@dataclass(frozen=True)
class Targets:
    """What the calls are about, read from the demo data once the platform holds it."""

    clubs: list[int]
    funded_clubs: list[int]
    searches: list[str]
    member_ids: list[str]
    """Citizen IDs of the demo's members: the bank's borrowers who are in a club."""

    def fill(self, path: str, rng: random.Random) -> str:
        """A kind's path under /api/v1, its placeholders drawn with `rng`."""
        return "/api/v1" + path.format(
            province=LAO_CAI,
            club=rng.choice(self.clubs),
            funded_club=rng.choice(self.funded_clubs),
            search=rng.choice(self.searches),
        )


def load_demo(stack: Stack, var_dir: Path) -> dict[str, str]:
    """`make run`'s demo data, through the API; the demo API clients' secrets."""
    progress("loading the demo data (tools/demo.py, as `make run` does)")
    started = time.monotonic()
    # The admin `get_token` logs in as: the benches' platforms keep the default name.
    demo = Demo(stack.gateway_url, "admin", stack.admin_password, var_dir)
    try:
        loaded = demo.load()
    finally:
        demo.client.close()
    progress(f"demo data loaded in {time.monotonic() - started:.0f} s")
    client_secrets: dict[str, str] = loaded["clients"]
    return client_secrets


def client_token(stack: Stack, client_id: str, secret: str) -> str:
    """An API client's token (the client credentials grant), as a bank's system gets one."""
    response = httpx.post(
        stack.gateway_url + "/auth/token",
        data={"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret},
        timeout=30.0,
    )
    response.raise_for_status()
    token: str = response.json()["access_token"]
    return token


def log_in(stack: Stack, client_secrets: Mapping[str, str]) -> dict[Role, str]:
    """A token per role from the gateway's token endpoint, with the demo's credentials."""
    officer, partner = (user["username"] for user in DEMO_USERS[:2])
    bank = DEMO_CLIENTS[0]["client_id"]
    return {
        Role.ADMIN: get_token(stack),
        Role.OFFICER: get_token(stack, officer, DEMO_PASSWORD),
        Role.PARTNER: get_token(stack, partner, DEMO_PASSWORD),
        Role.BANK: client_token(stack, bank, client_secrets[bank]),
    }


def _client(stack: Stack, token: str) -> httpx.Client:
    headers = {"Authorization": f"Bearer {token}"}
    return httpx.Client(base_url=stack.gateway_url, headers=headers, timeout=CALL_TIMEOUT)


def _items(client: httpx.Client, path: str, **params: str | int) -> list[Any]:
    response = client.get(path, params=params)
    response.raise_for_status()
    items: list[Any] = response.json()["items"]
    return items


def read_targets(stack: Stack, tokens: Mapping[Role, str]) -> Targets:
    """The officer's clubs, the partner's funded clubs, the members' citizen IDs (as the admin
    sees them) and searches from the demo's club codes."""
    with _client(stack, tokens[OFFICER]) as officer, _client(stack, tokens[PARTNER]) as partner:
        clubs = [c["id"] for c in _items(officer, "/api/v1/clubs", province=LAO_CAI, limit=200)]
        funded = [c["club_id"] for c in _items(partner, "/api/v1/funded-clubs", limit=200)]
    with _client(stack, tokens[ADMIN]) as admin:
        member_ids = [
            member["national_id"]
            for club_id in clubs
            for member in _items(admin, f"/api/v1/clubs/{club_id}/members", limit=200)
            if member.get("national_id")
        ]
    if not clubs or not funded or not member_ids:
        raise RuntimeError(
            f"the demo data lacks clubs ({len(clubs)}), funded clubs ({len(funded)}) or "
            f"members' citizen IDs ({len(member_ids)})"
        )
    searches = sorted({club.code.rsplit("-", 1)[0] for club in CLUBS})
    progress(
        f"{len(clubs)} clubs, {len(funded)} of them funded by the partner, {len(member_ids)} "
        f"members' citizen IDs; searches {', '.join(searches)}"
    )
    return Targets(clubs, funded, searches, member_ids)


def check_mix(stack: Stack, tokens: Mapping[Role, str], targets: Targets) -> None:
    """Each kind of read answers once before the run, whole, and the bank's token reads: a call
    that cannot succeed would only measure its error. A RuntimeError names the first that
    does not."""
    rng = random.Random(0)
    for kind in MIX:
        path = targets.fill(kind.path, rng)
        with _client(stack, tokens[kind.role]) as client:
            response = client.get(path)
        problem = judge(response.status_code, response.content)
        if problem is not None:
            raise RuntimeError(f"{kind.name}: {path} {problem}")
        progress(f"{kind.name:21} {path}: {len(response.content):,} bytes")
    with _client(stack, tokens[Role.BANK]) as bank:
        response = bank.get("/api/v1/bank-loans", params={"limit": 1})
    if response.status_code != 200:
        raise RuntimeError(
            f"the bank's token: HTTP {response.status_code} {excerpt(response.content)}"
        )


# --- the load ----------------------------------------------------------------------------------


@dataclass
class Run:
    """The load: the platform's address, the tokens, the data the calls name, the tallies."""

    gateway_url: str
    tokens: Mapping[Role, str]
    targets: Targets
    seed: int
    tallies: dict[str, Tally] = field(
        default_factory=lambda: {name: Tally() for name in (*(k.name for k in MIX), BATCH)}
    )

    @property
    def requests(self) -> int:
        return sum(tally.requests for tally in self.tallies.values())

    @property
    def errors(self) -> int:
        return sum(tally.errors for tally in self.tallies.values())

    def headers(self, role: Role) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[role]}"}

    async def call(
        self,
        session: aiohttp.ClientSession,
        name: str,
        request: tuple[str, str, dict[str, str], bytes | None],
        judged: Callable[[int, bytes], str | None] = judge,
    ) -> None:
        """One call (method, path, headers, body), timed from its sending to its answer's last
        byte, and tallied under `name`."""
        method, path, headers, body = request
        tally = self.tallies[name]
        sent = time.perf_counter()
        try:
            async with session.request(
                method, self.gateway_url + path, headers=headers, data=body
            ) as response:
                content = await response.read()
        except (aiohttp.ClientError, TimeoutError) as exc:
            tally.lost(f"{type(exc).__name__}: {exc or 'no answer'}")
            return
        tally.answered((time.perf_counter() - sent) * 1000.0, judged(response.status, content))

    async def virtual_user(self, session: aiohttp.ClientSession, number: int, until: float) -> None:
        """Reads drawn from the mix by weight, back to back, until the deadline."""
        rng = random.Random(f"{self.seed}-{number}")
        weights = [kind.weight for kind in MIX]
        while time.monotonic() < until:
            kind = rng.choices(MIX, weights)[0]
            path = self.targets.fill(kind.path, rng)
            await self.call(session, kind.name, ("GET", path, self.headers(kind.role), None))

    async def bank_system(
        self, session: aiohttp.ClientSession, started: float, until: float
    ) -> None:
        """A batch at once, then one every 60 / `BATCHES_PER_MINUTE` s (or right after the
        previous one, when that took longer), while the run lasts."""
        rng = random.Random(f"{self.seed}-bank")
        number, due = 0, started
        while due < until:
            await asyncio.sleep(max(0.0, due - time.monotonic()))
            number += 1
            headers = self.headers(Role.BANK) | {
                "Content-Type": "application/json",
                "Idempotency-Key": str(uuid.uuid4()),
            }
            request = ("POST", BATCH_PATH, headers, self.batch_body(rng, number))
            await self.call(session, BATCH, request, judge_batch)
            due += 60.0 / BATCHES_PER_MINUTE

    def batch_body(self, rng: random.Random, number: int) -> bytes:
        """New records (their loan numbers unique to the batch), about half of them members'."""
        members = rng.sample(
            self.targets.member_ids,
            min(len(self.targets.member_ids), int(BATCH_RECORDS * MEMBER_SHARE)),
        )
        records = make_records(BATCH_RECORDS, members, self.seed * 1000 + number)
        return orjson.dumps({"records": records})

    async def show_progress(self, started: float) -> None:
        """A line every `PROGRESS_SECONDS`, until cancelled."""
        last_requests, last_at = 0, started
        while True:
            await asyncio.sleep(PROGRESS_SECONDS)
            now, requests = time.monotonic(), self.requests
            rate = (requests - last_requests) / (now - last_at)
            progress(
                f"{now - started:4.0f} s: {requests:,} calls ({rate:,.1f}/s lately), "
                f"{self.tallies[BATCH].requests} batches, {self.errors} errors; {load_average()}"
            )
            last_requests, last_at = requests, now

    async def load(self, users: int, seconds: int) -> float:
        """`users` virtual users and the bank's system until `seconds` have passed, then the
        calls under way answered. Returns the seconds it all took."""
        connector = aiohttp.TCPConnector(limit=users + 1)
        timeout = aiohttp.ClientTimeout(total=CALL_TIMEOUT)
        async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
            started = time.monotonic()
            until = started + seconds
            reporter = asyncio.create_task(self.show_progress(started))
            try:
                await asyncio.gather(
                    self.bank_system(session, started, until),
                    *(self.virtual_user(session, number, until) for number in range(users)),
                )
            finally:
                reporter.cancel()
            return time.monotonic() - started


def cpu_now(stack: Stack) -> dict[str, float]:
    """CPU seconds so far of each component and of this process, the load generator: on a
    2-core machine they say which one the latency waits for."""
    spent = {name: cpu_seconds(process.pid) for name, process in stack.processes.items()}
    known = {name: seconds for name, seconds in spent.items() if seconds is not None}
    return known | {"load generator": time.process_time()}


def run_load(run: Run, users: int, seconds: int) -> float:
    try:
        import uvloop
    except ImportError:
        return asyncio.run(run.load(users, seconds))
    return uvloop.run(run.load(users, seconds))


# --- the report --------------------------------------------------------------------------------


def print_report(
    run: Run,
    elapsed: float,
    args: argparse.Namespace,
    loads: tuple[str, str],
    cpu: Mapping[str, float],
) -> None:
    """The table: a row per kind of call, then all of them; the CPU each process spent."""
    print()
    print(
        f"{time.strftime('%Y-%m-%d %H:%M %Z')}, {os.cpu_count()} CPUs, {args.database}: "
        f"{args.users} users and the bank's system for {args.seconds} s ({elapsed:.1f} s with "
        f"the last answers); {loads[0]} before, {loads[1]} after"
    )
    header = (
        f"{'call':21} {'who':8} {'requests':>8} {'req/s':>7} {'p50 ms':>8} {'p95 ms':>8}"
        f" {'p99 ms':>8} {'errors':>6}"
    )
    print(header)
    print("-" * len(header))
    roles = {kind.name: kind.role.value for kind in MIX} | {BATCH: Role.BANK.value}
    everything = Tally()
    for name, tally in run.tallies.items():
        everything.add(tally)
        print(_row(name, roles[name], tally, elapsed))
    print("-" * len(header))
    print(_row("all", "", everything, elapsed))
    for name, tally in run.tallies.items():
        if tally.errors:
            print(f"first error of {name}: {tally.first_error}")
    batches = run.tallies[BATCH].requests
    print(f"a bank batch is {BATCH_RECORDS} new records ({batches * BATCH_RECORDS:,} sent)")
    print(
        "CPU in the run, in cores: "
        + ", ".join(f"{name} {seconds / elapsed:.2f}" for name, seconds in cpu.items())
    )
    print(server_setup())


def _row(name: str, who: str, tally: Tally, elapsed: float) -> str:
    return (
        f"{name:21} {who:8} {tally.requests:>8,} {tally.requests / elapsed:>7.1f}"
        f" {tally.percentile(50):>8.1f} {tally.percentile(95):>8.1f}"
        f" {tally.percentile(99):>8.1f} {tally.errors:>6}"
    )


# --- the command -------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> tuple[argparse.Namespace, dict[str, str] | None]:
    """The options, and with `--database postgres` the components' database names."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=60, help="length of the run (60)")
    parser.add_argument("--users", type=int, default=16, help="virtual users reading (16)")
    parser.add_argument(
        "--database",
        choices=("sqlite", "postgres"),
        default="sqlite",
        help="SQLite files in a temporary directory (sqlite), or PostgreSQL at --server-url",
    )
    add_server(parser, prefix="ishc_bench_mix")
    add_seed(parser)
    args = parser.parse_args(argv)
    if not 1 <= args.seconds <= 3600:
        parser.error("--seconds must be within 1..3,600")
    if not 1 <= args.users <= 1000:
        parser.error("--users must be within 1..1,000")
    names = prefixed_databases(parser, args.prefix) if args.database == "postgres" else None
    return args, names


def main(argv: list[str] | None = None) -> int:
    args, names = parse_args(argv)
    weights = sum(kind.weight for kind in MIX)
    progress(
        f"{args.users} users for {args.seconds} s on {args.database}: "
        + ", ".join(f"{kind.name} {kind.weight * 100 / weights:.0f} %" for kind in MIX)
        + f"; {BATCHES_PER_MINUTE} bank batches of {BATCH_RECORDS} records a minute"
    )
    # The tokens must outlive the demo's loading (a minute or two) and the run.
    token_minutes = max(15, math.ceil(args.seconds / 60) + 10)
    with guarded_run("ishc-bench-mix-") as guard:
        if names is None:
            urls = sqlite_urls(guard.var_dir)
        else:
            urls = database_urls(args.server_url, names)
            recreate_databases(args.server_url, names)
        stack = make_stack(urls, guard.var_dir, token_minutes)
        stack.extra_env |= {
            "GATEWAY_RATE_LIMITS": NO_LIMITS,
            "GATEWAY_CLIENT_TOKEN_MINUTES": str(token_minutes),
        }
        progress("migrating the databases")
        stack.migrate()
        guard.start(stack)
        tokens = log_in(stack, load_demo(stack, guard.var_dir))
        targets = read_targets(stack, tokens)
        check_mix(stack, tokens, targets)
        run = Run(stack.gateway_url, tokens, targets, args.seed)
        before, cpu_before = load_average(), cpu_now(stack)
        progress(f"running for {args.seconds} s; {before}")
        elapsed = run_load(run, args.users, args.seconds)
        loads, cpu_after = (before, load_average()), cpu_now(stack)
        cpu = {
            name: cpu_after[name] - spent for name, spent in cpu_before.items() if name in cpu_after
        }
    if guard.exit_code is not None:
        return guard.exit_code
    print_report(run, elapsed, args, loads, cpu)
    if run.errors:
        print(f"FAIL: {run.errors:,} errors in {run.requests:,} calls")
        return 1
    print(f"PASS: no errors in {run.requests:,} calls")
    return 0


if __name__ == "__main__":
    sys.exit(main())
