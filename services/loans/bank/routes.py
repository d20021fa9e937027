"""`/api/v1/bank-loans`: the Social Policy Bank's loan records of club members.

The bank posts (one record, or batches of up to 10,000) with its client-credentials token and
an `Idempotency-Key`; it reads back its own records. Officers read the records matched to
members of clubs in their area, admins and our services all of them. Club boards and partners
are refused here too, not only at the gateway; records out of scope answer 404.
"""

import asyncio
import contextlib
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Annotated

import orjson
from fastapi import APIRouter, Depends, Query, Request, Response
from sqlalchemy import ColumnElement, or_
from sqlmodel import Session, col
from starlette.concurrency import run_in_threadpool

from common import clock
from common.auth import CurrentPrincipal, Principal, Role, refuse_service_writes, require_roles
from common.clock import utcnow
from common.db import SessionDep, prefer_lz4
from common.gc_pause import collector_paused
from common.idempotency import IdempotentRequest, RequiredIdempotency
from common.jobs import job_router
from common.personal_data import shown
from common.problem_codes import Code
from common.problems import Conflict, Forbidden, field_error
from common.schemas import MAX_IDS, Id, IdPath, Page, PageDep
from common.sealing import blind_index
from common.sync import ChangedSince
from services.loans.bank import reading, retraction, schemas, service
from services.loans.bank.matching import MATCHING_JOB, MemberLookup, MemberLookupDep
from services.loans.bank.models import BankLoan, BankLoanRetraction, BankLoanUnmatch
from services.loans.bank.rules import BankLoanStatus, BatchMode, LoanValues, Outcome, Programme
from services.loans.bank.schemas import (
    BankLoanPosted,
    BankLoanPublic,
    BankLoanRetractionCreate,
    BankLoanRetractionPublic,
    BankLoanSearch,
    BankLoanUnmatchPublic,
    BankLoanVersionPublic,
    BatchAnswer,
    LoanNumber,
    MatchingJob,
    MatchingOrder,
)
from services.loans.bank.service import Memberships
from services.loans.models import jobs

router = APIRouter(
    prefix="/api/v1/bank-loans",
    tags=["bank loans"],
    dependencies=[Depends(require_roles(*service.READERS))],
)
# Before `router`, whose `/{loan_id}` would take the path.
matching_runs = job_router(
    jobs=jobs,
    kind=MATCHING_JOB,
    path="/api/v1/bank-loans/matching-runs",
    model=MatchingJob,
    parameters=MatchingOrder,
    noun="matching the unmatched bank loans to club members (admins)",
    tags=["bank loans"],
)


def posting_bank(principal: Annotated[Principal, Depends(require_roles(Role.BANK))]) -> str:
    """The code of the bank that posts: only bank systems post, as themselves."""
    if not principal.bank_code:
        raise Forbidden(
            "This bank client has no bank_code; ask an admin to set it.",
            code=Code.BANK_CODE_MISSING,
        )
    return principal.bank_code


BankCode = Annotated[str, Depends(posting_bank)]


@dataclass(frozen=True)
class BankPosting:
    """What a bank's posting is written with: the bank that posts (as itself), its principal,
    the request's session, its claimed `Idempotency-Key`, and the clubs service's members."""

    bank_code: str
    principal: Principal
    session: Session
    idem: IdempotentRequest
    lookup: MemberLookup


async def bank_posting(
    bank_code: BankCode,
    principal: CurrentPrincipal,
    session: SessionDep,
    idem: RequiredIdempotency,
    lookup: MemberLookupDep,
) -> BankPosting:
    return BankPosting(bank_code, principal, session, idem, lookup)


BankPostingDep = Annotated[BankPosting, Depends(bank_posting)]
_PROBES = ThreadPoolExecutor(thread_name_prefix="bank-probe")
"""Threads that read a batch's stored loans while its records are checked (`_probing`)."""


@contextmanager
def _memberships(
    lookup: MemberLookup, borrowers: set[str], loop: asyncio.AbstractEventLoop
) -> Iterator[Callable[[], Memberships]]:
    """The borrowers' memberships, asked of the clubs service on the event loop `loop` while
    the worker thread goes on checking and planning the posting: only the loans themselves
    wait for the answer."""
    looking_up = asyncio.run_coroutine_threadsafe(lookup.memberships_if_available(borrowers), loop)
    try:
        yield looking_up.result
    finally:
        looking_up.cancel()  # nothing to cancel once it has answered


def _store_record(
    posting: BankPosting,
    number: str,
    values: LoanValues,
    correction: bool,
    loop: asyncio.AbstractEventLoop,
) -> service.Posted:
    corrections = [0] if correction else []
    with (
        _memberships(posting.lookup, {values.borrower_blind_index}, loop) as memberships,
        service.posting(
            posting.session, posting.bank_code, posting.principal.subject, [number], [values],
            memberships, utcnow(), corrections,
        ) as posted,
    ):  # fmt: skip
        if posted.plan.refused:
            ((field_name, reason, code),) = posted.plan.refused[0]
            raise Conflict(
                f"The loan {number}: {field_name} {reason}.",
                code=Code(code),
                errors=[field_error(field_name, reason, code=Code(code))],
            )
        return posted


@router.post(
    "",
    response_model=BankLoanPosted,
    status_code=201,
    responses={200: {"model": BankLoanPosted, "description": "Updated, unchanged or stale."}},
    openapi_extra={"requestBody": schemas.request_body_schema(schemas.RECORD)},
    summary="Post one loan record (bank systems)",
)
async def post_record(request: Request, posting: BankPostingDep) -> Response:
    number, values, correction = reading.parse_record(await request.body(), clock.today())
    loop = asyncio.get_running_loop()
    posted = await run_in_threadpool(_store_record, posting, number, values, correction, loop)
    _, stored, result = posted.plan.results[0]
    loan = await run_in_threadpool(posting.session.get, BankLoan, stored.id)
    assert loan is not None  # written in this transaction
    answer = BankLoanPosted(
        batch_id=posted.plan.batch_id,
        outcome=result,
        matching_available=posted.matching_available,
        bank_loan=service.public(loan),
    )
    status = 201 if result is Outcome.CREATED else 200
    return await run_in_threadpool(posting.idem.respond, posting.session, answer, status)


@router.post(
    "/batches",
    response_model=BatchAnswer,
    description="Each record's outcome: created, updated, unchanged, stale or rejected. An "
    "atomic batch with an invalid record answers 422 with `invalid_records` (index, "
    "loan_number, errors) for every invalid one, and stores nothing.",
    openapi_extra={"requestBody": schemas.request_body_schema(schemas.BATCH)},
    summary="Post a batch of up to 10,000 loan records (bank systems)",
)
async def post_batch(
    request: Request,
    posting: BankPostingDep,
    mode: Annotated[
        BatchMode,
        Query(description="atomic: all records or none; partial: the valid ones are stored."),
    ] = BatchMode.ATOMIC,
) -> Response:
    # The batch's objects are gone when `_post_batch` returns, before the collector runs again.
    with collector_paused():
        return await _post_batch(request, posting, mode)


async def _post_batch(request: Request, posting: BankPosting, mode: BatchMode) -> Response:
    body = await request.body()
    loop = asyncio.get_running_loop()
    return await run_in_threadpool(_write_batch, body, posting, loop, mode)


def _write_batch(
    body: bytes, posting: BankPosting, loop: asyncio.AbstractEventLoop, mode: BatchMode
) -> Response:
    """A batch from its body to its stored answer, in one worker thread (each hop between the
    event loop and a worker waits for the other's turn at the interpreter). The clubs service
    is asked about the borrowers as soon as the records are valid field by field."""
    validated = reading.validated_batch(body)
    with (
        _memberships(posting.lookup, validated.borrower_set(), loop) as memberships,
        _probing(posting, validated.loan_numbers()) as probed,
    ):
        parsed = reading.parse_batch(validated, clock.today())
        return _write_parsed(posting, mode, parsed, memberships, probed())


@contextmanager
def _probing(posting: BankPosting, numbers: set[str]) -> Iterator[Callable[[], service.Probe]]:
    """`service.probe` of these loan numbers in a thread of its own, while the body of the
    `with` goes on without the session (no statement, no savepoint) until it calls the
    function yielded (which waits for the probe). Leaving waits for the probe in any case: the
    session is never used by two threads at once."""
    probing = _PROBES.submit(service.probe, posting.session, posting.bank_code, numbers, utcnow())
    try:
        yield probing.result
    finally:
        # A failed probe raises where its result is asked for; else the body's error prevails.
        with contextlib.suppress(Exception):
            probing.result()


def _write_parsed(
    posting: BankPosting,
    mode: BatchMode,
    parsed: reading.ParsedBatch,
    memberships: Callable[[], Memberships],
    probed: service.Probe,
) -> Response:
    """A parsed batch written (`memberships` gives the clubs service's answer once it is
    needed; `probed`, the stored loans read for it), and its answer kept for retries."""
    if parsed.rejected and mode is BatchMode.ATOMIC:
        raise reading.refused_batch(parsed)
    session, bank_code, subject = posting.session, posting.bank_code, posting.principal.subject
    prefer_lz4(session)  # the batch's events and its stored answer are megabytes

    probes = iter([probed])  # for the first attempt: a partial batch may be written again

    def store(batch: reading.ParsedBatch) -> Response:
        first = next(probes, None)
        with service.posting(
            session,
            bank_code,
            subject,
            batch.loan_numbers,
            batch.postings,
            memberships,
            utcnow(),
            batch.corrections,
            first,
        ) as posted:
            if posted.plan.refused:
                if mode is BatchMode.ATOMIC:  # nothing is written: the transaction rolls back
                    raise reading.refused_batch(batch.rejecting(posted.plan.refused))
                batch = batch.rejecting(posted.plan.refused)
            # made while PostgreSQL stores the new loans
            content = service.batch_answer(mode, batch, posted.plan, posted.matching_available)
            answer = orjson.dumps(content)
        return Response(answer, media_type="application/json")

    if mode is BatchMode.ATOMIC:
        response = store(parsed)
    else:
        response = service.write_each_refusal_alone(session, parsed, store, bank_code, subject)
    return posting.idem.remember(session, response)


@router.get("", response_model=Page[BankLoanPublic], summary="List bank loans in scope")
def list_bank_loans(
    session: SessionDep,
    principal: CurrentPrincipal,
    page: PageDep,
    response: Response,
    loan_number: Annotated[
        list[LoanNumber] | None,
        Query(
            max_length=MAX_IDS,
            description=f"One or more loan numbers (repeat the parameter, up to {MAX_IDS}); for "
            "more, or by borrower, POST /api/v1/bank-loans/search.",
        ),
    ] = None,
    programme: Programme | None = None,
    status: BankLoanStatus | None = None,
    matched: Annotated[bool | None, Query(description="Matched to a club member or not.")] = None,
    club_id: Id | None = None,
    member_id: Id | None = None,
    since: ChangedSince = None,
) -> Page[BankLoanPublic]:
    conditions: list[ColumnElement[bool]] = [service.loan_filter(principal)]
    if loan_number:
        conditions.append(col(BankLoan.loan_number).in_(loan_number))
    if programme is not None:
        conditions.append(col(BankLoan.programme) == programme.value)
    if status is not None:
        conditions.append(col(BankLoan.status) == status.value)
    if matched is not None:
        member = col(BankLoan.member_id)
        conditions.append(member.is_not(None) if matched else member.is_(None))
    if club_id is not None:
        conditions.append(col(BankLoan.club_id) == club_id)
    if member_id is not None:
        conditions.append(col(BankLoan.member_id) == member_id)
    paged = service.find_loans(session, conditions, page, since)
    shown(response, (loan.member_id for loan in paged.rows))  # matched borrowers' records
    return paged.page([service.public(loan) for loan in paged.rows])


@router.post(
    "/search",
    response_model=Page[BankLoanPublic],
    summary="Read records by loan numbers or borrowers' citizen IDs, in bulk",
    description="The records in the caller's scope (a bank: its own) whose loan number is one "
    "of `loan_numbers` or whose borrower is one of `borrower_national_ids` (compared by their "
    "blind index: a citizen ID is never searched in plain text), in id order, paged like every "
    "list. It reads; it changes nothing, and a retry is harmless.",
)
def search_bank_loans(
    payload: BankLoanSearch,
    session: SessionDep,
    principal: CurrentPrincipal,
    page: PageDep,
    response: Response,
) -> Page[BankLoanPublic]:
    asked = []
    if payload.loan_numbers:
        asked.append(col(BankLoan.loan_number).in_(payload.loan_numbers))
    if payload.borrower_national_ids:
        indexes = {blind_index(national_id) for national_id in payload.borrower_national_ids}
        asked.append(col(BankLoan.borrower_blind_index).in_(sorted(indexes)))
    conditions = [service.loan_filter(principal), or_(*asked)]
    paged = service.find_loans(session, conditions, page)
    shown(response, (loan.member_id for loan in paged.rows))
    return paged.page([service.public(loan) for loan in paged.rows])


@router.get("/{loan_id}", response_model=BankLoanPublic, summary="One bank loan")
def get_bank_loan(
    loan_id: IdPath, session: SessionDep, principal: CurrentPrincipal, response: Response
) -> BankLoanPublic:
    loan = service.visible_loan(session, principal, loan_id)
    shown(response, [loan.member_id])
    return service.public(loan)


@router.get(
    "/{loan_id}/history",
    response_model=Page[BankLoanVersionPublic],
    summary="Every posting of a loan, the latest first (stale ones marked not applied)",
)
def bank_loan_history(
    loan_id: IdPath,
    session: SessionDep,
    principal: CurrentPrincipal,
    page: PageDep,
    response: Response,
) -> Page[BankLoanVersionPublic]:
    loan = service.visible_loan(session, principal, loan_id)
    shown(response, [loan.member_id])
    return service.history(session, loan, page)


@router.post(
    "/{loan_id}/retraction",
    response_model=BankLoanPublic,
    summary="Retract a record posted by mistake (kept, out of every figure; audited)",
    description="The bank that posted the record, or an admin. The record stays readable with "
    "`retracted_at` set, unmatched, out of every report and list of an area, and its loan number "
    "takes no posting (`bank_loan_retracted`) until it is reinstated. Raises "
    "`bank_loan.retracted`.",
)
def retract_bank_loan(
    loan_id: IdPath,
    payload: BankLoanRetractionCreate,
    session: SessionDep,
    principal: CurrentPrincipal,
    idem: RequiredIdempotency,
) -> Response:
    refuse_service_writes(principal)
    loan = retraction.retract(session, principal, loan_id, payload.reason)
    return idem.respond(session, service.public(loan), 200)


@router.post(
    "/{loan_id}/reinstatement",
    response_model=BankLoanPublic,
    summary="Reinstate a record retracted by mistake (audited; matched again)",
    description="The bank that posted the record, or an admin. The retraction stays in "
    "…/retractions with who reinstated it; the record is matched to its member again at once "
    "(or by the matching worker, if the clubs service cannot answer now). Raises "
    "`bank_loan.reinstated` (and `bank_loan.match_changed` when it is matched).",
)
async def reinstate_bank_loan(
    loan_id: IdPath,
    session: SessionDep,
    principal: CurrentPrincipal,
    idem: RequiredIdempotency,
    lookup: MemberLookupDep,
) -> Response:
    refuse_service_writes(principal)
    loan = await run_in_threadpool(service.visible_loan, session, principal, loan_id)
    found = await lookup.memberships_if_available({loan.borrower_blind_index})
    loan = await run_in_threadpool(retraction.reinstate, session, principal, loan_id, found)
    answer = await run_in_threadpool(idem.respond, session, service.public(loan), 200)
    shown(answer, [loan.member_id])  # matched again: a member's bank record, in the access log
    return answer


@router.get(
    "/{loan_id}/retractions",
    response_model=list[BankLoanRetractionPublic],
    dependencies=[Depends(require_roles(Role.ADMIN, Role.BANK))],
    summary="A record's retractions and reinstatements, the latest first (the bank, admins)",
)
def bank_loan_retractions(
    loan_id: IdPath, session: SessionDep, principal: CurrentPrincipal
) -> list[BankLoanRetraction]:
    loan = service.visible_loan(session, principal, loan_id)
    return retraction.retractions(session, loan)


@router.get(
    "/{loan_id}/unmatches",
    response_model=list[BankLoanUnmatchPublic],
    dependencies=[Depends(require_roles(Role.ADMIN))],
    summary="Matches of a loan to members that were undone, when and why (admins)",
)
def bank_loan_unmatches(
    loan_id: IdPath, session: SessionDep, principal: CurrentPrincipal, response: Response
) -> list[BankLoanUnmatch]:
    loan = service.visible_loan(session, principal, loan_id)
    found = service.unmatches(session, loan)
    shown(response, (unmatch.member_id for unmatch in found))
    return found
