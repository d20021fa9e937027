"""Posting the bank's records and reading them back. Nothing here commits: the request does.

A posting is planned, then written, in the request's one transaction, by `posting` in one
worker thread:
1. `plan` takes the bank's lock, loads the stored loans of the batch's loan numbers in one
   query and decides each record's outcome in order (a loan number repeated in the batch sees
   the figures of its earlier records, as if they had been posted one after another);
2. `record_history` gives the new loans and the postings their ids and writes to the history,
   in bulk, the postings that are not current (replaced or stale): it needs no match, so it
   runs while the clubs service is still being asked;
3. `applying` matches the loans it writes with the memberships the clubs service gave, then
   writes new loans and changed loans in bulk; the answer (the body of the caller's `with`) and
   the events are made while PostgreSQL stores the new loans.

A batch is 10,000 records, so the steps run once per record are kept lean: no model objects,
one tuple per row written, the loans themselves (not their numbers) in the plan's lists.
"""

import uuid
from collections import Counter
from collections.abc import Callable, Collection, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, TypeVar, cast

from sqlalchemy import ColumnElement, union_all
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError
from sqlmodel import Session, col, select

from common import sync
from common.auth import Principal
from common.clock import utcnow
from common.db_errors import integrity_cause
from common.paging import Paged, Synced, page_of
from common.problem_codes import Code
from common.problems import NotFound
from common.schemas import Page, PageParams
from common.scope import Kind, Place, condition, readers
from common.sealing import keyring
from common.sync import Token
from services.loans.bank import events, store
from services.loans.bank.models import BORROWER_ID, BankLoan, BankLoanUnmatch, BankLoanVersion
from services.loans.bank.reading import ParsedBatch
from services.loans.bank.rules import (
    APPLIED,
    BASIS_POINTS_PER_PERCENT,
    VALUE_FIELDS,
    BatchMode,
    LoanValues,
    Membership,
    Outcome,
    Reasons,
    outcome,
)
from services.loans.bank.schemas import RECORD_FIELD, BankLoanPublic, BankLoanVersionPublic
from services.loans.bank.store import Posting, StoredLoan
from services.loans.models import outbox
from services.loans.portfolio.stale import EVERY_DAY, mark_stale

READERS = readers(Kind.BANK_LOAN)
BANK_LOAN_PLACE = Place(
    province_code=col(BankLoan.province_code),
    commune_code=col(BankLoan.commune_code),
    bank_code=col(BankLoan.bank_code),
)
"""Where a bank loan is: its bank, and the place of the member it is matched to (if any)."""
NO_MATCH = (None, None, None, None, None)
OUTCOME_VALUES = {result: result.value for result in Outcome}
"""Plain strings to write (`Outcome.value` is a property, slow when read 10,000 times)."""
AnswerT = TypeVar("AnswerT")
REFUSALS = (IntegrityError, DataError)
"""What the database answers a record it will not hold (a deadlock or a lost connection is
no fault of one record's)."""
Memberships = dict[str, Membership] | None
"""The clubs service's answer: active memberships by the blind index of the citizen ID, None
if it could not say."""


@dataclass
class Plan:
    """What a posting will do, decided under the bank's lock."""

    bank_code: str
    loans: dict[str, StoredLoan]
    """Every loan the posting touches, by loan number in order, as it will be after the posting.

    In order so that new loans take their ids in it and are written in it: the unique index on
    loan numbers then takes its 10,000 new entries in order (a third less of PostgreSQL's time
    than in the batch's order), the other indexes in id order."""
    results: list[tuple[int, StoredLoan, Outcome]]
    """(index, loan, outcome) of each valid record."""
    postings: list[Posting]
    """Each posting kept (all but the unchanged ones), in record order: their ids follow it."""
    history: list[tuple[StoredLoan, Posting]]
    """(loan, posting) of each posting that goes to the history: the current postings this
    posting replaced, and the stale ones."""
    refused: dict[int, Reasons] = field(default_factory=dict)
    """Valid records refused against the stored loan: another borrower, disbursement date or
    programme under a known loan number, without `correction`. Nothing of them is written."""
    batch_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    """Names this posting in its answer and its events, so the bank can tie them together."""


@dataclass(frozen=True)
class Probe:
    """What a posting reads before it plans, under the bank's lock: a sync token from before
    its writes, and the stored loans of (at least) its loan numbers."""

    changed_since: str
    loans: dict[str, StoredLoan]


def probe(session: Session, bank_code: str, numbers: Collection[str], now: datetime) -> Probe:
    """Takes the bank's lock and reads the stored loans of these numbers. A batch runs it in
    a thread of its own while its records are checked (it waits on the database only)."""
    # Before the posting writes: its loans are those the reader lists as changed since it.
    changed_since = sync.now(session).encode()
    store.lock_bank(session, bank_code, now)
    return Probe(changed_since, store.current_loans(session, bank_code, sorted(numbers)))


def plan(
    probed: Probe,
    bank_code: str,
    loan_numbers: Sequence[str | None],
    postings: Sequence[LoanValues | None],
    posted_by: str,
    now: datetime,
    corrections: Collection[int] = (),
) -> Plan:
    """Each valid record's outcome against the stored loan (or the batch's earlier record).

    `postings` are the records' figures in order (None for an invalid record), `loan_numbers`
    their loan numbers, `corrections` the records that say they correct a loan's identity.
    """
    numbers = sorted(valid_numbers(loan_numbers, postings))
    posted_numbers = cast(Sequence[str], loan_numbers)  # only valid records' are read: strings
    loans = probed.loans
    results: list[tuple[int, StoredLoan, Outcome]] = []
    kept: list[Posting] = []
    history: list[tuple[StoredLoan, Posting]] = []
    refused: dict[int, Reasons] = {}
    # Read once, not per record.
    created, updated, stale = Outcome.CREATED, Outcome.UPDATED, Outcome.STALE
    for index, values in enumerate(postings):
        if values is None:
            continue
        number = posted_numbers[index]
        loan = loans.get(number)
        posting: Posting | None = None
        if loan is None:
            posting = Posting(values, OUTCOME_VALUES[created], posted_by, now)
            loan = loans[number] = StoredLoan(number, None, posting, None, None, None, True)
            result = created
        elif loan.retracted:
            refused[index] = [RETRACTED]
            continue
        else:
            changed_identity = identity_change(loan.values, values)
            if changed_identity and index not in corrections:
                refused[index] = [changed_identity]
                continue
            result = outcome(loan.values, values)
            if result is updated:
                history.append((loan, loan.posting))
                posting = loan.posting = Posting(values, OUTCOME_VALUES[updated], posted_by, now)
                loan.changed = True
            elif result is stale:
                posting = Posting(values, OUTCOME_VALUES[stale], posted_by, now)
                history.append((loan, posting))
        if posting is not None:
            kept.append(posting)
        results.append((index, loan, result))
    # Every valid record's number now has its loan, in the order of `numbers` (the probe may
    # have read more: the numbers of records the rules refused after it started).
    loans_in_order = {number: loans[number] for number in numbers}
    return Plan(bank_code, loans_in_order, results, kept, history, refused)


def valid_numbers(
    loan_numbers: Sequence[str | None], postings: Sequence[LoanValues | None]
) -> set[str]:
    """The loan numbers of the valid records."""
    # Those are validated strings (None stands for an invalid record's number): one cast for
    # the batch, nothing per record.
    numbers = cast(Sequence[str], loan_numbers)
    return {number for number, values in zip(numbers, postings, strict=True) if values is not None}


RETRACTED = (
    "loan_number",
    "was retracted by the bank: reinstate the record (POST /api/v1/bank-loans/{id}/"
    "reinstatement) before posting it again",
    Code.BANK_LOAN_RETRACTED,
)


def identity_change(stored: LoanValues, posted: LoanValues) -> tuple[str, str, str] | None:
    """Why a posting would change who and what a loan number is (the borrower, the day it was
    disbursed, the programme), or None: such a change is a correction, never an update."""
    for name in ("borrower_blind_index", "disbursed_on", "programme"):
        if getattr(stored, name) != getattr(posted, name):
            field_name = "borrower_national_id" if name == "borrower_blind_index" else name
            reason = (
                f"differs from the loan number's {field_name} as posted before; a loan number "
                "keeps its borrower, disbursement day and programme: send correction: true if "
                "the earlier posting was wrong"
            )
            return field_name, reason, Code.LOAN_IDENTITY_CHANGED
    return None


@dataclass(frozen=True)
class Posted:
    """A posting as it is being stored: its plan, and whether borrowers could be matched."""

    plan: Plan
    matching_available: bool


@contextmanager
def posting(
    session: Session,
    bank_code: str,
    posted_by: str,
    loan_numbers: Sequence[str | None],
    postings: Sequence[LoanValues | None],
    memberships: Callable[[], Memberships],
    now: datetime,
    corrections: Collection[int] = (),
    probed: Probe | None = None,
) -> Iterator[Posted]:
    """Plans and writes a posting, in the caller's thread (a worker: it waits on the database
    and on `memberships`, the clubs service's answer asked meanwhile). The history is written
    before the memberships are waited for; the body of the `with` (the caller's answer) and the
    posting's events are made while PostgreSQL stores the new loans. `probed`: the `probe` the
    caller made, if it did."""
    if probed is None:
        probed = probe(session, bank_code, valid_numbers(loan_numbers, postings), now)
    changed_since = probed.changed_since
    planned = plan(probed, bank_code, loan_numbers, postings, posted_by, now, corrections)
    record_history(session, planned)
    found = memberships()
    with applying(session, planned, found, now):
        changed = [loan for loan in planned.loans.values() if loan.changed]
        announced = events.posted(planned.bank_code, changed, planned.batch_id, changed_since)
        yield Posted(planned, found is not None)
    outbox.emit(session, *announced)
    if found is None:  # the retry worker asks the clubs service again (`matching.retry_matching`)
        unmatched = [loan.id for loan in changed if loan.membership is None and loan.id]
        store.mark_matching_due(session, unmatched, now)


def write_each_refusal_alone(
    session: Session,
    parsed: ParsedBatch,
    write: Callable[[ParsedBatch], AnswerT],
    bank_code: str,
    posted_by: str,
) -> AnswerT:
    """A partial batch: a record the database refuses (a constraint, a value it cannot hold)
    is rejected alone and the others are stored. The whole batch is tried first, in a
    savepoint; only when the database refuses it are the refused records sought, by halves,
    each half tried (without matching) in a savepoint that is then rolled back."""
    try:
        with session.begin_nested():
            return write(parsed)
    except REFUSALS:
        pass
    valid = [index for index, values in enumerate(parsed.postings) if values is not None]

    def attempt(batch: ParsedBatch) -> None:
        with posting(
            session, bank_code, posted_by, batch.loan_numbers, batch.postings, lambda: None, now
        ):
            pass

    now = utcnow()
    refused = _refused_records(session, parsed, valid, attempt)
    return write(parsed.rejecting(refused))


def _refused_records(
    session: Session,
    parsed: ParsedBatch,
    indexes: list[int],
    probe: Callable[[ParsedBatch], object],
) -> dict[int, Reasons]:
    if not indexes:
        return {}
    kept = set(indexes)
    others: dict[int, Reasons] = {
        index: [] for index in range(len(parsed.postings)) if index not in kept
    }
    try:
        with session.begin_nested() as savepoint:
            probe(parsed.rejecting(others))
            savepoint.rollback()  # a probe stores nothing
        return {}
    except REFUSALS as exc:
        if len(indexes) == 1:
            return {indexes[0]: [_refusal(exc)]}
    half = len(indexes) // 2
    return {
        **_refused_records(session, parsed, indexes[:half], probe),
        **_refused_records(session, parsed, indexes[half:], probe),
    }


def _refusal(exc: DBAPIError) -> tuple[str, str, str]:
    """(field, reason, code) of a record the database refused, without its values."""
    if isinstance(exc, IntegrityError):
        cause = integrity_cause(exc)
        field = cause.fields[0] if cause.fields else RECORD_FIELD
        code = Code.ALREADY_EXISTS if cause.kind == "unique" else Code.CONSTRAINT_VIOLATED
        return field, f"refused by the database: {cause.reason}", code
    reason = "refused by the database: a value is out of the range it holds"
    return RECORD_FIELD, reason, Code.OUT_OF_RANGE


def _rematch(loan: StoredLoan, memberships: dict[str, Membership] | None, now: datetime) -> None:
    """A written loan takes the borrower's active membership if there is one.

    Without one (the member left, or the clubs service could not be asked) a match made
    before stays as long as the borrower is the same person: the loan was a member's loan.
    """
    borrower = loan.values.borrower_blind_index
    found = memberships.get(borrower) if memberships is not None else None
    if found is not None:
        if found != loan.membership:
            loan.membership, loan.matched_at = found, now
    elif borrower != loan.stored_borrower:
        loan.membership, loan.matched_at = None, None


def _member(loan: StoredLoan) -> int | None:
    return loan.membership.member_id if loan.membership is not None else None


def _changed_figures(
    planned: Plan, changed: list[StoredLoan], members_before: dict[str, int | None]
) -> Iterator[tuple[int | None, date]]:
    """The members whose portfolio figures the posting changes, each with the first day it
    changes them (`portfolio.stale`): a record counts from its disbursement or its first
    posting's date as of, whichever is later, and a new posting changes its figures from its
    own date as of; a record that changes member or disbursement changes them all its life."""
    replaced: dict[str, list[LoanValues]] = {}
    for loan, posting in planned.history:
        replaced.setdefault(loan.loan_number, []).append(posting.values)
    for loan in changed:
        values, member, was = loan.values, _member(loan), members_before[loan.loan_number]
        earlier = replaced.get(loan.loan_number, [])
        as_of = min([values.as_of, *(old.as_of for old in earlier)])
        disbursed = min([values.disbursed_on, *(old.disbursed_on for old in earlier)])
        redated = any(old.disbursed_on != values.disbursed_on for old in earlier)
        if loan.is_new:
            day = max(as_of, disbursed)
        else:
            day = min(as_of, disbursed) if member != was or redated else as_of
        yield member, day
        if was != member:
            yield was, day


def _match_columns(loan: StoredLoan) -> tuple[Any, ...]:
    found = loan.membership
    if found is None:
        return NO_MATCH
    return (
        found.member_id,
        found.club_id,
        found.province_code,
        found.commune_code,
        loan.matched_at,
    )


def record_history(session: Session, planned: Plan) -> None:
    """Ids for the new loans and the postings, then the postings that go to the history
    (before the loans are written: the history refers to loans by id only, and both are
    written in this transaction).

    Rows are made while COPY sends them (here and in `apply`): PostgreSQL, the slower side,
    stores the first ones while Python makes the rest."""
    new = [loan for loan in planned.loans.values() if loan.is_new]
    for loan, loan_id in zip(new, store.new_ids(session, BankLoan, len(new)), strict=True):
        loan.id = loan_id
    taken = store.new_ids(session, BankLoanVersion, len(planned.postings))
    for posting, posting_id in zip(planned.postings, taken, strict=True):
        posting.id = posting_id
    if planned.history:
        store.insert_versions(
            session,
            (
                (
                    posting.id,
                    loan.id,
                    posting.outcome,
                    *posting.values,
                    posting.posted_by,
                    posting.posted_at,
                )
                for loan, posting in planned.history
            ),
        )


@contextmanager
def applying(
    session: Session, planned: Plan, memberships: Memberships, now: datetime
) -> Iterator[None]:
    """Matches the planned loans and writes them (after `record_history`): new ones, then
    changed ones, and the portfolio's stale marks. The body of the `with` runs once every loan
    is matched, while PostgreSQL stores the new ones (their rows are sent by then)."""
    changed = [loan for loan in planned.loans.values() if loan.changed]
    members_before = {loan.loan_number: _member(loan) for loan in changed}
    for loan in changed:
        _rematch(loan, memberships, now)
    bank_code = planned.bank_code
    new_rows = (
        (
            loan.id,
            bank_code,
            loan.loan_number,
            *loan.values,
            *loan.posting.columns(),
            *_match_columns(loan),
            now,
            now,
        )
        for loan in changed
        if loan.is_new
    )  # in `store.LOAN_COLUMNS` order, made while COPY sends them
    if any(loan.is_new for loan in changed):
        with store.inserting_loans(session, new_rows):
            # made while PostgreSQL stores the new loans; written once it has
            changes = list(_changed_figures(planned, changed, members_before))
            yield
    else:
        changes = list(_changed_figures(planned, changed, members_before))
        yield
    mark_stale(session, changes)
    kept = [
        (loan.id, *loan.values, *loan.posting.columns(), *_match_columns(loan))
        for loan in changed
        if not loan.is_new
    ]
    store.update_loans(session, kept, now)


def batch_answer(
    mode: BatchMode, parsed: ParsedBatch, planned: Plan, matching_available: bool
) -> dict[str, Any]:
    """The answer to a batch, as plain data (it is encoded once, with orjson)."""
    results: list[dict[str, Any] | None] = [None] * len(parsed.postings)
    matched = unmatched = 0
    for index, loan, result in planned.results:
        is_matched = loan.membership is not None
        # A stale posting changed nothing: it is counted as stale, not as (un)matched.
        if result != Outcome.STALE:
            matched += is_matched
            unmatched += not is_matched
        results[index] = {
            "index": index,
            "loan_number": loan.loan_number,
            "outcome": result,
            "id": loan.id,
            "matched": is_matched,
        }
    for index, reasons in parsed.reasons.items():
        results[index] = {
            "index": index,
            "loan_number": parsed.loan_numbers[index],
            "outcome": Outcome.REJECTED,
            "errors": [
                {"field": field, "reason": reason, "code": code} for field, reason, code in reasons
            ],
        }
    outcomes = Counter(result for _, _, result in planned.results)
    outcomes[Outcome.REJECTED] = parsed.rejected
    return {
        "batch_id": planned.batch_id,
        "mode": mode,
        "records": len(parsed.postings),
        "counts": {
            **{result.value: outcomes[result] for result in Outcome},
            "matched": matched,
            "unmatched": unmatched,
        },
        "matching_available": matching_available,
        "results": results,
    }


# --- matches found or undone after the posting -----------------------------------------------


def match_later(session: Session, matches: list[tuple[int, Membership]], now: datetime) -> int:
    """Stores matches found after the posting (a loan matched meanwhile is left alone) and
    announces those made, so the bank hears of them; how many were made."""
    store.set_matches(session, matches, now)
    mark_stale(session, [(membership.member_id, EVERY_DAY) for _, membership in matches])
    made = session.exec(
        select(col(BankLoan.id)).where(
            col(BankLoan.id).in_([loan_id for loan_id, _ in matches]),
            col(BankLoan.matched_at) == now,
        )
    ).all()
    outbox.emit(session, *events.match_changed(session, [i for i in made if i is not None], {}))
    return len(made)


def announce_unmatched(session: Session, was: dict[int, str | None]) -> None:
    """Announces loans just unmatched (`was`: each one's province until then)."""
    outbox.emit(session, *events.match_changed(session, list(was), was))


# --- reading ---------------------------------------------------------------------------------


def loan_filter(principal: Principal) -> ColumnElement[bool]:
    """The bank loans this caller may see, as a condition on `BankLoan`.

    A bank sees its own records; an officer the loans matched to members of clubs in their
    area (unmatched loans belong to nobody's area); admins and our services all of them.
    """
    return condition(principal, Kind.BANK_LOAN, BANK_LOAN_PLACE)


def visible_loan(session: Session, principal: Principal, loan_id: int) -> BankLoan:
    """The loan if it exists and is in the caller's scope; 404 otherwise, alike."""
    loan = session.exec(
        select(BankLoan).where(BankLoan.id == loan_id, loan_filter(principal))
    ).first()
    if loan is None:
        raise NotFound(f"No bank loan {loan_id}.")
    return loan


def _percent(basis_points: int) -> float:
    return basis_points / BASIS_POINTS_PER_PERCENT


_STORED_ONLY = {"annual_interest_rate_bp", "borrower_blind_index", "borrower_national_id_sealed"}


def _as_stated(row: BankLoan | BankLoanVersion) -> dict[str, Any]:
    """A stored posting's figures as the bank stated them: the rate in percent, the borrower's
    citizen ID opened."""
    return {
        **row.model_dump(exclude=_STORED_ONLY),
        "annual_interest_rate": _percent(row.annual_interest_rate_bp),
        "borrower_national_id": keyring().open(row.borrower_national_id_sealed, BORROWER_ID),
    }


def public(loan: BankLoan) -> BankLoanPublic:
    return BankLoanPublic(**_as_stated(loan), matched=loan.member_id is not None)


def version_public(version: BankLoanVersion) -> BankLoanVersionPublic:
    return BankLoanVersionPublic(**_as_stated(version), applied=Outcome(version.outcome) in APPLIED)


def find_loans(
    session: Session,
    conditions: list[ColumnElement[bool]],
    page: PageParams,
    since: Token | None = None,
) -> Paged:
    """One page of loans in id order, and how many match."""
    synced = Synced(col(BankLoan.sync_stamp), since)
    return page_of(
        session, select(BankLoan).where(*conditions), page, col(BankLoan.id), synced=synced
    )


def history(session: Session, loan: BankLoan, page: PageParams) -> Page[BankLoanVersionPublic]:
    """The loan's postings, the latest posted first (stale ones included): its history rows
    and its current posting, which is the newest applied one but not always the newest (a
    stale posting may follow it)."""
    kept = [getattr(BankLoanVersion, name) for name in store.VERSION_COLUMNS]
    current = [
        col(BankLoan.posting_id).label("id"),
        col(BankLoan.id).label("bank_loan_id"),
        col(BankLoan.posting_outcome).label("outcome"),
        *(getattr(BankLoan, name) for name in VALUE_FIELDS),
        col(BankLoan.posted_by),
        col(BankLoan.posted_at),
    ]
    condition = BankLoanVersion.bank_loan_id == loan.id
    both = union_all(
        select(*kept).where(condition), select(*current).where(BankLoan.id == loan.id)
    ).subquery("postings")
    paged = page_of(session, both.select(), page, both.c.id.desc())
    names = list(both.c.keys())
    versions = [BankLoanVersion(**dict(zip(names, row, strict=True))) for row in paged.rows]
    return paged.page([version_public(version) for version in versions])


def unmatches(session: Session, loan: BankLoan) -> list[BankLoanUnmatch]:
    """The loan's undone matches, the latest first."""
    query = (
        select(BankLoanUnmatch)
        .where(BankLoanUnmatch.bank_loan_id == loan.id)
        .order_by(col(BankLoanUnmatch.id).desc())
    )
    return list(session.exec(query).all())
