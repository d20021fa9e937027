"""`/api/v1/loans`: members' loans from their club's income-generation fund.

A loan is applied for, approved (or rejected) by the board, disbursed from the fund, repaid in
instalments and closed, or written off by an officer. Admins, the area's officer and the club's
board write; service tokens read; the bank and partners are refused here as at the gateway.
Loans out of the caller's scope answer 404, like loans that do not exist.
"""

import asyncio
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from sqlalchemy import ColumnElement
from sqlmodel import Session, col, select

from common import clock
from common.auth import CurrentPrincipal, Principal, Role, Writer, require_roles
from common.club_directory import ClubDirectoryDep, ClubFacts
from common.db import SessionDep
from common.idempotency import Idempotency
from common.paging import Synced, page_of
from common.problem_codes import Code
from common.problems import Conflict, NotFound, invalid
from common.schemas import Id, IdPath, Page, PageDep, WrittenDay
from common.sync import ChangedSince
from services.loans.clubs import MemberDirectoryDep, MemberFacts
from services.loans.ledger.models import Fund
from services.loans.lending import service
from services.loans.lending.models import Loan
from services.loans.lending.rules import LoanStatus
from services.loans.lending.schemas import (
    Disbursement,
    LoanApplication,
    LoanDetail,
    LoanPublic,
    LoanSort,
    Rejection,
    RepaymentCreate,
    RepaymentPublic,
    SchedulePublic,
    WriteOff,
)
from services.loans.scope import FUND_READERS, area_filter, covers, may_see

LOAN_READERS = FUND_READERS
# A write-off is a loss to the club: the board may not decide it about its own members.
WRITE_OFF_ROLES = (Role.ADMIN, Role.OFFICER)

router = APIRouter(
    prefix="/api/v1/loans", tags=["loans"], dependencies=[Depends(require_roles(*LOAN_READERS))]
)


def loan_filter(principal: Principal) -> ColumnElement[bool]:
    """The loans this caller may see, by the loan's own club and place."""
    return area_filter(
        principal, col(Loan.club_id), col(Loan.province_code), col(Loan.commune_code)
    )


def visible_loan(loan_id: IdPath, session: SessionDep, principal: CurrentPrincipal) -> Loan:
    loan = session.get(Loan, loan_id)
    if loan is None or not covers(principal, loan.club_id, loan.province_code, loan.commune_code):
        raise NotFound(f"No loan {loan_id}.")
    return loan


VisibleLoan = Annotated[Loan, Depends(visible_loan)]


def managed_loan(loan: VisibleLoan, _writer: Writer) -> Loan:
    return loan


ManagedLoan = Annotated[Loan, Depends(managed_loan)]


@dataclass(frozen=True)
class Applicant:
    """What the clubs service says about the club and the member of an application."""

    club: ClubFacts | None
    member: MemberFacts | None


async def applicant(
    payload: LoanApplication,
    clubs: ClubDirectoryDep,
    members: MemberDirectoryDep,
    _writer: Writer,
) -> Applicant:
    found, member = await asyncio.gather(
        clubs.facts({payload.club_id}), members.facts(payload.member_id)
    )
    return Applicant(found.get(payload.club_id), member)


def lending_fund(
    session: Session, principal: Principal, club: ClubFacts | None, club_id: int
) -> Fund:
    """The club's income-generation fund: 422 for a club unknown or out of scope, 409 if the
    club cannot lend (dissolved, no fund)."""
    fund = service.income_fund(session, club_id)
    in_scope = club is not None and covers(
        principal, club.id, club.province_code, club.commune_code
    )
    if not in_scope or (fund is not None and not may_see(principal, fund)):
        raise invalid("club_id", f"no club {club_id}", code=Code.UNKNOWN_REFERENCE)
    assert club is not None
    if club.dissolved:
        raise Conflict(
            f"The club {club_id} is dissolved; it makes no new loans.", code=Code.CLUB_DISSOLVED
        )
    if fund is None:
        raise Conflict(
            f"The club {club_id} has no income_generation fund to lend from.",
            code=Code.NO_LENDING_FUND,
        )
    return fund


def _today(session: Session, loan: Loan) -> LoanDetail:
    return service.detail(session, loan, clock.today())


@router.post(
    "",
    response_model=LoanDetail,
    status_code=201,
    summary="Apply for a loan (terms from the club's loan rules, or lower)",
)
def apply_for_loan(
    payload: LoanApplication,
    facts: Annotated[Applicant, Depends(applicant)],
    session: SessionDep,
    principal: CurrentPrincipal,
    idem: Idempotency,
) -> Any:
    fund = lending_fund(session, principal, facts.club, payload.club_id)
    assert fund.id is not None  # a stored fund
    found = service.rules_of(session, fund.id)
    if found is None:
        raise Conflict(
            f"The club {payload.club_id}'s income_generation fund {fund.id} has no loan rules "
            "yet; set them first.",
            code=Code.NO_LOAN_RULES,
        )
    terms = service.terms_within(found, payload)
    service.check_borrower(facts.member, payload.club_id, payload.applied_on)
    loan = service.apply(session, principal, fund, terms, payload)
    return idem.respond(
        session, _today(session, loan), headers={"Location": f"/api/v1/loans/{loan.id}"}
    )


@router.get("", response_model=Page[LoanPublic], summary="List loans in scope")
def list_loans(
    session: SessionDep,
    principal: CurrentPrincipal,
    page: PageDep,
    club_id: Id | None = None,
    member_id: Id | None = None,
    status: LoanStatus | None = None,
    sort: LoanSort = "id",
    since: ChangedSince = None,
) -> Page[LoanPublic]:
    filters: list[Any] = [loan_filter(principal)]
    if club_id is not None:
        filters.append(Loan.club_id == club_id)
    if member_id is not None:
        filters.append(Loan.member_id == member_id)
    if status is not None:
        filters.append(Loan.status == status.value)
    order = col(Loan.id).desc() if sort == "-id" else col(Loan.id)
    synced = Synced(col(Loan.sync_stamp), since)
    paged = page_of(session, select(Loan).where(*filters), page, order, synced=synced)
    return paged.page([service.public(loan) for loan in paged.rows])


@router.get("/{loan_id}", response_model=LoanDetail, summary="A loan and its figures on a date")
def read_loan(
    loan: VisibleLoan,
    session: SessionDep,
    on: Annotated[
        WrittenDay | None,
        Query(description="Figures at the end of this day; default today in Vietnam."),
    ] = None,
) -> LoanDetail:
    return service.detail(session, loan, on or clock.today())


@router.post("/{loan_id}/approve", response_model=LoanDetail, summary="Approve an application")
def approve_loan(
    loan: ManagedLoan, session: SessionDep, principal: CurrentPrincipal, idem: Idempotency
) -> Any:
    service.approve(session, loan, principal)
    return idem.respond(session, _today(session, loan), status_code=200)


@router.post("/{loan_id}/reject", response_model=LoanDetail, summary="Reject an application")
def reject_loan(
    payload: Rejection,
    loan: ManagedLoan,
    session: SessionDep,
    principal: CurrentPrincipal,
    idem: Idempotency,
) -> Any:
    service.reject(session, loan, principal, payload.reason)
    return idem.respond(session, _today(session, loan), status_code=200)


@router.post(
    "/{loan_id}/disburse",
    response_model=LoanDetail,
    summary="Pay an approved loan out of the fund and fix its schedule",
)
def disburse_loan(
    payload: Disbursement,
    loan: ManagedLoan,
    session: SessionDep,
    principal: CurrentPrincipal,
    idem: Idempotency,
) -> Any:
    service.disburse(session, loan, principal, payload.disbursed_on)
    return idem.respond(session, _today(session, loan), status_code=200)


@router.post(
    "/{loan_id}/write-off",
    response_model=LoanDetail,
    dependencies=[Depends(require_roles(*WRITE_OFF_ROLES))],
    summary="Write off the outstanding principal (officers and admins)",
)
def write_off_loan(
    payload: WriteOff,
    loan: ManagedLoan,
    session: SessionDep,
    principal: CurrentPrincipal,
    idem: Idempotency,
) -> Any:
    service.write_off(session, loan, principal, payload.written_off_on, payload.reason)
    return idem.respond(session, _today(session, loan), status_code=200)


@router.get("/{loan_id}/schedule", response_model=SchedulePublic, summary="The loan's schedule")
def read_schedule(loan: VisibleLoan, session: SessionDep) -> SchedulePublic:
    return service.schedule_public(session, loan)


@router.post(
    "/{loan_id}/repayments",
    response_model=RepaymentPublic,
    status_code=201,
    summary="Record a repayment (interest first, then principal)",
)
def record_repayment(
    payload: RepaymentCreate,
    loan: ManagedLoan,
    session: SessionDep,
    principal: CurrentPrincipal,
    idem: Idempotency,
) -> Any:
    repayment = service.repay(
        session, loan, principal, payload.amount, payload.paid_on, payload.reference
    )
    return idem.respond(session, service.public_repayment(repayment, loan))


@router.get(
    "/{loan_id}/repayments",
    response_model=Page[RepaymentPublic],
    summary="The loan's repayments in date order",
)
def list_repayments(
    loan: VisibleLoan, session: SessionDep, page: PageDep, since: ChangedSince = None
) -> Page[RepaymentPublic]:
    return service.repayments_page(session, loan, page, since)
