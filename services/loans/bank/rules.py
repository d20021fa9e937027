"""The rules of the bank's loan records, as pure functions: one place for each rule.

A posted record is judged field by field in `schemas.py` and across fields here; the outcome of
a valid record against the stored one is decided here too, so the single POST, every record of
a batch and the tests share one definition.
"""

from collections.abc import Mapping
from datetime import date
from enum import StrEnum
from typing import Any, NamedTuple

from common.problem_codes import Code
from common.sealing import keyring
from services.loans.bank.models import BORROWER_ID

MAX_BATCH_RECORDS = 10_000
"""Records per batch: the bank's files hold thousands; one batch is one transaction."""

MAX_PRINCIPAL = 10**12
"""One thousand billion đồng: far above any loan, low enough to refuse typing slips."""

POOR_HOUSEHOLDS_MAX_PRINCIPAL = 100_000_000
"""The bank lends poor households up to 100 million đồng."""

MAX_RATE_PERCENT = 20
BASIS_POINTS_PER_PERCENT = 100


class Programme(StrEnum):
    """The bank's lending programmes (domain.md), with the rates it publishes."""

    POOR_HOUSEHOLDS = "poor_households"
    NEAR_POOR_HOUSEHOLDS = "near_poor_households"
    ESCAPED_POVERTY = "escaped_poverty"
    STUDENTS = "students"
    JOB_CREATION = "job_creation"
    CLEAN_WATER = "clean_water"
    DIFFICULT_AREAS = "difficult_areas"
    HOUSING_FOR_THE_POOR = "housing_for_the_poor"


class BankLoanStatus(StrEnum):
    ACTIVE = "active"
    OVERDUE = "overdue"
    CLOSED = "closed"
    WRITTEN_OFF = "written_off"


class Outcome(StrEnum):
    """What a posted record did to the stored loan."""

    CREATED = "created"
    UPDATED = "updated"
    UNCHANGED = "unchanged"
    STALE = "stale"
    """Older than the stored figures: kept in the history, never applied."""
    REJECTED = "rejected"


class BatchMode(StrEnum):
    ATOMIC = "atomic"
    """Any invalid record refuses the whole batch; nothing is written."""
    PARTIAL = "partial"
    """Valid records are stored; invalid ones are reported."""


APPLIED = frozenset({Outcome.CREATED, Outcome.UPDATED})

# Plain aliases for the per-record hot path: reading an enum member off its class runs a
# Python-level descriptor in Python 3.11, which 10,000 records a batch notice.
_POOR_HOUSEHOLDS = Programme.POOR_HOUSEHOLDS.value
_CLOSED = BankLoanStatus.CLOSED.value
_OVERDUE = BankLoanStatus.OVERDUE.value
_ACTIVE = BankLoanStatus.ACTIVE.value
_CREATED, _UPDATED, _UNCHANGED, _STALE = (
    Outcome.CREATED,
    Outcome.UPDATED,
    Outcome.UNCHANGED,
    Outcome.STALE,
)
"""Outcomes that write a new version of the loan (the history and the current row)."""

VALUE_FIELDS = (
    "borrower_blind_index",
    "borrower_name",
    "programme",
    "principal",
    "disbursed_on",
    "maturity_on",
    "annual_interest_rate_bp",
    "outstanding_principal",
    "overdue_amount",
    "status",
    "as_of",
    "borrower_national_id_sealed",
)
"""The figures of a loan as the bank states them, in the order of `LoanValues`."""


class LoanValues(NamedTuple):
    """One version of a loan's figures, as stored (the rate in basis points; the borrower's
    citizen ID as its blind index, which postings compare, and sealed, which they do not)."""

    borrower_blind_index: str
    borrower_name: str
    programme: str
    principal: int
    disbursed_on: date
    maturity_on: date
    annual_interest_rate_bp: int
    outstanding_principal: int
    overdue_amount: int
    status: str
    as_of: date
    borrower_national_id_sealed: str
    """Sealed anew by each posting: never compared (the blind index says who it is)."""


_COMPARED = len(LoanValues._fields) - 1
"""Every figure but the sealed ID."""


class Membership(NamedTuple):
    """The active club membership a borrower is matched to, with the club's place (for scope).

    A named tuple: a batch makes thousands, and a frozen dataclass takes twice as long."""

    member_id: int
    club_id: int
    province_code: str
    commune_code: str


Reasons = list[tuple[str, str, str]]
"""(field, reason, code) triples: the code is a catalogue code (`common/problem_codes.py`) or
pydantic's error type."""


def rate_basis_points(percent: float) -> int | None:
    """The rate in basis points (7.92 → 792), or None when it has more than 2 decimals.

    JSON numbers arrive as binary floats, so "at most 2 decimals" means: a hundredfold of the
    number is an integer up to float rounding.
    """
    hundredfold = percent * BASIS_POINTS_PER_PERCENT
    basis_points = round(hundredfold)
    return basis_points if abs(hundredfold - basis_points) < 1e-6 else None


def checked_values(record: Mapping[str, Any], today: date, borrower: str) -> LoanValues | None:
    """The stored figures of a record with every field valid, or None when it breaks a rule
    across fields (then `record_errors` gives every reason); `borrower` is the blind index of
    its citizen ID.

    The same rules as `record_errors` as one expression: the question asked of each record of
    a 10,000-record batch, where the reasons are only wanted for the few that fail.
    """
    basis_points = rate_basis_points(record["annual_interest_rate"])
    principal = record["principal"]
    disbursed = record["disbursed_on"]
    as_of = record["as_of"]
    maturity = record["maturity_on"]
    outstanding = record["outstanding_principal"]
    overdue = record["overdue_amount"]
    status = record["status"]
    programme = record["programme"]
    if (
        basis_points is not None
        and disbursed < maturity
        and disbursed <= as_of <= today
        and overdue <= outstanding <= principal
        and (principal <= POOR_HOUSEHOLDS_MAX_PRINCIPAL or programme != _POOR_HOUSEHOLDS)
        and (status != _CLOSED or outstanding == 0)
        and (status != _OVERDUE or overdue > 0)
        and (status != _ACTIVE or overdue == 0)
    ):
        # `tuple.__new__` rather than `LoanValues(…)`: the named tuple's own constructor is a
        # Python function, which costs twice as much, 10,000 times a batch.
        return tuple.__new__(
            LoanValues,
            (
                borrower,
                record["borrower_name"],
                programme,
                principal,
                disbursed,
                maturity,
                basis_points,
                outstanding,
                overdue,
                status,
                as_of,
                keyring().seal(record["borrower_national_id"], BORROWER_ID),
            ),
        )
    return None


def record_errors(record: Mapping[str, Any], today: date) -> Reasons:
    """Every rule across fields that a record breaks, judged on the fields that are valid.

    `record` holds the validated fields only (those with a field error are left out), so a
    record with a bad field still gets every other reason at once.
    """
    errors: Reasons = []
    rate = record.get("annual_interest_rate")
    if rate is not None and rate_basis_points(rate) is None:
        errors.append(("annual_interest_rate", "has more than 2 decimals", Code.TOO_MANY_DECIMALS))
    disbursed = record.get("disbursed_on")
    maturity = record.get("maturity_on")
    as_of = record.get("as_of")
    if disbursed is not None and maturity is not None and maturity <= disbursed:
        errors.append(("maturity_on", "is not after disbursed_on", Code.DATE_OUT_OF_ORDER))
    if as_of is not None:
        if as_of > today:
            errors.append(("as_of", "is in the future", Code.DATE_IN_FUTURE))
        if disbursed is not None and as_of < disbursed:
            errors.append(("as_of", "is before disbursed_on", Code.DATE_OUT_OF_ORDER))
    principal = record.get("principal")
    if (
        principal is not None
        and record.get("programme") == Programme.POOR_HOUSEHOLDS
        and principal > POOR_HOUSEHOLDS_MAX_PRINCIPAL
    ):
        reason = f"is over {POOR_HOUSEHOLDS_MAX_PRINCIPAL:,} đồng for poor households"
        errors.append(("principal", reason, Code.ABOVE_PROGRAMME_LIMIT))
    errors += _balance_errors(record, principal)
    return errors


def _balance_errors(record: Mapping[str, Any], principal: int | None) -> Reasons:
    errors: Reasons = []
    outstanding = record.get("outstanding_principal")
    overdue = record.get("overdue_amount")
    status = record.get("status")
    if outstanding is not None and principal is not None and outstanding > principal:
        errors.append(("outstanding_principal", "is more than the principal", Code.INCONSISTENT))
    if overdue is not None and outstanding is not None and overdue > outstanding:
        reason = "is more than the outstanding principal"
        errors.append(("overdue_amount", reason, Code.INCONSISTENT))
    if status == BankLoanStatus.CLOSED and outstanding:
        errors.append(("outstanding_principal", "must be 0 for a closed loan", Code.INCONSISTENT))
    if status == BankLoanStatus.OVERDUE and overdue == 0:
        reason = "must be more than 0 for an overdue loan"
        errors.append(("overdue_amount", reason, Code.INCONSISTENT))
    if status == BankLoanStatus.ACTIVE and overdue:
        reason = "is active with an amount overdue: the loan is overdue"
        errors.append(("status", reason, Code.INCONSISTENT))
    return errors


def outcome(stored: LoanValues | None, posted: LoanValues) -> Outcome:
    """What a posting does: a new loan, newer (or same-day) figures, a repeat, or older ones."""
    if stored is None:
        return _CREATED
    if posted[:_COMPARED] == stored[:_COMPARED]:
        return _UNCHANGED
    if posted.as_of < stored.as_of:
        return _STALE
    return _UPDATED
