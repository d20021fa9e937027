"""Matching the bank's borrowers to active club members, by their citizen IDs' blind indexes.

The clubs service answers which of a set of blind indexes belong to active members
(`POST /api/v1/members/lookup`, called directly with the loans service's own token): the
loans service never sends or receives a member's citizen ID. A batch
asks once; loans left unmatched (the borrower was not a member yet, or the clubs service was
down) are matched later by a matching run (`POST /api/v1/bank-loans/matching-runs`, a job the
worker carries out) or by this module's command:

    python -m services.loans.bank.matching [--chunk 5000]

which commits after every chunk and prints its progress.
"""

import argparse
import asyncio
import logging
import sys
import time
from collections.abc import Awaitable, Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated

import orjson
from fastapi import Depends, FastAPI, Request
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool

from common.clock import utcnow
from common.db import make_engine, normalise_url, reader
from common.jobs import JobRun
from common.problem_codes import Code
from common.problems import ServiceUnavailable
from common.service_client import ServiceClient, ServiceTokens
from services.loans.bank import service, store
from services.loans.bank.rules import Membership
from services.loans.bank.schemas import MatchingRun
from services.loans.settings import LoansSettings

LOOKUP_PATH = "/api/v1/members/lookup"
MAX_LOOKUP_IDS = 10_000
"""Borrowers per lookup call: the clubs service's limit, one bank batch."""
DEFAULT_CHUNK = 5_000

log = logging.getLogger("ishc.loans.bank.matching")


class MemberLookup:
    """Asks the clubs service which borrowers (blind indexes) are active members."""

    def __init__(self, client: ServiceClient) -> None:
        self.client = client

    async def memberships(self, borrowers: Collection[str]) -> dict[str, Membership]:
        """The active memberships among these blind indexes, by index; 503 problem if the clubs
        service fails."""
        wanted = sorted(set(borrowers))
        found: dict[str, Membership] = {}
        for start in range(0, len(wanted), MAX_LOOKUP_IDS):
            chunk = wanted[start : start + MAX_LOOKUP_IDS]
            response = await self.client.request(
                "POST", LOOKUP_PATH, json={"national_id_blind_indexes": chunk}
            )
            if response.status_code != 200:
                raise ServiceUnavailable(
                    f"The clubs service answered {response.status_code} to the member lookup.",
                    code=Code.SERVICE_ERROR,
                )
            for item in orjson.loads(response.content):
                found[item["national_id_blind_index"]] = Membership(
                    item["member_id"], item["club_id"], item["province_code"], item["commune_code"]
                )
        return found

    async def memberships_if_available(
        self, borrowers: Collection[str]
    ) -> dict[str, Membership] | None:
        """As `memberships`, but None when the clubs service cannot answer.

        Posting the bank's records must not fail for our own outage: they are stored unmatched
        and matched later.
        """
        if not borrowers:
            return {}
        try:
            return await self.memberships(borrowers)
        except ServiceUnavailable as exc:
            log.warning("bank loans stored unmatched: %s", exc.detail)
            return None


def member_lookup(request: Request) -> MemberLookup:
    lookup: MemberLookup = request.app.state.member_lookup
    return lookup


MemberLookupDep = Annotated[MemberLookup, Depends(member_lookup)]


@dataclass
class MatchingProgress:
    examined: int = 0
    matched: int = 0
    chunks: int = 0

    @property
    def unmatched(self) -> int:
        return self.examined - self.matched


async def match_unmatched(
    session: Session,
    lookup: MemberLookup,
    chunk_size: int = DEFAULT_CHUNK,
    after_chunk: Callable[[MatchingProgress], Awaitable[None]] | None = None,
) -> MatchingProgress:
    """Looks up every unmatched loan's borrower, a chunk at a time, and stores the matches.

    A clubs service that is down stops the run with a 503 problem; `after_chunk` (which
    commits) sees the progress after each chunk.
    """
    progress = MatchingProgress()
    after_id = 0
    while chunk := await run_in_threadpool(store.unmatched_loans, session, after_id, chunk_size):
        found = await lookup.memberships({borrower for _, borrower in chunk})
        matches = [(loan_id, found[borrower]) for loan_id, borrower in chunk if borrower in found]
        made = await run_in_threadpool(service.match_later, session, matches, utcnow())
        progress.examined += len(chunk)
        progress.matched += made
        progress.chunks += 1
        after_id = chunk[-1][0]
        if after_chunk is not None:
            await after_chunk(progress)
    return progress


MATCHING_JOB = "bank_matching"


async def matching_job(app: FastAPI, run: JobRun) -> MatchingRun:
    """A matching run as a job: each chunk is committed with the run's progress, so a run
    the clubs service stops (queued again later) goes on from the loans still unmatched."""
    with Session(app.state.engine, expire_on_commit=False) as session:
        total = await run_in_threadpool(store.count_unmatched, session)

        async def committed(progress: MatchingProgress) -> None:
            await run_in_threadpool(session.commit)
            await run.progress(progress.examined, total)

        progress = await match_unmatched(session, app.state.member_lookup, after_chunk=committed)
        await run_in_threadpool(session.commit)
    return MatchingRun(
        examined=progress.examined,
        matched=progress.matched,
        unmatched=progress.unmatched,
        chunks=progress.chunks,
    )


# --- the retry worker ------------------------------------------------------------------------


async def retry_matching(app: FastAPI) -> None:
    """The app's worker: loans stored while the clubs service could not answer are matched
    once it answers again, with no one running matching by hand. Two copies may run: a loan
    matched meanwhile is left alone, and a due row is dropped once it has been asked."""
    interval = app.state.settings.matching_retry_seconds
    while True:
        await asyncio.sleep(interval)
        try:
            await retry_due(app.state.engine, app.state.member_lookup, interval)
        except Exception:  # The worker must outlive a database hiccup; it tries again.
            log.exception("matching retry failed")


async def retry_due(engine: Engine, lookup: MemberLookup, postpone_seconds: float) -> int:
    """Asks about the loans whose matching is due, stores the matches; how many were made."""
    with Session(reader(engine)) as looking:  # most rounds find nothing: no write lock for them
        due = await run_in_threadpool(store.matching_due, looking, utcnow(), MAX_LOOKUP_IDS)
    if not due:
        return 0
    with Session(engine) as session:
        loan_ids = [loan_id for loan_id, _ in due]
        try:
            found = await lookup.memberships({b for _, b in due if b is not None})
        except ServiceUnavailable as exc:
            later = utcnow() + timedelta(seconds=postpone_seconds)
            await run_in_threadpool(_postpone, session, loan_ids, later)
            log.info("%d loans still wait for matching: %s", len(due), exc.detail)
            return 0
        matches = [(loan_id, found[b]) for loan_id, b in due if b is not None and b in found]
        made = await run_in_threadpool(_store, session, matches, loan_ids)
    log.info("matching retried for %d loans: %d matched", len(due), made)
    return made


def _postpone(session: Session, loan_ids: list[int], later: datetime) -> None:
    store.matching_postponed(session, loan_ids, later)
    session.commit()


def _store(session: Session, matches: list[tuple[int, Membership]], asked: list[int]) -> int:
    made = service.match_later(session, matches, utcnow())
    store.matching_done(session, asked)
    session.commit()
    return made


# --- the command -----------------------------------------------------------------------------


def _arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m services.loans.bank.matching",
        description="Match unmatched bank loans to active club members (asks the clubs service).",
    )
    parser.add_argument(
        "--chunk",
        type=int,
        default=DEFAULT_CHUNK,
        help=f"loans per lookup and commit, 1..{MAX_LOOKUP_IDS:,} ({DEFAULT_CHUNK:,})",
    )
    args = parser.parse_args(argv)
    if not 1 <= args.chunk <= MAX_LOOKUP_IDS:
        parser.error(f"--chunk must be within 1..{MAX_LOOKUP_IDS:,}")
    return args


async def _run(session: Session, chunk_size: int) -> MatchingProgress:
    settings = LoansSettings()
    tokens = ServiceTokens(settings.gateway_url, settings.client_id, settings.client_secret)
    client = ServiceClient("clubs", settings.clubs_url, tokens, settings.upstream_timeout_seconds)
    started = time.monotonic()

    async def committed(progress: MatchingProgress) -> None:
        session.commit()
        print(
            f"chunk {progress.chunks}: {progress.examined:,} loans examined, "
            f"{progress.matched:,} matched ({time.monotonic() - started:.1f} s)",
            flush=True,
        )

    try:
        return await match_unmatched(session, MemberLookup(client), chunk_size, committed)
    finally:
        await client.close()


def main(argv: Sequence[str] | None = None) -> int:
    args = _arguments(argv)
    engine = make_engine(normalise_url(LoansSettings().database_url))
    try:
        with Session(engine, expire_on_commit=False) as session:
            progress = asyncio.run(_run(session, args.chunk))
    except ServiceUnavailable as exc:
        print(f"error: {exc.detail} The chunks reported above are stored.", file=sys.stderr)
        return 1
    except SQLAlchemyError as exc:
        print(f"error: the loans database failed: {exc.__class__.__name__}", file=sys.stderr)
        return 1
    finally:
        engine.dispose()
    print(
        f"done: {progress.examined:,} unmatched loans examined, {progress.matched:,} matched, "
        f"{progress.unmatched:,} still unmatched"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
