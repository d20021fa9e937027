"""Member loans against the database. Nothing here commits: the request does.

Every change to a loan starts by locking its row (`lock_loan`), so transitions and repayments
of one loan are serialised; a disbursement then locks the fund through the ledger, always in
that order (loan, then fund), so two writers never wait on each other in a cycle.
"""

from datetime import date
from typing import Any

from sqlalchemy import update
from sqlmodel import Session, col, select

from common.auth import Principal
from common.clock import utcnow
from common.paging import Synced, page_of
from common.problem_codes import Code
from common.problems import Conflict, ValidationFailed, field_error, invalid
from common.schemas import Page, PageParams
from common.sync import Token
from services.loans import events
from services.loans.clubs import MemberFacts
from services.loans.ledger import service as ledger
from services.loans.ledger.models import Fund
from services.loans.ledger.rules import EntryType, FundKind
from services.loans.lending import rules
from services.loans.lending.models import Loan, LoanInstalment, LoanRepayment, LoanRules
from services.loans.lending.rules import (
    Instalment,
    InterestMethod,
    LoanStatus,
    Payment,
    RepaymentFrequency,
    Terms,
)
from services.loans.lending.schemas import (
    InstalmentPublic,
    LoanApplication,
    LoanDetail,
    LoanPublic,
    LoanRulesPublic,
    LoanRulesUpdate,
    RepaymentPublic,
    SchedulePublic,
)
from services.loans.models import outbox
from services.loans.portfolio import standing
from services.loans.portfolio.stale import mark_stale

# Loan rules


def rules_of(session: Session, fund_id: int) -> LoanRules | None:
    return session.exec(select(LoanRules).where(LoanRules.fund_id == fund_id)).first()


def require_income_generation(fund: Fund) -> None:
    if fund.kind != FundKind.INCOME_GENERATION.value:
        raise Conflict(
            f"The fund {fund.id} is an {fund.kind} fund; loans come from the "
            "income_generation fund only.",
            code=Code.WRONG_FUND_KIND,
        )


def set_rules(
    session: Session, fund: Fund, principal: Principal, payload: LoanRulesUpdate
) -> tuple[LoanRules, bool]:
    """Sets the fund's loan rules; returns them and whether they are new. Loans already applied
    for keep the terms they copied."""
    require_income_generation(fund)
    # Serialises two boards setting the first rules at once (one row per fund).
    ledger.lock_fund(session, fund)
    assert fund.id is not None  # a stored fund
    found = rules_of(session, fund.id)
    monthly_rate_ppm = rules.rate_to_ppm(payload.monthly_interest_rate)
    if found is None:
        current = LoanRules(
            fund_id=fund.id,
            monthly_rate_ppm=monthly_rate_ppm,
            interest_method=payload.interest_method.value,
            repayment_frequency=payload.repayment_frequency.value,
            max_term_months=payload.max_term_months,
            max_amount=payload.max_amount,
            set_by=principal.subject,
            set_at=utcnow(),
        )
    else:
        current = found
        current.monthly_rate_ppm = monthly_rate_ppm
        current.interest_method = payload.interest_method.value
        current.repayment_frequency = payload.repayment_frequency.value
        current.max_term_months = payload.max_term_months
        current.max_amount = payload.max_amount
        current.set_by = principal.subject
        current.set_at = utcnow()
    session.add(current)
    session.flush()
    return current, found is None


def public_rules(fund: Fund, found: LoanRules) -> LoanRulesPublic:
    return LoanRulesPublic(
        fund_id=fund.id,
        club_id=fund.club_id,
        monthly_interest_rate=rules.ppm_to_rate(found.monthly_rate_ppm),
        interest_method=InterestMethod(found.interest_method),
        repayment_frequency=RepaymentFrequency(found.repayment_frequency),
        max_term_months=found.max_term_months,
        max_amount=found.max_amount,
        set_by=found.set_by,
        set_at=found.set_at,
    )


# Applying


def income_fund(session: Session, club_id: int) -> Fund | None:
    return session.exec(
        select(Fund).where(Fund.club_id == club_id, Fund.kind == FundKind.INCOME_GENERATION.value)
    ).first()


def terms_within(found: LoanRules, payload: LoanApplication) -> Terms:
    """The loan's terms: the rules' unless the application asks for less (422 if for more)."""
    frequency = RepaymentFrequency(found.repayment_frequency)
    if payload.amount > found.max_amount:
        reason = f"above the club's maximum of {found.max_amount} đồng"
        raise invalid("amount", reason, code=Code.ABOVE_LOAN_RULES)
    term = found.max_term_months if payload.term_months is None else payload.term_months
    if term > found.max_term_months:
        reason = f"above the club's maximum of {found.max_term_months}"
        raise invalid("term_months", reason, code=Code.ABOVE_LOAN_RULES)
    if not rules.term_fits_frequency(frequency, term):
        reason = "must be a multiple of 3 for quarterly repayment"
        raise invalid("term_months", reason, code=Code.TERM_NOT_WHOLE_QUARTERS)
    rate = found.monthly_rate_ppm
    if payload.monthly_interest_rate is not None:
        rate = rules.rate_to_ppm(payload.monthly_interest_rate)
        if rate > found.monthly_rate_ppm:
            limit = rules.ppm_to_rate(found.monthly_rate_ppm)
            reason = f"above the club's rate of {limit} %"
            raise invalid("monthly_interest_rate", reason, code=Code.ABOVE_LOAN_RULES)
    return Terms(
        principal=payload.amount,
        monthly_rate_ppm=rate,
        term_months=term,
        method=InterestMethod(found.interest_method),
        frequency=frequency,
    )


def check_borrower(member: MemberFacts | None, club_id: int, applied_on: date) -> None:
    """The borrower is a current member of the lending club who had joined by `applied_on`."""
    if member is None:
        raise invalid("member_id", "no such member", code=Code.UNKNOWN_REFERENCE)
    if member.club_id != club_id:
        raise invalid("member_id", f"not a member of club {club_id}", code=Code.NOT_ACTIVE_MEMBER)
    if not member.active:
        reason = f"left the club on {member.left_on}"
        raise invalid("member_id", reason, code=Code.NOT_ACTIVE_MEMBER)
    if member.joined_on > applied_on:
        reason = f"joined the club on {member.joined_on}, after applied_on"
        raise invalid("member_id", reason, code=Code.DATE_OUT_OF_ORDER)


def apply(
    session: Session,
    principal: Principal,
    fund: Fund,
    terms: Terms,
    payload: LoanApplication,
) -> Loan:
    assert fund.id is not None  # a stored fund
    loan = Loan(
        fund_id=fund.id,
        club_id=fund.club_id,
        member_id=payload.member_id,
        province_code=fund.province_code,
        commune_code=fund.commune_code,
        status=LoanStatus.APPLIED.value,
        form=payload.form.value,
        in_kind_description=payload.in_kind_description,
        purpose=payload.purpose,
        principal=terms.principal,
        term_months=terms.term_months,
        monthly_rate_ppm=terms.monthly_rate_ppm,
        interest_method=terms.method.value,
        repayment_frequency=terms.frequency.value,
        applied_on=payload.applied_on,
        applied_by=principal.subject,
    )
    session.add(loan)
    session.flush()
    return loan


# Transitions


def lock_loan(session: Session, loan: Loan) -> None:
    """Serialise writers of this loan until the transaction ends, then read it afresh.

    Must be the transaction's first write (see `ledger.service.lock_fund`): the status checked
    after it is the one every earlier writer committed.
    """
    session.execute(
        update(Loan)
        .where(col(Loan.id) == loan.id)
        .values(version=Loan.version + 1)
        .execution_options(synchronize_session=False)
    )
    session.refresh(loan)


def _require_status(loan: Loan, wanted: LoanStatus, action: str) -> None:
    if loan.status != wanted.value:
        raise Conflict(
            f"The loan {loan.id} is {loan.status}; it can be {action} only when {wanted.value}.",
            code=Code.LOAN_STATUS_FORBIDS,
            loan_status=loan.status,
        )


def approve(session: Session, loan: Loan, principal: Principal) -> None:
    lock_loan(session, loan)
    _require_status(loan, LoanStatus.APPLIED, "approved")
    loan.status = LoanStatus.APPROVED.value
    loan.decided_by, loan.decided_at = principal.subject, utcnow()
    session.add(loan)


def reject(session: Session, loan: Loan, principal: Principal, reason: str) -> None:
    lock_loan(session, loan)
    _require_status(loan, LoanStatus.APPLIED, "rejected")
    loan.status = LoanStatus.REJECTED.value
    loan.decided_by, loan.decided_at = principal.subject, utcnow()
    loan.rejection_reason = reason
    session.add(loan)


def terms_of(loan: Loan) -> Terms:
    return Terms(
        principal=loan.principal,
        monthly_rate_ppm=loan.monthly_rate_ppm,
        term_months=loan.term_months,
        method=InterestMethod(loan.interest_method),
        frequency=RepaymentFrequency(loan.repayment_frequency),
    )


def _fund_of(session: Session, loan: Loan) -> Fund:
    fund = session.get(Fund, loan.fund_id)
    assert fund is not None  # the foreign key holds it
    return fund


def disburse(session: Session, loan: Loan, principal: Principal, disbursed_on: date) -> None:
    """Pays the principal out of the club's fund (409 if it cannot cover it) and fixes the
    repayment schedule."""
    lock_loan(session, loan)
    assert loan.id is not None  # a stored loan
    _require_status(loan, LoanStatus.APPROVED, "disbursed")
    if disbursed_on < loan.applied_on:
        reason = f"before the application on {loan.applied_on}"
        raise invalid("disbursed_on", reason, code=Code.DATE_OUT_OF_ORDER)
    ledger.spend(
        session,
        _fund_of(session, loan),
        principal,
        EntryType.LOAN_DISBURSED,
        loan.principal,
        disbursed_on,
        f"loan {loan.id}",
        loan_id=loan.id,
    )
    instalments = rules.schedule(terms_of(loan), disbursed_on)
    session.add_all(LoanInstalment(loan_id=loan.id, **vars(i)) for i in instalments)
    loan.status = LoanStatus.DISBURSED.value
    loan.disbursed_on, loan.matures_on = disbursed_on, instalments[-1].due_on
    standing.keep(loan, instalments)
    loan.disbursed_by, loan.disbursed_at = principal.subject, utcnow()
    session.add(loan)
    mark_stale(session, [(loan.member_id, disbursed_on)])
    outbox.emit(session, events.loan_disbursed(loan))


def _last_repayment(session: Session, loan_id: int) -> LoanRepayment | None:
    return session.exec(
        select(LoanRepayment)
        .where(LoanRepayment.loan_id == loan_id)
        .order_by(col(LoanRepayment.paid_on).desc(), col(LoanRepayment.id).desc())
    ).first()


def _not_before_last_repayment(session: Session, loan: Loan, on: date, what: str) -> None:
    assert loan.id is not None  # a stored loan
    last = _last_repayment(session, loan.id)
    if last is not None and on < last.paid_on:
        raise Conflict(
            f"The loan {loan.id} has a repayment on {last.paid_on}; {what} cannot be earlier.",
            code=Code.BEFORE_LAST_REPAYMENT,
            last_paid_on=last.paid_on.isoformat(),
        )


def instalments_of(session: Session, loan_id: int) -> list[Instalment]:
    rows = session.exec(
        select(LoanInstalment)
        .where(LoanInstalment.loan_id == loan_id)
        .order_by(col(LoanInstalment.number))
    )
    return [
        Instalment(
            number=row.number,
            due_on=row.due_on,
            principal=row.principal,
            interest=row.interest,
            cumulative_principal=row.cumulative_principal,
            cumulative_interest=row.cumulative_interest,
        )
        for row in rows
    ]


def repay(
    session: Session,
    loan: Loan,
    principal: Principal,
    amount: int,
    paid_on: date,
    reference: str,
) -> LoanRepayment:
    """Records a repayment: interest first (overdue, then current), then principal, each part
    as a ledger entry of the club's fund; the loan closes when its principal is repaid."""
    lock_loan(session, loan)
    _require_status(loan, LoanStatus.DISBURSED, "repaid")
    assert loan.id is not None  # a stored loan
    assert loan.disbursed_on is not None
    if paid_on < loan.disbursed_on:
        reason = f"before the disbursement on {loan.disbursed_on}"
        raise invalid("paid_on", reason, code=Code.DATE_OUT_OF_ORDER)
    _not_before_last_repayment(session, loan, paid_on, "a new one")
    schedule = instalments_of(session, loan.id)
    owed = rules.owed_on(schedule, paid_on, loan.principal_repaid, loan.interest_paid)
    if amount > owed.total:
        reason = f"above the {owed.total} đồng owed on {paid_on}"
        raise ValidationFailed(
            f"amount: {reason}",
            errors=[field_error("amount", reason, code=Code.ABOVE_AMOUNT_OWED)],
            owed=owed.total,
            owed_interest=owed.interest,
            owed_principal=owed.principal,
        )
    parts = rules.allocate(amount, owed)
    fund = _fund_of(session, loan)
    entry_ids: dict[EntryType, int | None] = {}
    for entry_type, part in (
        (EntryType.INTEREST_RECEIVED, parts.interest),
        (EntryType.PRINCIPAL_REPAID, parts.principal),
    ):
        if part:
            entry = ledger.record_for_loan(
                session, fund, principal, entry_type, part, paid_on, reference, loan.id
            )
            entry_ids[entry_type] = entry.id
    loan.principal_repaid += parts.principal
    loan.interest_paid += parts.interest
    if loan.principal_repaid == loan.principal:
        loan.status, loan.closed_on = LoanStatus.CLOSED.value, paid_on
    standing.keep(loan, schedule, paid_on)
    session.add(loan)
    mark_stale(session, [(loan.member_id, paid_on)])
    repayment = LoanRepayment(
        loan_id=loan.id,
        paid_on=paid_on,
        amount=amount,
        principal=parts.principal,
        interest=parts.interest,
        cumulative_principal=loan.principal_repaid,
        cumulative_interest=loan.interest_paid,
        reference=reference,
        principal_entry_id=entry_ids.get(EntryType.PRINCIPAL_REPAID),
        interest_entry_id=entry_ids.get(EntryType.INTEREST_RECEIVED),
        recorded_by=principal.subject,
    )
    session.add(repayment)
    outbox.emit(session, events.loan_repaid(loan, repayment))
    return repayment


def write_off(
    session: Session, loan: Loan, principal: Principal, written_off_on: date, reason: str
) -> None:
    """Writes off the outstanding principal: a WRITE_OFF entry in the fund, status written_off."""
    lock_loan(session, loan)
    _require_status(loan, LoanStatus.DISBURSED, "written off")
    assert loan.id is not None  # a stored loan
    assert loan.disbursed_on is not None
    if written_off_on < loan.disbursed_on:
        reason = f"before the disbursement on {loan.disbursed_on}"
        raise invalid("written_off_on", reason, code=Code.DATE_OUT_OF_ORDER)
    _not_before_last_repayment(session, loan, written_off_on, "the write-off")
    outstanding = loan.principal - loan.principal_repaid
    ledger.record_for_loan(
        session,
        _fund_of(session, loan),
        principal,
        EntryType.WRITE_OFF,
        outstanding,
        written_off_on,
        f"loan {loan.id} written off",
        loan.id,
    )
    loan.status = LoanStatus.WRITTEN_OFF.value
    loan.written_off_on, loan.written_off_principal = written_off_on, outstanding
    loan.write_off_reason = reason
    loan.written_off_by, loan.written_off_at = principal.subject, utcnow()
    session.add(loan)
    mark_stale(session, [(loan.member_id, written_off_on)])


# Reading


def outstanding_now(loan: Loan) -> int:
    if loan.status != LoanStatus.DISBURSED.value:
        return 0
    return loan.principal - loan.principal_repaid


def _loan_fields(loan: Loan) -> dict[str, Any]:
    fields = loan.model_dump(exclude={"principal", "monthly_rate_ppm", "version"})
    return {
        **fields,
        "amount": loan.principal,
        "monthly_interest_rate": rules.ppm_to_rate(loan.monthly_rate_ppm),
    }


def public(loan: Loan) -> LoanPublic:
    return LoanPublic(**_loan_fields(loan), outstanding_principal=outstanding_now(loan))


def payments_of(session: Session, loan_id: int) -> list[Payment]:
    rows = session.exec(
        select(
            col(LoanRepayment.paid_on), col(LoanRepayment.principal), col(LoanRepayment.interest)
        ).where(LoanRepayment.loan_id == loan_id)
    )
    return [Payment(paid_on=d, principal=p, interest=i) for d, p, i in rows]


def detail(session: Session, loan: Loan, on: date) -> LoanDetail:
    """The loan with its figures at the end of `on`."""
    assert loan.id is not None  # a stored loan
    ended_on = loan.closed_on or loan.written_off_on
    figures = rules.figures_on(
        on,
        loan.principal,
        loan.disbursed_on,
        ended_on,
        instalments_of(session, loan.id),
        payments_of(session, loan.id),
    )
    return LoanDetail(
        **{**_loan_fields(loan), **vars(figures)},
        on=on,
    )


def schedule_public(session: Session, loan: Loan) -> SchedulePublic:
    if loan.disbursed_on is None:
        raise Conflict(
            f"The loan {loan.id} is {loan.status}; its schedule is fixed when it is disbursed.",
            code=Code.LOAN_STATUS_FORBIDS,
            loan_status=loan.status,
        )
    assert loan.id is not None  # a stored loan
    instalments = instalments_of(session, loan.id)
    return SchedulePublic(
        loan_id=loan.id,
        disbursed_on=loan.disbursed_on,
        total_principal=instalments[-1].cumulative_principal,
        total_interest=instalments[-1].cumulative_interest,
        instalments=[InstalmentPublic.model_validate(i) for i in instalments],
    )


def public_repayment(repayment: LoanRepayment, loan: Loan) -> RepaymentPublic:
    return RepaymentPublic(
        **repayment.model_dump(),
        outstanding_principal=loan.principal - repayment.cumulative_principal,
    )


def repayments_page(
    session: Session, loan: Loan, page: PageParams, since: Token | None = None
) -> Page[RepaymentPublic]:
    filters = [LoanRepayment.loan_id == loan.id]
    paged = page_of(
        session,
        select(LoanRepayment).where(*filters),
        page,
        col(LoanRepayment.paid_on),
        col(LoanRepayment.id),
        synced=Synced(col(LoanRepayment.sync_stamp), since),
    )
    return paged.page([public_repayment(row, loan) for row in paged.rows])
