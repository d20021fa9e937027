"""What the loans service holds about a person, and its part of their erasure.

- `GET /internal/personal-data?member_id=…`: the member loans of those memberships (with their
  schedules and repayments), the bank's records matched to them and, for admins and our
  services, the matches undone: the gateway's part of a person's right of access, and what the
  clubs service asks before an erasure (it refuses while a loan is not settled). Each caller
  sees what its scope reaches, as on the public routes.
- `member.erased` (from the clubs service): the bank's records are unlinked from the membership
  and the record that they once were linked goes, since that link is what would name the
  person again (the bank's record names its borrower); the free text of the member's loans,
  repayments and their ledger entries is cleared. Amounts, dates and statuses stay, so every
  fund stays balanced.
"""

from typing import Annotated

from fastapi import APIRouter, Depends, Query
from pydantic import Field
from sqlalchemy import delete, update
from sqlmodel import Session, col, select

from common import clock
from common.auth import CurrentPrincipal, Role, require_roles
from common.clock import utcnow
from common.db import SessionDep, id_of
from common.events.consumer import FeedEvent
from common.schemas import Id, OutputModel
from services.loans.bank import service as bank
from services.loans.bank.models import BankLoan, BankLoanUnmatch
from services.loans.bank.schemas import BankLoanPublic, BankLoanUnmatchPublic
from services.loans.ledger.models import LedgerEntry
from services.loans.lending import service as lending
from services.loans.lending.models import Loan, LoanRepayment
from services.loans.lending.routes import loan_filter
from services.loans.lending.schemas import InstalmentPublic, LoanDetail, RepaymentPublic
from services.loans.models import consumer_tables
from services.loans.portfolio.stale import EVERY_DAY, mark_stale

MAX_MEMBERSHIPS = 100


class LoanHeld(LoanDetail):
    instalments: list[InstalmentPublic]
    repayments: list[RepaymentPublic]


class LoansHoldings(OutputModel):
    loans: list[LoanHeld]
    bank_loans: list[BankLoanPublic]
    bank_loan_unmatches: list[BankLoanUnmatchPublic] = Field(
        description="Matches undone (admins and our services only)."
    )


def _loan(session: Session, loan: Loan) -> LoanHeld:
    loan_id = id_of(loan)
    repayments = session.exec(
        select(LoanRepayment)
        .where(LoanRepayment.loan_id == loan_id)
        .order_by(col(LoanRepayment.paid_on), col(LoanRepayment.id))
    ).all()
    instalments = lending.instalments_of(session, loan_id) if loan.disbursed_on else []
    return LoanHeld(
        **lending.detail(session, loan, clock.today()).model_dump(),
        instalments=[InstalmentPublic.model_validate(i) for i in instalments],
        repayments=[lending.public_repayment(r, loan) for r in repayments],
    )


router = APIRouter(
    prefix="/internal",
    tags=["personal data"],
    dependencies=[Depends(require_roles(Role.ADMIN, Role.OFFICER, Role.SERVICE))],
)


@router.get(
    "/personal-data",
    response_model=LoansHoldings,
    summary="What this service holds about these memberships (the gateway's and the clubs "
    "service's part)",
)
def personal_data(
    session: SessionDep,
    principal: CurrentPrincipal,
    member_id: Annotated[list[Id], Query(min_length=1, max_length=MAX_MEMBERSHIPS)],
) -> LoansHoldings:
    loans = session.exec(
        select(Loan)
        .where(col(Loan.member_id).in_(member_id), loan_filter(principal))
        .order_by(col(Loan.id))
    ).all()
    matched = session.exec(
        select(BankLoan)
        .where(col(BankLoan.member_id).in_(member_id), bank.loan_filter(principal))
        .order_by(col(BankLoan.id))
    ).all()
    unmatches: list[BankLoanUnmatch] = []
    if principal.role in (Role.ADMIN, Role.SERVICE):
        unmatches = list(
            session.exec(
                select(BankLoanUnmatch)
                .where(col(BankLoanUnmatch.member_id).in_(member_id))
                .order_by(col(BankLoanUnmatch.id))
            ).all()
        )
    return LoansHoldings(
        loans=[_loan(session, loan) for loan in loans],
        bank_loans=[bank.public(loan) for loan in matched],
        bank_loan_unmatches=[BankLoanUnmatchPublic.model_validate(u) for u in unmatches],
    )


def on_member_erased(session: Session, event: FeedEvent) -> None:
    member_id = event.data["member_id"]
    consumer_tables.forget_personal(session, event.subject)
    was: dict[int, str | None] = {
        loan_id: province
        for loan_id, province in session.exec(
            select(col(BankLoan.id), col(BankLoan.province_code)).where(
                col(BankLoan.member_id) == member_id
            )
        ).all()
        if loan_id is not None
    }
    session.execute(
        update(BankLoan)
        .where(col(BankLoan.member_id) == member_id)
        .values(
            member_id=None,
            club_id=None,
            province_code=None,
            commune_code=None,
            matched_at=None,
            updated_at=utcnow(),
        )
    )
    bank.announce_unmatched(session, was)
    mark_stale(session, [(member_id, EVERY_DAY)])
    session.execute(delete(BankLoanUnmatch).where(col(BankLoanUnmatch.member_id) == member_id))
    loan_ids = list(session.exec(select(Loan.id).where(Loan.member_id == member_id)).all())
    if not loan_ids:
        return
    session.execute(
        update(Loan)
        .where(col(Loan.id).in_(loan_ids))
        .values(
            purpose="",
            in_kind_description=None,
            rejection_reason=None,
            write_off_reason=None,
            version=col(Loan.version) + 1,
        )
    )
    session.execute(
        update(LoanRepayment).where(col(LoanRepayment.loan_id).in_(loan_ids)).values(reference="")
    )
    session.execute(
        update(LedgerEntry).where(col(LedgerEntry.loan_id).in_(loan_ids)).values(reference="")
    )
