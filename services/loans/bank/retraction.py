"""Taking back a record the bank posted by mistake, and reinstating one taken back by mistake.

A retracted record is kept (with its history) but counts nowhere: it is unmatched, so no area,
club or member figure holds it, and the matching runs pass it by; its loan number takes no
posting until it is reinstated. Each retraction is audited in `bank_loan_retractions`.
Only the bank that posted the record, or an admin, may do either.
"""

from sqlmodel import Session, col, select

from common.auth import Principal, Role
from common.clock import utcnow
from common.problem_codes import Code
from common.problems import Conflict, Forbidden
from services.loans.bank import events, service, store
from services.loans.bank.models import BankLoan, BankLoanRetraction
from services.loans.bank.service import Memberships
from services.loans.models import outbox
from services.loans.portfolio.stale import EVERY_DAY, mark_stale


def _owned_loan(session: Session, principal: Principal, loan_id: int) -> BankLoan:
    """The loan, locked, under its bank's posting lock; 404 out of scope, 403 for a reader who
    may see it but did not post it."""
    loan = service.visible_loan(session, principal, loan_id)
    if principal.role is not Role.ADMIN and principal.bank_code != loan.bank_code:
        raise Forbidden(
            "Only the bank that posted a record, or an admin, may retract or reinstate it.",
            code=Code.ROLE_FORBIDDEN,
        )
    # The bank's lock first, as a posting takes it: a retraction and a posting of the same
    # loan number never cross.
    store.lock_bank(session, loan.bank_code, utcnow())
    session.refresh(loan, with_for_update=True)
    return loan


def retract(session: Session, principal: Principal, loan_id: int, reason: str) -> BankLoan:
    loan = _owned_loan(session, principal, loan_id)
    if loan.retracted_at is not None:
        raise Conflict(
            f"The bank loan {loan_id} was retracted on {loan.retracted_at.date()}.",
            code=Code.BANK_LOAN_RETRACTED,
        )
    now = utcnow()
    session.add(
        BankLoanRetraction(
            bank_loan_id=loan_id,
            reason=reason,
            member_id=loan.member_id,
            retracted_by=principal.subject,
            retracted_at=now,
        )
    )
    announced = events.retraction(loan, retracted=True)  # with the place it leaves
    mark_stale(session, [(loan.member_id, EVERY_DAY)])
    loan.retracted_at = loan.updated_at = now
    loan.member_id = loan.club_id = loan.matched_at = None
    loan.province_code = loan.commune_code = None
    session.add(loan)
    store.matching_done(session, [loan_id])
    outbox.emit(session, announced)
    session.flush()
    return loan


def reinstate(
    session: Session, principal: Principal, loan_id: int, memberships: Memberships
) -> BankLoan:
    """Restores the record and matches it again with `memberships` (the clubs service's answer
    about its borrower, asked before the locks; None if it could not answer: the retry worker
    asks again)."""
    loan = _owned_loan(session, principal, loan_id)
    if loan.retracted_at is None:
        raise Conflict(
            f"The bank loan {loan_id} is not retracted.", code=Code.BANK_LOAN_NOT_RETRACTED
        )
    now = utcnow()
    last = session.exec(
        select(BankLoanRetraction)
        .where(BankLoanRetraction.bank_loan_id == loan_id)
        .order_by(col(BankLoanRetraction.id).desc())
    ).first()
    if last is not None:
        last.reinstated_by, last.reinstated_at = principal.subject, now
        session.add(last)
    loan.retracted_at, loan.updated_at = None, now
    session.add(loan)
    outbox.emit(session, events.retraction(loan, retracted=False))
    session.flush()
    if memberships is None:
        store.mark_matching_due(session, [loan_id], now)
    elif (membership := memberships.get(loan.borrower_blind_index)) is not None:
        service.match_later(session, [(loan_id, membership)], now)
    session.refresh(loan)
    return loan


def retractions(session: Session, loan: BankLoan) -> list[BankLoanRetraction]:
    """The loan's retractions, the latest first."""
    query = (
        select(BankLoanRetraction)
        .where(BankLoanRetraction.bank_loan_id == loan.id)
        .order_by(col(BankLoanRetraction.id).desc())
    )
    return list(session.exec(query).all())
