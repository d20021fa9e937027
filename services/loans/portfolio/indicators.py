"""`POST /api/v1/loans/indicators`: the money side of the programme indicators for an area or a
set of clubs on a date: clubs with both funds, fund capital, and the portfolio's outstanding
principal, PAR30 and borrowing members (the portfolio's figures, from a leaner statement).

The funding service's programme report asks this; the members able to borrow are divided by
the active members there, since the clubs service counts those.
"""

from datetime import date, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from pydantic import Field
from sqlalchemy import (
    ColumnElement,
    SQLColumnExpression,
    and_,
    bindparam,
    case,
    exists,
    func,
    or_,
    union,
)
from sqlmodel import Session, col, select

from common import clock
from common.auth import CurrentPrincipal, Principal, Role, require_roles
from common.db import ReportSessionDep, report_timeout, tune_for_report
from common.problems import NotFound
from common.schemas import Id, InputModel, OutputModel, ReportDate
from services.loans.bank.models import BankLoan
from services.loans.ledger.models import Fund, LedgerEntry, Posting
from services.loans.ledger.rules import Account, FundKind
from services.loans.lending.models import Loan
from services.loans.lending.rules import LoanStatus
from services.loans.models import ACTIVE_CLUB, KnownClub
from services.loans.portfolio.balances import kept_area, portfolio_money
from services.loans.portfolio.queries import Area
from services.loans.portfolio.schemas import ProvinceCode
from services.loans.scope import area_filter

MAX_CLUB_IDS = 25_000

router = APIRouter(
    prefix="/api/v1/loans",
    tags=["loans"],
    dependencies=[Depends(require_roles(Role.ADMIN, Role.OFFICER, Role.SERVICE))],
)


class MoneyIndicatorsQuery(InputModel):
    province: ProvinceCode | None = Field(default=None, description="One province's clubs.")
    commune: Annotated[str, Field(pattern=r"^\d{5}$")] | None = Field(
        default=None, description="One commune's clubs."
    )
    period_from: ReportDate | None = Field(
        default=None,
        alias="from",
        description="With it, the members who borrowed between it and `on` are counted too.",
    )
    fund_at_least: Annotated[int, Field(ge=0, le=10**15)] | None = Field(
        default=None,
        description="With it, the clubs whose income-generation fund holds at least this many "
        "đồng on `on` are counted too.",
    )
    club_ids: Annotated[list[Id], Field(max_length=MAX_CLUB_IDS)] | None = Field(
        default=None, description="Only these clubs (e.g. one funder's), at most 25,000."
    )
    on: ReportDate


class MoneyIndicators(OutputModel):
    on: date
    clubs_with_funds: int = Field(description="Clubs with a fund opened by the date.")
    clubs_with_both_funds: int = Field(
        description="Clubs with both an income-generation and an activity fund by the date."
    )
    fund_capital: int = Field(
        description="The funds' capital account balance on the date: capital in, net of "
        "reversals, in đồng."
    )
    loans_outstanding: int
    outstanding_principal: int
    par30_principal: int
    members_with_club_loan: int
    members_with_bank_loan: int
    members_with_loan: int = Field(
        description="Members with an outstanding club or bank loan, each counted once."
    )
    income_funds_held: int = Field(
        description="What the active clubs' income-generation funds hold on the date (cash and "
        "loans outstanding), in đồng."
    )
    clubs_with_income_fund_at_least: int | None = Field(
        default=None,
        description="Active clubs whose income-generation fund holds at least `fund_at_least` "
        "đồng on the date; none without it.",
    )
    members_borrowed_in_period: int | None = Field(
        default=None,
        description="Members who held a club loan or a matched bank loan at any time from "
        "`from` to `on` (not only those still owing on `on`), each counted once; none without "
        "`from`.",
    )


def _ids_in(column: SQLColumnExpression[int | None], ids: list[int]) -> ColumnElement[bool]:
    # Rendered inline (validated integers): 25,000 ids used several times in one statement
    # would pass the databases' limits on bound parameters.
    return column.in_(bindparam("club_ids", ids, expanding=True, literal_execute=True))


def _place(
    principal: Principal,
    query: MoneyIndicatorsQuery,
    club_id: SQLColumnExpression[int | None],
    province: SQLColumnExpression[str | None],
    commune: SQLColumnExpression[str | None],
) -> ColumnElement[bool]:
    """The caller's area, narrowed to the asked province and clubs, on a table with places."""
    condition = area_filter(principal, club_id, province, commune)
    if query.province is not None:
        condition = and_(condition, province == query.province)
    if query.commune is not None:
        condition = and_(condition, commune == query.commune)
    if query.club_ids is not None:
        condition = and_(condition, _ids_in(club_id, query.club_ids))
    return condition


def _funds(session: Session, funds: ColumnElement[bool], on: date) -> tuple[int, int, int]:
    """(active clubs with a fund, with both kinds; capital) of the funds held on `on`.

    A fund is held from the Vietnamese day it was opened in the platform or from its earliest
    entry, whichever comes first: a club's account book typed in years later still counts for
    the years it records. The clubs counted are those of the report's denominator, the active
    ones: a club the clubs service's events said is dissolved or suspended keeps its funds but
    is left out.
    """
    recorded_by = exists().where(
        col(LedgerEntry.fund_id) == col(Fund.id), col(LedgerEntry.occurred_on) <= on
    )
    opened = or_(col(Fund.created_at) < clock.start_of(on + timedelta(days=1)), recorded_by)
    inactive = exists().where(
        col(KnownClub.club_id) == col(Fund.club_id), col(KnownClub.status) != ACTIVE_CLUB
    )
    kinds = (
        select(Fund.club_id, func.count(func.distinct(Fund.kind)).label("kinds"))
        .where(funds, opened, ~inactive)
        .group_by(col(Fund.club_id))
        .subquery()
    )
    clubs, both = session.execute(
        select(func.count(), func.count().filter(kinds.c.kinds == len(FundKind))).select_from(kinds)
    ).one()
    # Capital is credited (negative) on the capital account; a reversal debits it back.
    capital = session.execute(
        select(func.coalesce(-func.sum(Posting.amount), 0))
        .join(LedgerEntry, col(LedgerEntry.id) == col(Posting.entry_id))
        .join(Fund, col(Fund.id) == col(Posting.fund_id))
        .where(funds, Posting.account == Account.CAPITAL.value, LedgerEntry.occurred_on <= on)
    ).scalar_one()
    return int(clubs), int(both), int(capital)


def _income_funds(
    session: Session, funds: ColumnElement[bool], on: date, at_least: int | None
) -> tuple[int, int | None]:
    """What the active clubs' income-generation funds hold on `on` (cash and loans
    outstanding: the fund's money, wherever it is), and how many hold at least `at_least`."""
    inactive = exists().where(
        col(KnownClub.club_id) == col(Fund.club_id), col(KnownClub.status) != ACTIVE_CLUB
    )
    held = (
        select(Fund.club_id, func.sum(Posting.amount).label("held"))
        .join(Posting, col(Posting.fund_id) == col(Fund.id))
        .join(LedgerEntry, col(LedgerEntry.id) == col(Posting.entry_id))
        .where(
            funds,
            ~inactive,
            col(Fund.kind) == FundKind.INCOME_GENERATION.value,
            col(Posting.account).in_([Account.CASH.value, Account.LOANS_RECEIVABLE.value]),
            col(LedgerEntry.occurred_on) <= on,
        )
        .group_by(col(Fund.club_id))
        .subquery()
    )
    total, counted = session.execute(
        select(
            func.coalesce(func.sum(held.c.held), 0),
            func.count().filter(held.c.held >= (at_least or 0)),
        ).select_from(held)
    ).one()
    return int(total), None if at_least is None else int(counted)


def _borrowed(session: Session, area: Area, start: date, end: date) -> int:
    """Members who held a loan at some time from `start` to `end`: a club loan disbursed by
    the end and not repaid in full or written off before the start, or a matched bank loan
    disbursed by the end and not due before the start."""
    ended = case(
        (col(Loan.status) == LoanStatus.WRITTEN_OFF.value, col(Loan.written_off_on)),
        (col(Loan.status) == LoanStatus.CLOSED.value, col(Loan.last_paid_on)),
        else_=None,
    )
    club: Any = select(col(Loan.member_id).label("member_id")).where(
        area.club_loans,
        col(Loan.disbursed_on) <= end,
        or_(ended.is_(None), ended >= start),
    )
    bank: Any = select(col(BankLoan.member_id).label("member_id")).where(
        area.bank_loans,
        col(BankLoan.member_id).is_not(None),
        col(BankLoan.retracted_at).is_(None),
        col(BankLoan.disbursed_on) <= end,
        col(BankLoan.maturity_on) >= start,
    )
    members = union(club, bank).subquery()
    return int(session.execute(select(func.count()).select_from(members)).scalar_one())


def indicators(
    session: Session, principal: Principal, query: MoneyIndicatorsQuery
) -> MoneyIndicators:
    if (
        query.province
        and principal.role is Role.OFFICER
        and query.province not in principal.provinces
    ):
        raise NotFound(f"No province {query.province} in your area.")
    funds = _place(
        principal, query, col(Fund.club_id), col(Fund.province_code), col(Fund.commune_code)
    )
    area = Area(
        club_loans=_place(
            principal, query, col(Loan.club_id), col(Loan.province_code), col(Loan.commune_code)
        ),
        bank_loans=_place(
            principal,
            query,
            col(BankLoan.club_id),
            col(BankLoan.province_code),
            col(BankLoan.commune_code),
        ),
    )
    clubs, both, capital = _funds(session, funds, query.on)
    income_funds, at_least = _income_funds(session, funds, query.on, query.fund_at_least)
    whole = query.commune is None and query.club_ids is None
    kept = kept_area(principal, query.province) if whole else None
    sums = portfolio_money(session, area, kept, query.on)
    return MoneyIndicators(
        on=query.on,
        clubs_with_funds=clubs,
        clubs_with_both_funds=both,
        fund_capital=capital,
        loans_outstanding=sums.loans_outstanding,
        outstanding_principal=sums.outstanding_principal,
        par30_principal=sums.par30_principal,
        members_with_club_loan=sums.club_borrowers,
        members_with_bank_loan=sums.bank_borrowers,
        members_with_loan=sums.members_with_loan,
        income_funds_held=income_funds,
        clubs_with_income_fund_at_least=at_least,
        members_borrowed_in_period=None
        if query.period_from is None
        else _borrowed(session, area, query.period_from, query.on),
    )


@router.post(
    "/indicators",
    response_model=MoneyIndicators,
    summary="Funds, capital, outstanding, PAR30 and borrowing members of an area or clubs",
)
def read_indicators(
    query: MoneyIndicatorsQuery,
    session: ReportSessionDep,
    principal: CurrentPrincipal,
    request: Request,
) -> MoneyIndicators:
    tune_for_report(session, report_timeout(request))
    return indicators(session, principal, query)
