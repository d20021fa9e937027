"""The ledger's own check, in set-based SQL over all funds (it needs no other service)."""

from typing import Any

from fastapi import APIRouter, Depends
from pydantic import Field
from sqlalchemy import ColumnElement, Integer, and_, case, cast, func, literal, or_, select
from sqlalchemy.orm import aliased
from sqlmodel import Session, col

from common import clock
from common.auth import Role, require_roles
from common.db import SessionDep
from common.schemas import OutputModel
from services.loans.ledger.models import Fund, LedgerEntry, Posting
from services.loans.ledger.rules import DOUBLE_ENTRY, Account, CapitalOrigin, EntryType
from services.loans.lending.models import Loan, LoanInstalment, LoanRepayment
from services.loans.portfolio import balances
from services.loans.portfolio.standing import PAR_DAYS

MAX_LISTED = 100
"""Breaks listed per kind; every one is counted."""

# A fund's accounts can only ever lean one way: these are debit balances (≥ 0) …
DEBIT_ACCOUNTS = (Account.CASH, Account.LOANS_RECEIVABLE, Account.EXPENSES, Account.WRITE_OFFS)
# … and these credit balances (≤ 0).
CREDIT_ACCOUNTS = (Account.CAPITAL, Account.INTEREST_INCOME)

router = APIRouter(tags=["reconciliation"], dependencies=[Depends(require_roles(Role.SERVICE))])


class LedgerBreak(OutputModel):
    kind: str
    objects: dict[str, int | str | None]
    reason: str


class LedgerCheck(OutputModel):
    examined: dict[str, int]
    breaks: list[LedgerBreak] = Field(description=f"At most {MAX_LISTED} of each kind.")
    breaks_total: int


class _Breaks:
    def __init__(self) -> None:
        self.listed: list[LedgerBreak] = []
        self.total = 0
        self._per_kind: dict[str, int] = {}

    def add(self, kind: str, reason: str, **objects: int | str | None) -> None:
        self.total += 1
        seen = self._per_kind.get(kind, 0)
        self._per_kind[kind] = seen + 1
        if seen < MAX_LISTED:
            self.listed.append(LedgerBreak(kind=kind, objects=objects, reason=reason))


def _count(session: Session, model: Any) -> int:
    return int(session.execute(select(func.count()).select_from(model)).scalar_one())


def _sum_if(condition: ColumnElement[bool], value: Any = 1) -> Any:
    return func.coalesce(func.sum(case((condition, value), else_=0)), 0)


def _entry_postings(session: Session, breaks: _Breaks) -> None:
    """Every entry has postings in its own fund that sum to zero; an entry of any type but a
    reversal posts exactly its amount as a debit and a credit on its type's two accounts."""
    debit_of = case(
        *((col(LedgerEntry.entry_type) == t.value, a.value) for t, (a, _) in DOUBLE_ENTRY.items()),
        else_=literal(None),
    )
    credit_of = case(
        *((col(LedgerEntry.entry_type) == t.value, a.value) for t, (_, a) in DOUBLE_ENTRY.items()),
        else_=literal(None),
    )
    amount = col(LedgerEntry.amount)
    is_reversal = col(LedgerEntry.entry_type) == EntryType.REVERSAL.value
    postings = func.count(col(Posting.id))
    total = func.coalesce(func.sum(col(Posting.amount)), 0)
    elsewhere = _sum_if(col(Posting.fund_id) != col(LedgerEntry.fund_id))
    debits = _sum_if(and_(col(Posting.account) == debit_of, col(Posting.amount) == amount))
    credits = _sum_if(and_(col(Posting.account) == credit_of, col(Posting.amount) == -amount))
    known_type = col(LedgerEntry.entry_type).in_([t.value for t in EntryType])
    rows = session.execute(
        select(
            col(LedgerEntry.id),
            col(LedgerEntry.fund_id),
            col(LedgerEntry.entry_type),
            col(LedgerEntry.amount),
            postings,
            total,
            elsewhere,
            debits,
            credits,
        )
        .outerjoin(Posting, col(Posting.entry_id) == col(LedgerEntry.id))
        .group_by(
            col(LedgerEntry.id),
            col(LedgerEntry.fund_id),
            col(LedgerEntry.entry_type),
            col(LedgerEntry.amount),
        )
        .having(
            or_(
                postings == 0,
                total != 0,
                elsewhere > 0,
                ~known_type,
                and_(~is_reversal, or_(postings != 2, debits != 1, credits != 1)),
            )
        )
        .order_by(col(LedgerEntry.id))
    ).all()
    for entry_id, fund_id, entry_type, value, count, net, foreign, debit, credit in rows:
        objects: dict[str, int | str | None] = {"entry_id": entry_id, "fund_id": fund_id}
        if count == 0:
            breaks.add("entry", f"entry {entry_id} has no postings", **objects)
        elif net != 0:
            breaks.add(
                "entry", f"entry {entry_id}'s postings sum to {net}, not 0 (unbalanced)", **objects
            )
        elif foreign:
            breaks.add(
                "entry", f"entry {entry_id} has {foreign} posting(s) in another fund", **objects
            )
        elif entry_type not in {t.value for t in EntryType}:
            breaks.add("entry", f"entry {entry_id} has an unknown type {entry_type!r}", **objects)
        else:
            debit_account, credit_account = DOUBLE_ENTRY[EntryType(entry_type)]
            breaks.add(
                "entry",
                f"entry {entry_id} ({entry_type} of {value}) should post exactly +{value} on "
                f"{debit_account.value} and -{value} on {credit_account.value}; it has {count} "
                f"posting(s) and {debit} debit / {credit} credit as its type says",
                **objects,
            )


def _reversals(session: Session, breaks: _Breaks) -> None:
    """A reversal cancels one entry of its own fund, of the same amount, account by account."""
    original = aliased(LedgerEntry)
    is_reversal = col(LedgerEntry.entry_type) == EntryType.REVERSAL.value
    for (
        entry_id,
        fund_id,
        value,
        reversed_id,
        reversed_fund,
        reversed_amount,
        reversed_type,
    ) in session.execute(
        select(
            col(LedgerEntry.id),
            col(LedgerEntry.fund_id),
            col(LedgerEntry.amount),
            col(LedgerEntry.reverses_entry_id),
            col(original.fund_id),
            col(original.amount),
            col(original.entry_type),
        )
        .outerjoin(original, col(original.id) == col(LedgerEntry.reverses_entry_id))
        .where(
            or_(
                and_(
                    is_reversal,
                    or_(
                        col(original.id).is_(None),
                        col(original.fund_id) != col(LedgerEntry.fund_id),
                        col(original.amount) != col(LedgerEntry.amount),
                        col(original.entry_type) == EntryType.REVERSAL.value,
                    ),
                ),
                and_(~is_reversal, col(LedgerEntry.reverses_entry_id).is_not(None)),
            )
        )
        .order_by(col(LedgerEntry.id))
    ).all():
        objects: dict[str, int | str | None] = {
            "entry_id": entry_id,
            "fund_id": fund_id,
            "reverses_entry_id": reversed_id,
        }
        if reversed_fund is None:
            reason = f"entry {entry_id} reverses no existing entry ({reversed_id})"
        elif reversed_fund != fund_id:
            reason = f"entry {entry_id} reverses entry {reversed_id} of another fund"
        elif reversed_type == EntryType.REVERSAL.value:
            reason = f"entry {entry_id} reverses a reversal ({reversed_id})"
        elif reversed_amount != value:
            reason = (
                f"entry {entry_id} reverses {value} of entry {reversed_id}, "
                f"which was of {reversed_amount}"
            )
        else:
            reason = f"entry {entry_id} is no reversal but names a reversed entry {reversed_id}"
        breaks.add("reversal", reason, **objects)
    # Account by account, a reversal and its entry sum to zero.
    both = or_(
        col(Posting.entry_id) == col(LedgerEntry.id),
        col(Posting.entry_id) == col(LedgerEntry.reverses_entry_id),
    )
    for entry_id, account, net in session.execute(
        select(col(LedgerEntry.id), col(Posting.account), func.sum(col(Posting.amount)))
        .join(Posting, both)
        .where(is_reversal)
        .group_by(col(LedgerEntry.id), col(Posting.account))
        .having(func.sum(col(Posting.amount)) != 0)
        .order_by(col(LedgerEntry.id))
    ).all():
        breaks.add(
            "reversal",
            f"entry {entry_id} does not cancel its entry on {account}: {net} is left",
            entry_id=entry_id,
        )


def _balances(session: Session, breaks: _Breaks) -> None:
    """No account of a fund leans the wrong way (cash, loans, expenses and write-offs never
    below zero; capital and interest income never above), and each fund's accounts sum to 0."""
    debit = [a.value for a in DEBIT_ACCOUNTS]
    credit = [a.value for a in CREDIT_ACCOUNTS]
    held = func.sum(col(Posting.amount))
    for fund_id, account, balance in session.execute(
        select(col(Posting.fund_id), col(Posting.account), held)
        .group_by(col(Posting.fund_id), col(Posting.account))
        .having(
            or_(
                and_(col(Posting.account).in_(debit), held < 0),
                and_(col(Posting.account).in_(credit), held > 0),
                col(Posting.account).not_in(debit + credit),
            )
        )
        .order_by(col(Posting.fund_id), col(Posting.account))
    ).all():
        if account == Account.CASH.value:
            reason = f"fund {fund_id}'s balance is {balance} đồng, below zero"
        elif account in debit or account in credit:
            reason = f"fund {fund_id}'s {account} account is {balance}, which it can never be"
        else:
            reason = f"fund {fund_id} has postings on an unknown account {account!r}"
        breaks.add("balance", reason, fund_id=fund_id, account=account)
    for fund_id, net in session.execute(
        select(col(Posting.fund_id), held)
        .group_by(col(Posting.fund_id))
        .having(held != 0)
        .order_by(col(Posting.fund_id))
    ).all():
        breaks.add("balance", f"fund {fund_id}'s accounts sum to {net}, not 0", fund_id=fund_id)


def _running_cash(session: Session, breaks: _Breaks) -> None:
    """The cash balance never went below zero in the order the entries were recorded: every
    write that takes cash out checks the balance under the fund's lock first."""
    cash = (
        select(
            col(Posting.fund_id).label("fund_id"),
            col(Posting.entry_id).label("entry_id"),
            func.sum(col(Posting.amount)).label("change"),
        )
        .where(col(Posting.account) == Account.CASH.value)
        .group_by(col(Posting.fund_id), col(Posting.entry_id))
        .subquery()
    )
    running = select(
        cash.c.fund_id,
        cash.c.entry_id,
        func.sum(cash.c.change)
        .over(partition_by=cash.c.fund_id, order_by=cash.c.entry_id)
        .label("balance"),
    ).subquery()
    first_below = (
        select(
            running.c.fund_id,
            func.min(running.c.entry_id),
            func.min(running.c.balance),
        )
        .where(running.c.balance < 0)
        .group_by(running.c.fund_id)
        .order_by(running.c.fund_id)
    )
    for fund_id, entry_id, lowest in session.execute(first_below).all():
        breaks.add(
            "balance",
            f"fund {fund_id}'s cash went below zero after entry {entry_id} "
            f"(lowest {lowest} đồng, in recording order)",
            fund_id=fund_id,
            entry_id=entry_id,
        )


def _allocation_origins(session: Session, breaks: _Breaks) -> None:
    """An allocation id sits only on capital of origin `allocation`, and such capital has one."""
    for entry_id, fund_id, entry_type, origin, allocation_id in session.execute(
        select(
            col(LedgerEntry.id),
            col(LedgerEntry.fund_id),
            col(LedgerEntry.entry_type),
            col(LedgerEntry.origin),
            col(LedgerEntry.allocation_id),
        )
        .where(
            or_(
                and_(
                    col(LedgerEntry.allocation_id).is_not(None),
                    or_(
                        col(LedgerEntry.entry_type) != EntryType.CAPITAL_IN.value,
                        func.coalesce(col(LedgerEntry.origin), "")
                        != CapitalOrigin.ALLOCATION.value,
                    ),
                ),
                and_(
                    col(LedgerEntry.allocation_id).is_(None),
                    col(LedgerEntry.origin) == CapitalOrigin.ALLOCATION.value,
                ),
            )
        )
        .order_by(col(LedgerEntry.id))
    ).all():
        reason = (
            f"entry {entry_id} is capital from an allocation without an allocation id"
            if allocation_id is None
            else f"entry {entry_id} ({entry_type}, origin {origin}) carries allocation "
            f"{allocation_id}: only allocation capital may"
        )
        breaks.add("entry", reason, entry_id=entry_id, fund_id=fund_id)


def _loan_totals(session: Session, breaks: _Breaks) -> None:
    """A loan's stored figures equal its ledger entries and repayments: the disbursement is
    its principal, repaid principal and paid interest its running totals, a write-off its
    written-off principal; and its entries are in its own fund."""
    kind = col(LedgerEntry.entry_type)
    entries = (
        select(
            col(LedgerEntry.loan_id).label("loan_id"),
            _sum_if(kind == EntryType.LOAN_DISBURSED.value, col(LedgerEntry.amount)).label(
                "disbursed"
            ),
            _sum_if(kind == EntryType.PRINCIPAL_REPAID.value, col(LedgerEntry.amount)).label(
                "principal"
            ),
            _sum_if(kind == EntryType.INTEREST_RECEIVED.value, col(LedgerEntry.amount)).label(
                "interest"
            ),
            _sum_if(kind == EntryType.WRITE_OFF.value, col(LedgerEntry.amount)).label("written"),
            func.min(col(LedgerEntry.fund_id)).label("low_fund"),
            func.max(col(LedgerEntry.fund_id)).label("high_fund"),
        )
        .where(col(LedgerEntry.loan_id).is_not(None))
        .group_by(col(LedgerEntry.loan_id))
        .subquery()
    )
    disbursed = func.coalesce(entries.c.disbursed, 0)
    principal = func.coalesce(entries.c.principal, 0)
    interest = func.coalesce(entries.c.interest, 0)
    written = func.coalesce(entries.c.written, 0)
    expected_disbursed = case((col(Loan.disbursed_on).is_(None), 0), else_=col(Loan.principal))
    expected_written = func.coalesce(col(Loan.written_off_principal), 0)
    in_other_fund = or_(
        entries.c.low_fund != col(Loan.fund_id), entries.c.high_fund != col(Loan.fund_id)
    )
    rows = session.execute(
        select(
            col(Loan.id),
            col(Loan.fund_id),
            expected_disbursed,
            disbursed,
            col(Loan.principal_repaid),
            principal,
            col(Loan.interest_paid),
            interest,
            expected_written,
            written,
            cast(in_other_fund, Integer),
        )
        .outerjoin(entries, entries.c.loan_id == col(Loan.id))
        .where(
            or_(
                disbursed != expected_disbursed,
                principal != col(Loan.principal_repaid),
                interest != col(Loan.interest_paid),
                written != expected_written,
                and_(entries.c.loan_id.is_not(None), in_other_fund),
            )
        )
        .order_by(col(Loan.id))
    ).all()
    for loan_id, fund_id, want_d, got_d, want_p, got_p, want_i, got_i, want_w, got_w, other in rows:
        reasons = [
            f"{label}: the loan says {want}, its ledger entries {got}"
            for label, want, got in (
                ("disbursed", want_d, got_d),
                ("principal repaid", want_p, got_p),
                ("interest paid", want_i, got_i),
                ("written off", want_w, got_w),
            )
            if want != got
        ]
        if other:
            reasons.append(f"entries in another fund than the loan's fund {fund_id}")
        breaks.add(
            "loan", f"loan {loan_id}: " + "; ".join(reasons), loan_id=loan_id, fund_id=fund_id
        )


def _days_after(session: Session, day: Any, days: int) -> Any:
    if session.get_bind().dialect.name == "sqlite":
        return func.date(day, f"+{days} day")
    return day + days


def _loan_standing(session: Session, breaks: _Breaks) -> None:
    """A disbursed loan's running totals are the sums of its repayments and the last
    repayment's cumulative totals, its last repayment day is the latest one's, and it is late
    from 31 days after the first instalment those totals do not cover (its kept standing)."""
    repaid = (
        select(
            col(LoanRepayment.loan_id).label("loan_id"),
            func.sum(col(LoanRepayment.principal)).label("principal"),
            func.sum(col(LoanRepayment.interest)).label("interest"),
            func.max(col(LoanRepayment.cumulative_principal)).label("cumulative_principal"),
            func.max(col(LoanRepayment.cumulative_interest)).label("cumulative_interest"),
            func.max(col(LoanRepayment.paid_on)).label("last_paid_on"),
        )
        .group_by(col(LoanRepayment.loan_id))
        .subquery()
    )
    uncovered = (
        select(
            col(LoanInstalment.loan_id).label("loan_id"),
            func.min(col(LoanInstalment.due_on)).label("first_due"),
        )
        .join(Loan, col(Loan.id) == col(LoanInstalment.loan_id))
        .where(
            or_(
                col(LoanInstalment.cumulative_principal) > col(Loan.principal_repaid),
                col(LoanInstalment.cumulative_interest) > col(Loan.interest_paid),
            )
        )
        .group_by(col(LoanInstalment.loan_id))
        .subquery()
    )
    late_from = _days_after(session, uncovered.c.first_due, PAR_DAYS + 1)
    figures = (
        ("principal repaid", col(Loan.principal_repaid), func.coalesce(repaid.c.principal, 0)),
        ("interest paid", col(Loan.interest_paid), func.coalesce(repaid.c.interest, 0)),
        (
            "principal repaid (last cumulative)",
            col(Loan.principal_repaid),
            func.coalesce(repaid.c.cumulative_principal, 0),
        ),
        (
            "interest paid (last cumulative)",
            col(Loan.interest_paid),
            func.coalesce(repaid.c.cumulative_interest, 0),
        ),
        ("last repayment", col(Loan.last_paid_on), repaid.c.last_paid_on),
        ("late from", col(Loan.late_from), late_from),
    )
    rows = session.execute(
        select(col(Loan.id), col(Loan.fund_id), *(pair for _, *both in figures for pair in both))
        .outerjoin(repaid, repaid.c.loan_id == col(Loan.id))
        .outerjoin(uncovered, uncovered.c.loan_id == col(Loan.id))
        .where(
            col(Loan.disbursed_on).is_not(None),
            or_(*(stored.is_distinct_from(derived) for _, stored, derived in figures)),
        )
        .order_by(col(Loan.id))
    ).all()
    for loan_id, fund_id, *values in rows:
        reasons = [
            f"{label}: the loan keeps {values[2 * i]}, its repayments and schedule say "
            f"{values[2 * i + 1]}"
            for i, (label, _, _) in enumerate(figures)
            if str(values[2 * i]) != str(values[2 * i + 1])
        ]
        if reasons:  # SQLite compares dates as text; equal text is the same day
            breaks.add(
                "loan", f"loan {loan_id}: " + "; ".join(reasons), loan_id=loan_id, fund_id=fund_id
            )


def _portfolio_balances(session: Session, breaks: _Breaks) -> None:
    """The portfolio's running balances of today are what the loans give (a write that
    changed figures without marking the balances stale shows here)."""
    today = clock.today()
    for province, figure, kept, recomputed in balances.differences(session, today):
        breaks.add(
            "portfolio_balances",
            f"province {province}, {figure} on {today}: the running balances say {kept}, the "
            f"loans and bank records {recomputed}",
            province_code=province,
        )


def ledger_check(session: Session) -> LedgerCheck:
    breaks = _Breaks()
    _entry_postings(session, breaks)
    _reversals(session, breaks)
    _allocation_origins(session, breaks)
    _balances(session, breaks)
    _running_cash(session, breaks)
    _loan_totals(session, breaks)
    _loan_standing(session, breaks)
    _portfolio_balances(session, breaks)
    examined = {
        "funds": _count(session, Fund),
        "entries": _count(session, LedgerEntry),
        "postings": _count(session, Posting),
        "loans": _count(session, Loan),
    }
    return LedgerCheck(examined=examined, breaks=breaks.listed, breaks_total=breaks.total)


@router.get(
    "/api/v1/funds/reconciliation/ledger",
    response_model=LedgerCheck,
    summary="Check every fund's ledger and every loan's stored totals (reconciliation)",
)
def read_ledger_check(session: SessionDep) -> LedgerCheck:
    return ledger_check(session)
