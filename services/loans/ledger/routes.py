"""`/api/v1/funds`: club funds and their ledger."""

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from sqlmodel import col, select
from starlette.concurrency import run_in_threadpool

from common.auth import CurrentPrincipal, Principal, Role, Writer, require_roles
from common.club_directory import ClubDirectoryDep, ClubFacts
from common.db import SessionDep
from common.idempotency import Idempotency
from common.paging import page_of
from common.problem_codes import Code
from common.problems import Conflict, NotFound, invalid
from common.schemas import Id, IdPath, Page, PageDep, WrittenDay
from common.sync import ChangedSince
from services.loans.ledger import service
from services.loans.ledger.models import Fund
from services.loans.ledger.rules import EntryType, FundKind
from services.loans.ledger.schemas import (
    AllocationCapital,
    CapitalIn,
    EntryPublic,
    ExpenseCreate,
    FundCreate,
    FundPublic,
    ReversalCreate,
    StatementLine,
)
from services.loans.scope import FUND_OPENERS, FUND_READERS, covers, fund_filter, may_see

router = APIRouter(
    prefix="/api/v1/funds", tags=["funds"], dependencies=[Depends(require_roles(*FUND_READERS))]
)


def public(session: SessionDep, fund: Fund) -> FundPublic:
    assert fund.id is not None
    return FundPublic(**fund.model_dump(), balance=service.balance(session, fund.id))


def visible_fund(fund_id: IdPath, session: SessionDep, principal: CurrentPrincipal) -> Fund:
    fund = session.get(Fund, fund_id)
    if fund is None or not may_see(principal, fund):
        raise NotFound(f"No fund {fund_id}.")
    return fund


VisibleFund = Annotated[Fund, Depends(visible_fund)]


def writable_fund(fund: VisibleFund, _writer: Writer) -> Fund:
    """A fund whose ledger the caller may write: admins, the area's officer, the club's board."""
    return fund


WritableFund = Annotated[Fund, Depends(writable_fund)]


async def club_for_fund(
    payload: FundCreate,
    directory: ClubDirectoryDep,
    principal: Annotated[Principal, Depends(require_roles(*FUND_OPENERS))],
) -> ClubFacts:
    """The club a fund is opened for: it exists, is in the caller's area and is not dissolved."""
    club = (await directory.facts({payload.club_id})).get(payload.club_id)
    if club is None or not covers(principal, club.id, club.province_code, club.commune_code):
        raise invalid("club_id", f"no club {payload.club_id}", code=Code.UNKNOWN_REFERENCE)
    if club.dissolved:
        raise Conflict(
            f"The club {club.id} is dissolved; it gets no new fund.", code=Code.CLUB_DISSOLVED
        )
    return club


@router.post(
    "",
    response_model=FundPublic,
    status_code=201,
    summary="Open a club fund",
    description="A club's two funds open by themselves when the club becomes active; this opens "
    "one that is missing (201), and answers 200 with the fund if it is already open.",
    responses={200: {"model": FundPublic, "description": "The fund was already open."}},
)
def open_fund(
    payload: FundCreate,
    club: Annotated[ClubFacts, Depends(club_for_fund)],
    session: SessionDep,
    principal: CurrentPrincipal,
    idem: Idempotency,
) -> Any:
    fund, opened = service.open_fund(session, club, payload.kind, principal.subject)
    return idem.respond(session, public(session, fund), status_code=201 if opened else 200)


@router.post(
    "/allocations",
    response_model=EntryPublic,
    status_code=201,
    summary="Record a funder's allocation as capital in a club's fund (funding service)",
    description="Opens the club's fund of that kind if it has none. An allocation is recorded "
    "once: a repeat answers 200 with the first entry; the same id with another club, fund or "
    "amount is 409. A dissolved club takes no new allocation (409).",
    responses={200: {"model": EntryPublic, "description": "Recorded before."}},
)
async def record_allocation(
    payload: AllocationCapital,
    directory: ClubDirectoryDep,
    session: SessionDep,
    principal: Annotated[Principal, Depends(require_roles(Role.SERVICE, Role.ADMIN))],
) -> Any:
    recorded = await run_in_threadpool(service.recorded_allocation, session, payload)
    if recorded is not None:
        return JSONResponse(jsonable_encoder(recorded), status_code=200)
    club = (await directory.facts({payload.club_id})).get(payload.club_id)
    if club is None:
        raise invalid("club_id", f"no club {payload.club_id}", code=Code.UNKNOWN_REFERENCE)
    if club.dissolved:
        raise Conflict(
            f"The club {club.id} is dissolved; it takes no new allocation.",
            code=Code.CLUB_DISSOLVED,
        )
    entry, created = await run_in_threadpool(
        service.record_allocation, session, payload, club, principal
    )
    return JSONResponse(jsonable_encoder(entry), status_code=201 if created else 200)


@router.get(
    "/allocations/{allocation_id}",
    response_model=EntryPublic,
    summary="The fund entry that recorded an allocation",
    dependencies=[Depends(require_roles(Role.SERVICE, Role.ADMIN))],
)
def allocation_entry(allocation_id: IdPath, session: SessionDep) -> EntryPublic:
    entry = service.allocation_entry(session, None, allocation_id)
    if entry is None:
        raise NotFound(f"No entry records the allocation {allocation_id}.")
    return service.public_entry(session, entry)


@router.get("", response_model=Page[FundPublic], summary="List funds in scope")
def list_funds(
    session: SessionDep,
    principal: CurrentPrincipal,
    page: PageDep,
    club_id: Id | None = None,
    kind: FundKind | None = None,
) -> Page[FundPublic]:
    filters: list[Any] = [fund_filter(principal)]
    if club_id is not None:
        filters.append(Fund.club_id == club_id)
    if kind is not None:
        filters.append(Fund.kind == kind.value)
    paged = page_of(session, select(Fund).where(*filters), page, col(Fund.id))
    return paged.page([public(session, fund) for fund in paged.rows])


@router.get("/{fund_id}", response_model=FundPublic, summary="A fund and its balance")
def get_fund(fund: VisibleFund, session: SessionDep) -> FundPublic:
    return public(session, fund)


@router.post(
    "/{fund_id}/capital",
    response_model=EntryPublic,
    status_code=201,
    summary="Record capital in",
    responses={200: {"model": EntryPublic, "description": "The allocation was recorded before."}},
)
def add_capital(
    payload: CapitalIn,
    fund: WritableFund,
    session: SessionDep,
    principal: CurrentPrincipal,
    idem: Idempotency,
) -> Any:
    entry, created = service.add_capital(
        session,
        fund,
        principal,
        payload.amount,
        payload.occurred_on,
        payload.origin,
        payload.allocation_id,
        payload.reference,
    )
    return idem.respond(
        session, service.public_entry(session, entry), status_code=201 if created else 200
    )


@router.post(
    "/{fund_id}/expenses",
    response_model=EntryPublic,
    status_code=201,
    summary="Record an activity expense",
)
def add_expense(
    payload: ExpenseCreate,
    fund: WritableFund,
    session: SessionDep,
    principal: CurrentPrincipal,
    idem: Idempotency,
) -> Any:
    if fund.kind != FundKind.ACTIVITY.value:
        raise Conflict("Expenses are paid from the activity fund only.", code=Code.WRONG_FUND_KIND)
    entry = service.spend(
        session,
        fund,
        principal,
        EntryType.EXPENSE,
        payload.amount,
        payload.occurred_on,
        payload.reference,
    )
    return idem.respond(session, service.public_entry(session, entry))


@router.post(
    "/{fund_id}/entries/{entry_id}/reversal",
    response_model=EntryPublic,
    status_code=201,
    summary="Reverse a mistaken entry",
)
def reverse_entry(
    entry_id: IdPath,
    payload: ReversalCreate,
    fund: WritableFund,
    session: SessionDep,
    principal: CurrentPrincipal,
    idem: Idempotency,
) -> Any:
    entry = service.reverse(
        session, fund, principal, entry_id, payload.occurred_on, payload.reference
    )
    return idem.respond(session, service.public_entry(session, entry))


@router.get(
    "/{fund_id}/entries", response_model=Page[StatementLine], summary="The fund's statement"
)
def fund_statement(
    fund: VisibleFund,
    session: SessionDep,
    page: PageDep,
    date_from: Annotated[WrittenDay | None, Query(alias="from")] = None,
    date_to: Annotated[WrittenDay | None, Query(alias="to")] = None,
    since: ChangedSince = None,
) -> Page[StatementLine]:
    if date_from and date_to and date_from > date_to:
        raise invalid("from", "is after 'to'", "query", code=Code.DATE_OUT_OF_ORDER)
    return service.statement(session, fund, date_from, date_to, page, since)
