"""`/api/v1/loans/portfolio`: outstanding, PAR30, repayment rate and borrowers for any date."""

from dataclasses import dataclass
from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from sqlalchemy import and_
from sqlmodel import Session, col

from common import clock
from common.auth import CurrentPrincipal, Principal, Role, bearer_token, require_roles
from common.club_directory import ClubDirectoryDep
from common.db import ReportSessionDep, report_timeout, tune_for_report
from common.problem_codes import Code
from common.problems import NotFound, invalid
from common.schemas import Id, WrittenDay
from services.loans.bank.models import BankLoan
from services.loans.lending.models import Loan
from services.loans.portfolio.balances import kept_area, portfolio_figures
from services.loans.portfolio.members import MemberCounts, member_counts
from services.loans.portfolio.queries import Area, Figures
from services.loans.portfolio.schemas import (
    BORROWING_TARGET_PCT,
    BankLoanFigures,
    BorrowingFigures,
    ClubLoanFigures,
    Portfolio,
    ProvinceCode,
)
from services.loans.scope import area_filter, covers

READERS = (Role.ADMIN, Role.OFFICER, Role.CLUB_MANAGER, Role.SERVICE)
MEMBERS_MISSING = "borrowing.active_members"

router = APIRouter(
    prefix="/api/v1/loans/portfolio",
    tags=["loans"],
    dependencies=[Depends(require_roles(*READERS))],
)


@dataclass(frozen=True)
class Scope:
    """What one portfolio request covers, resolved and checked against the caller's scope."""

    on: date
    area: Area
    club_id: int | None
    province_code: str | None
    members: MemberCounts
    kept: str | None
    """The balances' area when they hold exactly what is asked (`balances.kept_area`)."""

    @property
    def by_province(self) -> bool:
        return self.club_id is None and self.province_code is None


def _area(principal: Principal, club_id: int | None, province: str | None) -> Area:
    club_loans = area_filter(
        principal, col(Loan.club_id), col(Loan.province_code), col(Loan.commune_code)
    )
    bank_loans = area_filter(
        principal, col(BankLoan.club_id), col(BankLoan.province_code), col(BankLoan.commune_code)
    )
    if club_id is not None:
        club_loans = and_(club_loans, col(Loan.club_id) == club_id)
        bank_loans = and_(bank_loans, col(BankLoan.club_id) == club_id)
    if province is not None:
        club_loans = and_(club_loans, col(Loan.province_code) == province)
        bank_loans = and_(bank_loans, col(BankLoan.province_code) == province)
    return Area(club_loans, bank_loans)


async def portfolio_scope(
    request: Request,
    principal: CurrentPrincipal,
    clubs: ClubDirectoryDep,
    on: Annotated[
        WrittenDay | None,
        Query(description="The date of the figures; today in Vietnam by default."),
    ] = None,
    province: Annotated[ProvinceCode | None, Query(description="One province's figures.")] = None,
    club_id: Annotated[Id | None, Query(description="One club's figures.")] = None,
) -> Scope:
    if province is not None and club_id is not None:
        reason = "give a club or a province, not both"
        raise invalid("club_id", reason, "query", code=Code.MUTUALLY_EXCLUSIVE)
    if province is not None and principal.role is Role.CLUB_MANAGER:
        reason = "club boards ask for their club (club_id)"
        raise invalid("province", reason, "query", code=Code.OUTSIDE_SCOPE)
    if (
        province is not None
        and principal.role is Role.OFFICER
        and (province not in principal.provinces)
    ):
        raise NotFound(f"No province {province} in your area.")
    if club_id is not None:
        club = (await clubs.facts({club_id})).get(club_id)
        if club is None or not covers(principal, club.id, club.province_code, club.commune_code):
            raise NotFound(f"No club {club_id}.")
    on = on or clock.today()
    token = bearer_token(request.headers.get("authorization"))
    if club_id is not None:
        counted_clubs: list[int] | None = [club_id]
    elif principal.role is Role.CLUB_MANAGER:
        counted_clubs = sorted(principal.clubs)
    else:
        counted_clubs = None
    members = await member_counts(clubs.client, token, on, counted_clubs, province)
    kept = kept_area(principal, province) if club_id is None else None
    return Scope(on, _area(principal, club_id, province), club_id, province, members, kept)


def _portfolio(
    scope: Scope, sums: Figures, active_members: int | None, province: str | None
) -> Portfolio:
    share = _pct(sums.members_with_loan, active_members) if active_members else None
    return Portfolio(
        on=scope.on,
        club_id=scope.club_id,
        province_code=province,
        club_loans=ClubLoanFigures(
            loans_outstanding=sums.loans_outstanding,
            outstanding_principal=sums.outstanding_principal,
            par30_principal=sums.par30_principal,
            par30_pct=_pct(sums.par30_principal, sums.outstanding_principal),
            due_to_date=sums.due_to_date,
            repaid_to_date=sums.repaid_to_date,
            repayment_rate_pct=_pct(sums.repaid_to_date, sums.due_to_date),
            written_off_principal=sums.written_off_principal,
            borrowers=sums.borrowers,
        ),
        bank_loans=BankLoanFigures(
            loans_outstanding=sums.bank_loans_outstanding,
            outstanding_principal=sums.bank_outstanding_principal,
            overdue_amount=sums.bank_overdue_amount,
            borrowers=sums.bank_borrowers,
        ),
        borrowing=BorrowingFigures(
            active_members=active_members,
            members_with_loan=sums.members_with_loan,
            share_pct=share,
            met=None if share is None else share >= BORROWING_TARGET_PCT,
        ),
        missing=[] if active_members is not None else [MEMBERS_MISSING],
    )


def _pct(part: int, whole: int) -> float | None:
    return round(part * 100 / whole, 1) if whole else None


def build(session: Session, scope: Scope) -> Portfolio:
    total, per_province = portfolio_figures(
        session, scope.area, scope.kept, scope.on, scope.by_province
    )
    result = _portfolio(scope, total, scope.members.total, scope.province_code)
    if scope.by_province:
        counted = scope.members.total is not None
        result.by_province = [
            _portfolio(
                scope,
                per_province.get(code, Figures()),
                scope.members.by_province.get(code, 0) if counted else None,
                code,
            )
            for code in sorted(set(per_province) | set(scope.members.by_province))
        ]
    return result


@router.get("", response_model=Portfolio, summary="Loan portfolio of a club, a province or all")
def read_portfolio(
    scope: Annotated[Scope, Depends(portfolio_scope)], session: ReportSessionDep, request: Request
) -> Portfolio:
    tune_for_report(session, report_timeout(request))
    return build(session, scope)
