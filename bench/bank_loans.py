"""Throughput of the bank's loan batches through the gateway, against PostgreSQL's COPY of the
same rows as stored (the storage limit).

    python bench/bank_loans.py [--records 200000] [--batch 10000] [--clubs 2000]
                               [--member-share 0.5] [--min-ratio 0.5]

Creates one PostgreSQL database per component (`<prefix>_<component>`, dropped and created
again on every run), migrates them, generates a small club registry (`--clubs` clubs of about
60 members, `bench/generate_registry.py`) so that a share of the borrowers are active members
to match, starts the gateway and the services as real processes and creates a bank client.

Then, in the same run and on the same server, batch by batch side by side (API batch i, then
its rows by COPY, so that both see the same machine: these machines are noisy):
- the API path: `--records` new loan records posted in batches of `--batch` to
  `POST /api/v1/bank-loans/batches` (atomic, with an Idempotency-Key), one after another on
  one keep-alive connection (`--posters` at once, each on its own), each answer checked
  (every record created);
- the reference: the same rows loaded with psycopg 3 `cursor.copy` (`write_row`, text
  format, one transaction per batch) into a scratch table of the same columns without
  indexes; and once more in binary format, which is faster still and printed for comparison
  (the service itself writes with binary COPY);
- for comparison too, the rows as `bank_loans` stores them (ids, posting, the matches of the
  member borrowers, times) loaded by binary COPY into a scratch table with its columns, checks
  and indexes: what storing them costs PostgreSQL, before any of the API's own work.

It prints the rates in rows per second, the ratio API / indexed COPY against the target
(issue 18: 50 %) and against the plain COPYs as context, the latency per batch (p50, p99, max),
the loans service's resident memory before the batches and its peak while it handled them
(`VmHWM`, reset after the warm-up), and the matched share. `--posters N` posts N batches at
once, each on its own connection (the bank's postings are applied one after another under its
lock; the reading and checking of the next overlap the storing of the one before). Exit code:
0 when the ratio meets `--min-ratio`, 1 when it does not, 2 when the run failed, 130 on Ctrl-C.
The platform is always stopped; the databases are kept for inspection.
"""

import argparse
import contextlib
import os
import random
import statistics
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson
import psycopg

from bench._common import (
    ProgressBar,
    database_urls,
    get_token,
    libpq_url,
    migrated_stack,
    one_row,
    progress,
    recreate_database,
)
from bench._guard import guarded_run
from bench._options import add_seed, add_server, prefixed_databases
from bench.generate_registry import generate
from common import clock, sealing
from common.national_id import CCCD_PROVINCE_CODES
from common.sealing import keyring
from services.clubs.models import NATIONAL_ID
from services.clubs.settings import ClubsSettings
from services.loans.bank.models import BORROWER_ID
from services.loans.bank.rules import MAX_BATCH_RECORDS, VALUE_FIELDS, Membership, Programme
from services.loans.bank.store import LOAN_COLUMNS
from tools.stack import Stack

TARGET_RATIO = 0.50
"""API / indexed COPY: the storage limit (issue 18)."""
BANK_CODE = "VBSP"
BATCH_TIMEOUT = 120.0
SCRATCH_TABLE = "bench_bank_loans_copy"
INDEXED_TABLE = "bench_bank_loans_indexed"
RECORD_FIELDS = (
    "loan_number",
    "borrower_national_id",
    "borrower_name",
    "programme",
    "principal",
    "disbursed_on",
    "maturity_on",
    "annual_interest_rate",
    "outstanding_principal",
    "overdue_amount",
    "status",
    "as_of",
)
# The bank's published rates (domain.md), in percent.
RATES = {
    Programme.POOR_HOUSEHOLDS: 6.6,
    Programme.NEAR_POOR_HOUSEHOLDS: 7.92,
    Programme.ESCAPED_POVERTY: 8.25,
    Programme.STUDENTS: 6.6,
    Programme.JOB_CREATION: 7.92,
    Programme.CLEAN_WATER: 9.0,
    Programme.DIFFICULT_AREAS: 9.0,
    Programme.HOUSING_FOR_THE_POOR: 3.0,
}
NAMES = ("Nguyễn Thị Hoa", "Trần Văn Minh", "Lò Thị Mai", "Hoàng Văn Sơn", "Vàng A Páo")


@dataclass
class Run:
    rows: int = 0
    seconds: float = 0.0
    batch_ms: list[float] = field(default_factory=list)
    matched: int = 0

    @property
    def rate(self) -> float:
        return self.rows / self.seconds if self.seconds else 0.0

    def add(self, rows: int, seconds: float) -> None:
        self.rows += rows
        self.seconds += seconds
        self.batch_ms.append(seconds * 1000)


# --- the records ------------------------------------------------------------------------------


def active_members(clubs_url: str, count: int, seed: int) -> dict[str, Membership]:
    """Active members, to be some of the borrowers: their memberships by citizen ID (opened
    with the registry's keys, which `generate` configured), in a random order."""
    with psycopg.connect(libpq_url(clubs_url), connect_timeout=5) as conn:
        conn.execute("SELECT setseed(%s)", (seed % 1000 / 1000,))
        rows = conn.execute(
            "SELECT member.national_id, member.id, member.club_id, club.province_code,"
            " club.commune_code FROM members AS member JOIN clubs AS club"
            " ON club.id = member.club_id WHERE member.left_on IS NULL"
            " AND member.national_id IS NOT NULL ORDER BY random() LIMIT %s",
            (count,),
        ).fetchall()
    keys = keyring()
    return {keys.open(sealed, NATIONAL_ID): Membership(*found) for sealed, *found in rows}


def stranger_id(rng: random.Random, provinces: list[str]) -> str:
    """A well-formed ID of somebody who is (almost surely) no member."""
    return f"{rng.choice(provinces)}{rng.choice('01')}{rng.randrange(40, 100):02d}" + (
        f"{rng.randrange(10**6):06d}"
    )


def make_records(count: int, members: list[str], seed: int) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    provinces = sorted(CCCD_PROVINCE_CODES)
    today = clock.today()
    records = []
    for number in range(count):
        programme = rng.choice(list(RATES))
        cap = 100_000_000 if programme is Programme.POOR_HOUSEHOLDS else 300_000_000
        principal = rng.randrange(5, cap // 1_000_000 + 1) * 1_000_000
        disbursed = today - timedelta(days=rng.randrange(30, 5 * 365))
        outstanding = principal * rng.randrange(0, 101) // 100
        overdue = outstanding // 10 if outstanding and rng.random() < 0.05 else 0
        status = "overdue" if overdue else ("closed" if outstanding == 0 else "active")
        records.append(
            {
                "loan_number": f"VBSP-{seed}-{number:08d}",
                "borrower_national_id": members[number]
                if number < len(members)
                else stranger_id(rng, provinces),
                "borrower_name": rng.choice(NAMES),
                "programme": programme.value,
                "principal": principal,
                "disbursed_on": disbursed.isoformat(),
                "maturity_on": (disbursed + timedelta(days=365 * rng.randrange(1, 6))).isoformat(),
                "annual_interest_rate": RATES[programme],
                "outstanding_principal": outstanding,
                "overdue_amount": overdue,
                "status": status,
                "as_of": (today - timedelta(days=rng.randrange(0, 30))).isoformat(),
            }
        )
    rng.shuffle(records)
    return records


def copy_rows(records: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    """The records as the COPY reference loads them: as stored (typed values, the rate in basis
    points, the borrower's blind index first and the sealed ID last, as in `VALUE_FIELDS`)."""
    keys = keyring()
    rows = []
    for r in records:
        national_id = r["borrower_national_id"]
        rows.append(
            (
                BANK_CODE,
                r["loan_number"],
                keys.blind_index(national_id),
                r["borrower_name"],
                r["programme"],
                r["principal"],
                date.fromisoformat(r["disbursed_on"]),
                date.fromisoformat(r["maturity_on"]),
                round(r["annual_interest_rate"] * 100),
                r["outstanding_principal"],
                r["overdue_amount"],
                r["status"],
                date.fromisoformat(r["as_of"]),
                keys.seal(national_id, BORROWER_ID),
            )
        )
    return rows


def stored_rows(
    rows: list[tuple[Any, ...]], memberships: dict[str, Membership], first_id: int, posted_by: str
) -> list[tuple[Any, ...]]:
    """The reference rows as `bank_loans` stores them (`LOAN_COLUMNS`): ids, the posting, the
    match of member borrowers (`memberships` by blind index), the times."""
    now = datetime.now(UTC)
    stored = []
    for loan_id, row in enumerate(rows, start=first_id):
        found = memberships.get(row[2])
        match = (*found, now) if found is not None else (None, None, None, None, None)
        stored.append((loan_id, *row, loan_id, "created", posted_by, now, *match, now, now))
    return stored


# --- the two paths ----------------------------------------------------------------------------


def bank_client(stack: Stack) -> httpx.Client:
    """A bank system's client, created through the admin API, with its own token."""
    admin = {"Authorization": f"Bearer {get_token(stack)}"}
    created = httpx.post(
        stack.gateway_url + "/api/v1/clients",
        json={"name": "VBSP core banking (bench)", "role": "bank", "bank_code": BANK_CODE},
        headers=admin,
        timeout=30.0,
    )
    created.raise_for_status()
    credentials = created.json()
    token = httpx.post(
        stack.gateway_url + "/auth/token",
        data={
            "grant_type": "client_credentials",
            "client_id": credentials["client_id"],
            "client_secret": credentials["client_secret"],
        },
        timeout=30.0,
    )
    token.raise_for_status()
    return httpx.Client(
        base_url=stack.gateway_url,
        headers={
            "Authorization": f"Bearer {token.json()['access_token']}",
            "Content-Type": "application/json",
        },
        timeout=BATCH_TIMEOUT,
    )


def post_batch(client: httpx.Client, size: int, body: bytes, run: Run) -> None:
    """One batch through the gateway, its answer checked, its time added to `run`."""
    elapsed, matched = timed_batch(client, size, body)
    run.add(size, elapsed)
    run.matched += matched


def timed_batch(client: httpx.Client, size: int, body: bytes) -> tuple[float, int]:
    """One batch through the gateway, its answer checked: its seconds, and how many of its
    records were matched to members."""
    sent = time.perf_counter()
    response = client.post(
        "/api/v1/bank-loans/batches",
        content=body,
        headers={"Idempotency-Key": str(uuid.uuid4())},
    )
    elapsed = time.perf_counter() - sent
    if response.status_code != 200:
        raise RuntimeError(f"batch answered {response.status_code}: {response.text[:500]}")
    counts = orjson.loads(response.content)["counts"]
    if counts["created"] != size:
        raise RuntimeError(f"batch of {size} records answered {counts}")
    return elapsed, int(counts["matched"])


COPY_COLUMNS = ("bank_code", "loan_number", *VALUE_FIELDS)
"""The posted columns, as `copy_rows` makes them."""


class CopyReference:
    """COPY of rows into a scratch table, batch by batch, one transaction per batch: in text
    format (psycopg's default) unless the column types are given (binary)."""

    def __init__(
        self, loans_url: str, table: str, create: str, columns: list[str], binary: bool
    ) -> None:
        self.table = table
        self.statement = f"COPY {table} ({', '.join(columns)}) FROM STDIN"
        self.run = Run()
        self.conn = psycopg.connect(libpq_url(loans_url), connect_timeout=5)
        self.conn.execute(f"DROP TABLE IF EXISTS {table}")
        self.conn.execute(create)
        self.types: list[str] | None = None
        if binary:
            self.statement += " (FORMAT BINARY)"
            types: dict[str, str] = dict(
                self.conn.execute(
                    "SELECT attname, format_type(atttypid, NULL) FROM pg_attribute"
                    " WHERE attrelid = %s::regclass AND attnum > 0",
                    (table,),
                ).fetchall()
            )
            self.types = [types[column] for column in columns]  # binary COPY names them
        self.conn.commit()

    def load(self, rows: list[tuple[Any, ...]]) -> None:
        """One batch in one transaction; its time added to `run`."""
        sent = time.perf_counter()
        with self.conn.cursor() as cursor, cursor.copy(self.statement) as copy:
            if self.types is not None:
                copy.set_types(self.types)
            for row in rows:
                copy.write_row(row)
        self.conn.commit()
        self.run.add(len(rows), time.perf_counter() - sent)

    def close(self) -> None:
        with contextlib.suppress(psycopg.Error):
            self.conn.rollback()
            self.conn.execute(f"DROP TABLE IF EXISTS {self.table}")
            self.conn.commit()
        self.conn.close()


def plain_reference(loans_url: str, binary: bool) -> CopyReference:
    """The target's reference: the posted columns, no indexes."""
    table = SCRATCH_TABLE + ("_binary" if binary else "")
    columns = list(COPY_COLUMNS)
    create = f"CREATE TABLE {table} AS SELECT {', '.join(columns)} FROM bank_loans WITH NO DATA"
    return CopyReference(loans_url, table, create, columns, binary)


def indexed_reference(loans_url: str) -> CopyReference:
    """For comparison: the rows as stored, into a table with `bank_loans`' columns, checks and
    indexes (binary, as the service writes them)."""
    create = (
        f"CREATE TABLE {INDEXED_TABLE} (LIKE bank_loans INCLUDING CONSTRAINTS INCLUDING INDEXES)"
    )
    return CopyReference(loans_url, INDEXED_TABLE, create, list(LOAN_COLUMNS), binary=True)


@dataclass
class Memory:
    """The loans service's resident memory, from `/proc` (Linux)."""

    before_mb: float = 0.0
    peak_mb: float = 0.0


def _status_mb(pid: int, field_name: str) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field_name + ":"):
            return int(line.split()[1]) / 1024  # kB
    return 0.0


def memory_before(pid: int) -> Memory:
    """The service's memory now, its peak reset (`clear_refs`), so that `peak_of` reads the
    peak of what follows."""
    Path(f"/proc/{pid}/clear_refs").write_text("5")
    return Memory(before_mb=_status_mb(pid, "VmRSS"))


def peak_of(pid: int, memory: Memory) -> Memory:
    return Memory(memory.before_mb, _status_mb(pid, "VmHWM"))


@dataclass
class Batch:
    size: int
    body: bytes
    """As posted to the API."""
    rows: list[tuple[Any, ...]]
    """The posted columns, for the plain references."""
    stored: list[tuple[Any, ...]]
    """As `bank_loans` stores them, for the indexed reference."""


def post_together(clients: list[httpx.Client], batches: list[Batch], api: Run) -> None:
    """One batch per client at once (a bank's export posting with as many connections): their
    wall time and rows added to `api`'s throughput, each batch's own time to its latencies."""
    started = time.perf_counter()
    with ThreadPoolExecutor(len(batches)) as pool:
        answers = list(
            pool.map(
                lambda pair: timed_batch(pair[0], pair[1].size, pair[1].body),
                zip(clients, batches, strict=False),
            )
        )
    api.rows += sum(batch.size for batch in batches)
    api.seconds += time.perf_counter() - started
    api.batch_ms += [elapsed * 1000 for elapsed, _ in answers]
    api.matched += sum(matched for _, matched in answers)


def side_by_side(clients: list[httpx.Client], batches: list[Batch], loans_url: str) -> list[Run]:
    """Batches through the API, as many at once as there are clients, then their rows by each
    COPY: the runs of the API, the plain COPY (text, then binary) and the indexed one."""
    api = Run()
    plain, binary, indexed = (
        plain_reference(loans_url, binary=False),
        plain_reference(loans_url, binary=True),
        indexed_reference(loans_url),
    )
    references = [plain, binary, indexed]
    bar = ProgressBar("API and COPY", sum(batch.size for batch in batches), "records")
    try:
        for start in range(0, len(batches), len(clients)):
            group = batches[start : start + len(clients)]
            post_together(clients, group, api)
            for batch in group:
                plain.load(batch.rows)
                binary.load(batch.rows)
                indexed.load(batch.stored)
            bar.update(api.rows, f"API {api.rate:,.0f} rows/s, COPY {indexed.run.rate:,.0f} rows/s")
    finally:
        bar.close()
        for reference in references:
            reference.close()
    return [api, *(reference.run for reference in references)]


def stored_counts(loans_url: str) -> tuple[int, int, int]:
    with psycopg.connect(libpq_url(loans_url), connect_timeout=5) as conn:
        loans, matched = one_row(
            conn.execute(
                "SELECT count(*), count(member_id) FROM bank_loans WHERE bank_code = %s",
                (BANK_CODE,),
            )
        )
        versions = one_row(conn.execute("SELECT count(*) FROM bank_loan_versions"))[0]
    return int(loans), int(matched), int(versions)


# --- the run ----------------------------------------------------------------------------------


def _copy_line(label: str, run: Run, note: str = "") -> str:
    return (
        f"{label:<14}{run.rate:>10,.0f} rows/s  ({run.seconds:6.1f} s; per batch median "
        f"{statistics.median(run.batch_ms):.0f} ms{note})"
    )


def _share(api: Run, reference: Run) -> float:
    return api.rate / reference.rate if reference.rate else 0.0


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def report(runs: list[Run], memory: Memory, args: argparse.Namespace) -> bool:
    api, reference, binary, indexed = runs
    ratio = _share(api, indexed)
    passed: bool = ratio >= args.min_ratio
    print()
    print(
        f"{api.rows:,} records in batches of {args.batch:,}, PostgreSQL, through the gateway; "
        f"{api.matched:,} matched to club members ({api.matched / api.rows:.0%})"
    )
    print(
        f"API batches   {api.rate:>10,.0f} rows/s  ({api.seconds:6.1f} s; per batch p50 "
        f"{_percentile(api.batch_ms, 0.5):.0f} ms, p99 {_percentile(api.batch_ms, 0.99):.0f} ms,"
        f" max {max(api.batch_ms):.0f} ms)"
    )
    print(_copy_line("COPY, indexed", indexed, "; as stored, with bank_loans' indexes"))
    print(_copy_line("COPY", reference, "; the posted columns, no index: context"))
    print(_copy_line("COPY, binary", binary, "; the same, binary: context"))
    verdict = "PASS" if passed else "FAIL"
    print(f"API / indexed {ratio:>10.1%}  target >= {args.min_ratio:.0%}: {verdict}")
    print(f"API / COPY    {_share(api, reference):>10.1%}")
    print(f"API / binary  {_share(api, binary):>10.1%}")
    print(
        f"loans service {memory.before_mb:>7.0f} MB resident before the batches, peak "
        f"{memory.peak_mb:.0f} MB while handling them ({args.posters} at a time)"
    )
    print(f"load average  {os.getloadavg()[0]:>10.1f}  (the machine's, over the last minute)")
    return passed


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Bank loan batches through the gateway vs COPY, on PostgreSQL."
    )
    parser.add_argument("--records", type=int, default=200_000, help="records (200,000)")
    parser.add_argument(
        "--batch", type=int, default=MAX_BATCH_RECORDS, help="records per batch (10,000)"
    )
    parser.add_argument("--clubs", type=int, default=2_000, help="clubs in the registry (2,000)")
    parser.add_argument(
        "--posters",
        type=int,
        default=1,
        help="batches posted at once, each on its own connection (1)",
    )
    parser.add_argument(
        "--member-share",
        type=float,
        default=0.5,
        help="share of borrowers who are active members (0.5)",
    )
    parser.add_argument(
        "--min-ratio", type=float, default=TARGET_RATIO, help="API / indexed COPY to pass (0.5)"
    )
    add_seed(parser)
    add_server(parser, prefix="ishc_bench_bank")
    args = parser.parse_args(argv)
    if not 1 <= args.records <= 10_000_000:
        parser.error("--records must be within 1..10,000,000")
    if not 1 <= args.batch <= MAX_BATCH_RECORDS:
        parser.error(f"--batch must be within 1..{MAX_BATCH_RECORDS:,}")
    if not 1 <= args.clubs <= 100_000 or not 0 <= args.member_share <= 1:
        parser.error("--clubs must be within 1..100,000 and --member-share within 0..1")
    args.databases = prefixed_databases(parser, args.prefix)
    return args


def prepare(args: argparse.Namespace, urls: dict[str, str], var_dir: Path) -> Stack:
    for name in args.databases.values():
        progress(f"creating database {name}")
        recreate_database(args.server_url, name)
    stack = migrated_stack(urls, var_dir)
    progress(f"generating {args.clubs:,} clubs into {args.databases['clubs']}")
    stats = generate(urls["clubs"], clubs=args.clubs, seed=args.seed, replace=True, log=progress)
    progress(f"registry: {stats.describe()}")
    return stack


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    sealing.configure(ClubsSettings())  # the services' keys: both take the defaults here
    urls = database_urls(args.server_url, args.databases)
    with guarded_run("ishc-bench-bank-") as guard:
        stack = prepare(args, urls, guard.var_dir)
        members = active_members(urls["clubs"], int(args.records * args.member_share), args.seed)
        progress(f"building {args.records:,} records ({len(members):,} borrowers are members)")
        records = make_records(args.records, list(members), args.seed)
        by_index = {keyring().blind_index(i): found for i, found in members.items()}
        batches = []
        for start in range(0, len(records), args.batch):
            chunk = records[start : start + args.batch]
            rows = copy_rows(chunk)
            stored = stored_rows(rows, by_index, start + 1, "client:bench")
            batches.append(Batch(len(chunk), orjson.dumps({"records": chunk}), rows, stored))
        guard.start(stack)
        with bank_client(stack) as client, contextlib.ExitStack() as more:
            clients = [client] + [
                more.enter_context(
                    httpx.Client(
                        base_url=client.base_url, headers=client.headers, timeout=BATCH_TIMEOUT
                    )
                )
                for _ in range(args.posters - 1)
            ]
            warm = make_records(min(args.batch, 1_000), [], args.seed + 1)
            post_batch(client, len(warm), orjson.dumps({"records": warm}), Run())
            loans_pid = stack.processes["loans"].pid
            memory = memory_before(loans_pid)
            runs = side_by_side(clients, batches, urls["loans"])
            memory = peak_of(loans_pid, memory)
        stack.stop()
        loans, matched, versions = stored_counts(urls["loans"])
        progress(
            f"stored: {loans:,} loans ({matched:,} matched), {versions:,} postings in the"
            " history (replaced or stale)"
        )
    if guard.exit_code is not None:
        return guard.exit_code
    return 0 if report(runs, memory, args) else 1


if __name__ == "__main__":
    sys.exit(main())
