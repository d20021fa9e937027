"""The fund ledger's rules against the database. Nothing here commits: the request does."""

from datetime import date
from typing import TypedDict, Unpack

from sqlalchemy import Subquery, case, func, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from common.auth import Principal
from common.club_directory import ClubFacts
from common.paging import Synced, page_of
from common.problem_codes import Code
from common.problems import Conflict, NotFound
from common.schemas import Page, PageParams
from common.sync import Token
from services.loans.ledger.models import Fund, LedgerEntry, Posting
from services.loans.ledger.rules import (
    Account,
    CapitalOrigin,
    EntryType,
    FundKind,
    Postings,
    cash_change,
    postings_for,
    reversal_of,
)
from services.loans.ledger.schemas import (
    AllocationCapital,
    EntryPublic,
    PostingPublic,
    StatementLine,
)


def club_fund(session: Session, club_id: int, kind: FundKind) -> Fund | None:
    return session.exec(
        select(Fund).where(Fund.club_id == club_id, Fund.kind == kind.value)
    ).first()


def open_fund(
    session: Session, club: ClubFacts, kind: FundKind, opened_by: str
) -> tuple[Fund, bool]:
    """The club's fund of that kind, opened if it has none; True if opened now.

    Funds are opened by people, by allocations and by the club's activation event, possibly at
    the same moment: whichever comes second finds the first one's fund.
    """
    found = club_fund(session, club.id, kind)
    if found is not None:
        return found, False
    fund = Fund(
        club_id=club.id,
        kind=kind.value,
        province_code=club.province_code,
        commune_code=club.commune_code,
        opened_by=opened_by,
    )
    try:
        with session.begin_nested():
            session.add(fund)
    except IntegrityError:
        found = club_fund(session, club.id, kind)
        assert found is not None  # the unique index refused ours for it
        return found, False
    return fund, True


def lock_fund(session: Session, fund: Fund) -> None:
    """Serialise writers of this fund until the transaction ends.

    Must be the transaction's first write: an UPDATE takes PostgreSQL's row lock and SQLite's
    database write lock (SELECT … FOR UPDATE is ignored by SQLite), so the balance read after it
    includes every write committed before.
    """
    session.execute(
        update(Fund)
        .where(col(Fund.id) == fund.id)
        .values(version=Fund.version + 1)
        .execution_options(synchronize_session=False)
    )


def balance(session: Session, fund_id: int) -> int:
    """Cash held by the fund: the sum of its cash postings."""
    total = session.exec(
        select(func.coalesce(func.sum(Posting.amount), 0)).where(
            Posting.fund_id == fund_id, Posting.account == Account.CASH.value
        )
    ).one()
    return int(total)


class _EntryLinks(TypedDict, total=False):
    """What an entry may also carry: where capital came from, what it reverses, its loan."""

    origin: str | None
    allocation_id: int | None
    reverses_entry_id: int | None
    loan_id: int | None


def _record(
    session: Session,
    fund: Fund,
    principal: Principal,
    entry_type: EntryType,
    amount: int,
    postings: Postings,
    occurred_on: date,
    reference: str,
    **extra: Unpack[_EntryLinks],
) -> LedgerEntry:
    assert sum(value for _, value in postings) == 0, "unbalanced entry"
    assert fund.id is not None  # a stored fund
    entry = LedgerEntry(
        fund_id=fund.id,
        entry_type=entry_type.value,
        occurred_on=occurred_on,
        amount=amount,
        reference=reference,
        recorded_by=principal.subject,
        **extra,
    )
    session.add(entry)
    session.flush()
    assert entry.id is not None  # flushed
    session.add_all(
        Posting(entry_id=entry.id, fund_id=fund.id, account=account.value, amount=value)
        for account, value in postings
    )
    session.flush()
    return entry


def _refuse_overdraft(session: Session, fund: Fund, change: int, on: date) -> None:
    """Money leaving on `on` must be there on that day and on every later line of the
    statement: a back-dated expense may not spend what only came in after its date."""
    assert fund.id is not None  # a stored fund
    lowest = lowest_balance_from(session, fund.id, on)
    if lowest + change < 0:
        raise Conflict(
            f"The fund's cash from {on.isoformat()} on is at the lowest {lowest} đồng; this "
            f"needs {-change}.",
            code=Code.FUND_OVERDRAFT,
            balance=lowest,
            required=-change,
            on=on.isoformat(),
        )


def lowest_balance_from(session: Session, fund_id: int, on: date) -> int:
    """The lowest cash balance of the fund's statement at the end of `on` or after any later
    entry (an entry dated `on` comes after that day's others)."""
    per_entry = _cash_per_entry(fund_id)
    through = session.exec(
        select(func.coalesce(func.sum(per_entry.c.cash_change), 0)).where(
            per_entry.c.occurred_on <= on
        )
    ).one()
    running = _running_balances(per_entry)
    later = session.exec(
        select(func.min(running.c.running_balance)).where(running.c.occurred_on > on)
    ).one()
    return int(through) if later is None else min(int(through), int(later))


def _cash_per_entry(fund_id: int) -> Subquery:
    cash = func.coalesce(
        func.sum(case((col(Posting.account) == Account.CASH.value, Posting.amount), else_=0)), 0
    )
    return (
        select(
            col(LedgerEntry.id).label("entry_id"),
            col(LedgerEntry.occurred_on).label("occurred_on"),
            cash.label("cash_change"),
        )
        .join(Posting, col(Posting.entry_id) == col(LedgerEntry.id))
        .where(LedgerEntry.fund_id == fund_id)
        .group_by(col(LedgerEntry.id), col(LedgerEntry.occurred_on))
        .subquery()
    )


def _running_balances(per_entry: Subquery) -> Subquery:
    """Each entry with the cash after it, in statement order (date, then entry)."""
    return select(
        per_entry.c.entry_id,
        per_entry.c.occurred_on,
        per_entry.c.cash_change,
        func.sum(per_entry.c.cash_change)
        .over(order_by=(per_entry.c.occurred_on, per_entry.c.entry_id))
        .label("running_balance"),
    ).subquery()


def allocation_entry(session: Session, fund: Fund | None, allocation_id: int) -> LedgerEntry | None:
    """The entry that already recorded this allocation (in this fund, if one is given: 409 if
    another fund did)."""
    entry = session.exec(
        select(LedgerEntry).where(LedgerEntry.allocation_id == allocation_id)
    ).first()
    if entry is not None and fund is not None and entry.fund_id != fund.id:
        raise Conflict(
            f"The allocation {allocation_id} was recorded in another fund.",
            code=Code.ALLOCATION_MISMATCH,
        )
    return entry


def add_capital(
    session: Session,
    fund: Fund,
    principal: Principal,
    amount: int,
    occurred_on: date,
    origin: CapitalOrigin,
    allocation_id: int | None,
    reference: str,
) -> tuple[LedgerEntry, bool]:
    """Records capital in; returns the entry and whether it is new (an allocation is once)."""
    if allocation_id is not None and (found := allocation_entry(session, fund, allocation_id)):
        return found, False
    lock_fund(session, fund)
    # Looked up again under the lock: a concurrent twin may have committed meanwhile.
    if allocation_id is not None and (found := allocation_entry(session, fund, allocation_id)):
        return found, False
    entry = _record(
        session,
        fund,
        principal,
        EntryType.CAPITAL_IN,
        amount,
        postings_for(EntryType.CAPITAL_IN, amount),
        occurred_on,
        reference,
        origin=origin.value,
        allocation_id=allocation_id,
    )
    return entry, True


def spend(
    session: Session,
    fund: Fund,
    principal: Principal,
    entry_type: EntryType,
    amount: int,
    occurred_on: date,
    reference: str,
    *,
    loan_id: int | None = None,
) -> LedgerEntry:
    """Records money leaving the fund; 409 when the fund's cash cannot cover it."""
    postings = postings_for(entry_type, amount)
    lock_fund(session, fund)
    _refuse_overdraft(session, fund, cash_change(postings), occurred_on)
    return _record(
        session,
        fund,
        principal,
        entry_type,
        amount,
        postings,
        occurred_on,
        reference,
        loan_id=loan_id,
    )


def record_for_loan(
    session: Session,
    fund: Fund,
    principal: Principal,
    entry_type: EntryType,
    amount: int,
    occurred_on: date,
    reference: str,
    loan_id: int,
) -> LedgerEntry:
    """Records a loan's repayment or write-off: entries that never take cash out of the fund,
    so they need neither the fund's lock nor a balance check."""
    postings = postings_for(entry_type, amount)
    if cash_change(postings) < 0:
        raise ValueError(f"{entry_type} takes cash out of the fund: use spend()")
    return _record(
        session,
        fund,
        principal,
        entry_type,
        amount,
        postings,
        occurred_on,
        reference,
        loan_id=loan_id,
    )


def reverse(
    session: Session,
    fund: Fund,
    principal: Principal,
    entry_id: int,
    occurred_on: date,
    reference: str,
) -> LedgerEntry:
    """Cancels an entry with a reversing one; an entry is reversed once, reversals never."""
    original = session.get(LedgerEntry, entry_id)
    if original is None or original.fund_id != fund.id:
        raise NotFound(f"No entry {entry_id} in fund {fund.id}.")
    if original.entry_type == EntryType.REVERSAL.value:
        raise Conflict(
            "A reversal is not reversed; record a new entry instead.", code=Code.ENTRY_IS_REVERSAL
        )
    if original.loan_id is not None:
        # Its loan's schedule, repayments and status would no longer match the ledger.
        raise Conflict(
            f"The entry {entry_id} belongs to loan {original.loan_id}; it cannot be reversed.",
            code=Code.ENTRY_OF_LOAN,
        )
    lock_fund(session, fund)
    if session.exec(
        select(LedgerEntry.id).where(LedgerEntry.reverses_entry_id == entry_id)
    ).first():
        raise Conflict(
            f"The entry {entry_id} is already reversed.", code=Code.ENTRY_ALREADY_REVERSED
        )
    postings = reversal_of(
        (Account(p.account), p.amount)
        for p in session.exec(select(Posting).where(Posting.entry_id == entry_id))
    )
    _refuse_overdraft(session, fund, cash_change(postings), occurred_on)
    return _record(
        session,
        fund,
        principal,
        EntryType.REVERSAL,
        original.amount,
        postings,
        occurred_on,
        reference,
        reverses_entry_id=entry_id,
    )


def _postings_of(session: Session, entry_ids: list[int]) -> dict[int, list[PostingPublic]]:
    rows = session.exec(
        select(Posting).where(col(Posting.entry_id).in_(entry_ids)).order_by(col(Posting.id))
    )
    found: dict[int, list[PostingPublic]] = {entry_id: [] for entry_id in entry_ids}
    for posting in rows:
        found[posting.entry_id].append(
            PostingPublic(account=Account(posting.account), amount=posting.amount)
        )
    return found


def recorded_allocation(session: Session, payload: AllocationCapital) -> EntryPublic | None:
    """The entry that recorded this allocation before, if any: an allocation is recorded once,
    so the same id with another club, fund or amount is a conflict."""
    entry = allocation_entry(session, None, payload.allocation_id)
    if entry is None:
        return None
    fund = session.get_one(Fund, entry.fund_id)
    recorded = public_entry(session, entry)
    asked = (payload.club_id, payload.kind.value, payload.amount)
    if (fund.club_id, fund.kind, recorded.amount) != asked:
        raise Conflict(
            f"The allocation {payload.allocation_id} was recorded with another club, fund or "
            "amount.",
            code=Code.ALLOCATION_MISMATCH,
            entry_id=recorded.id,
        )
    return recorded


def record_allocation(
    session: Session, payload: AllocationCapital, club: ClubFacts, principal: Principal
) -> tuple[EntryPublic, bool]:
    """A funder's allocation as capital in the club's fund of its kind (opened if need be)."""
    fund, _ = open_fund(session, club, payload.kind, principal.subject)
    entry, created = add_capital(
        session,
        fund,
        principal,
        payload.amount,
        payload.occurred_on,
        CapitalOrigin.ALLOCATION,
        payload.allocation_id,
        payload.reference,
    )
    return public_entry(session, entry), created


def public_entry(session: Session, entry: LedgerEntry) -> EntryPublic:
    assert entry.id is not None
    return EntryPublic(
        **entry.model_dump(exclude={"fund_id"}),
        fund_id=entry.fund_id,
        postings=_postings_of(session, [entry.id])[entry.id],
    )


def statement(
    session: Session,
    fund: Fund,
    date_from: date | None,
    date_to: date | None,
    page: PageParams,
    since: Token | None = None,
) -> Page[StatementLine]:
    """The fund's entries in date order with the cash balance after each one.

    The running balance is taken over the fund's whole history, so a date range starts from the
    balance brought forward.
    """
    assert fund.id is not None  # a stored fund
    running = _running_balances(_cash_per_entry(fund.id))
    filters = []
    if date_from is not None:
        filters.append(running.c.occurred_on >= date_from)
    if date_to is not None:
        filters.append(running.c.occurred_on <= date_to)
    paged = page_of(
        session,
        select(LedgerEntry, running.c.cash_change, running.c.running_balance)
        .join(running, running.c.entry_id == col(LedgerEntry.id))
        .where(*filters),
        page,
        running.c.occurred_on,
        running.c.entry_id,
        synced=Synced(col(LedgerEntry.sync_stamp), since),
    )
    rows = paged.rows
    postings = _postings_of(session, [entry.id for entry, _, _ in rows if entry.id is not None])
    lines = [
        StatementLine(
            **entry.model_dump(exclude={"fund_id"}),
            fund_id=entry.fund_id,
            postings=postings[entry.id],
            cash_change=int(change),
            running_balance=int(running_balance),
        )
        for entry, change, running_balance in rows
        if entry.id is not None
    ]
    return paged.page(lines)
