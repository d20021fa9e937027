"""The arithmetic of member loans, pure so it can be checked on its own.

Everything is integer đồng and integer parts per million: a monthly rate of 0.65 % is 6 500 ppm.
Rounding is half up to the đồng, and every split puts its remainder in the last instalment, so
the instalments add up exactly to the principal and to the interest the method implies.
"""

import calendar
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from enum import StrEnum

PPM = 1_000_000
PPM_PER_PERCENT = 10_000
MAX_MONTHLY_RATE_PERCENT = Decimal(5)
RATE_DECIMAL_PLACES = 4
MAX_TERM_MONTHS = 120
MONTHS_PER_QUARTER = 3


class InterestMethod(StrEnum):
    FLAT = "flat"
    DECLINING_BALANCE = "declining_balance"


class RepaymentFrequency(StrEnum):
    MONTHLY = "monthly"
    QUARTERLY = "quarterly"
    AT_MATURITY = "at_maturity"


class LoanForm(StrEnum):
    CASH = "cash"
    IN_KIND = "in_kind"


class LoanStatus(StrEnum):
    APPLIED = "applied"
    APPROVED = "approved"
    REJECTED = "rejected"
    DISBURSED = "disbursed"
    CLOSED = "closed"
    WRITTEN_OFF = "written_off"


def rate_to_ppm(percent: Decimal) -> int:
    """A percent with at most four decimals as exact parts per million (0.65 → 6 500)."""
    ppm = percent * PPM_PER_PERCENT
    if ppm != ppm.to_integral_value():
        raise ValueError(f"more than {RATE_DECIMAL_PLACES} decimal places: {percent}")
    return int(ppm)


def ppm_to_rate(ppm: int) -> Decimal:
    return (Decimal(ppm) / PPM_PER_PERCENT).normalize()


def divide_half_up(numerator: int, denominator: int) -> int:
    """numerator / denominator rounded half up, for numerator ≥ 0 and denominator > 0."""
    return (2 * numerator + denominator) // (2 * denominator)


def add_months(start: date, months: int) -> date:
    """The same day `months` calendar months later, clamped to the month's end (31 Jan → 28 Feb)."""
    index = start.month - 1 + months
    year, month = start.year + index // 12, index % 12 + 1
    return date(year, month, min(start.day, calendar.monthrange(year, month)[1]))


def months_per_period(frequency: RepaymentFrequency, term_months: int) -> int:
    if frequency is RepaymentFrequency.MONTHLY:
        return 1
    if frequency is RepaymentFrequency.QUARTERLY:
        return MONTHS_PER_QUARTER
    return term_months


def term_fits_frequency(frequency: RepaymentFrequency, term_months: int) -> bool:
    """Quarterly loans run whole quarters; the other frequencies take any term."""
    return frequency is not RepaymentFrequency.QUARTERLY or term_months % MONTHS_PER_QUARTER == 0


@dataclass(frozen=True)
class Terms:
    """What a loan copies from its club's regulation (and may only lower) when applied for."""

    principal: int
    monthly_rate_ppm: int
    term_months: int
    method: InterestMethod
    frequency: RepaymentFrequency

    @property
    def period_months(self) -> int:
        return months_per_period(self.frequency, self.term_months)

    @property
    def instalment_count(self) -> int:
        return self.term_months // self.period_months


@dataclass(frozen=True)
class Instalment:
    number: int
    due_on: date
    principal: int
    interest: int
    cumulative_principal: int
    cumulative_interest: int


def _split(total: int, parts: int) -> list[int]:
    """`total` in `parts` equal whole shares, the remainder in the last one."""
    share = total // parts
    return [share] * (parts - 1) + [total - share * (parts - 1)]


def flat_interest(terms: Terms) -> int:
    """The whole interest of a flat loan: principal × monthly rate × term, rounded once."""
    return divide_half_up(terms.principal * terms.monthly_rate_ppm * terms.term_months, PPM)


def schedule(terms: Terms, disbursed_on: date) -> list[Instalment]:
    """The repayment schedule fixed at disbursement.

    Principal is split equally with the remainder in the last instalment. Flat interest is the
    whole interest split the same way; declining-balance interest of a period is charged on the
    principal outstanding before it.
    """
    count, period = terms.instalment_count, terms.period_months
    principals = _split(terms.principal, count)
    if terms.method is InterestMethod.FLAT:
        interests = _split(flat_interest(terms), count)
    else:
        outstanding, interests = terms.principal, []
        for principal in principals:
            interests.append(divide_half_up(outstanding * terms.monthly_rate_ppm * period, PPM))
            outstanding -= principal
    instalments, paid_principal, paid_interest = [], 0, 0
    for number, (principal, interest) in enumerate(zip(principals, interests, strict=True), 1):
        paid_principal += principal
        paid_interest += interest
        instalments.append(
            Instalment(
                number=number,
                due_on=add_months(disbursed_on, number * period),
                principal=principal,
                interest=interest,
                cumulative_principal=paid_principal,
                cumulative_interest=paid_interest,
            )
        )
    return instalments


@dataclass(frozen=True)
class Owed:
    """What settles a loan on a day: interest due by the current instalment, all principal."""

    interest: int
    principal: int

    @property
    def total(self) -> int:
        return self.interest + self.principal


def owed_on(
    instalments: Sequence[Instalment], paid_on: date, principal_repaid: int, interest_paid: int
) -> Owed:
    """The most a repayment on `paid_on` may be.

    Interest is owed for every instalment due before `paid_on` and for the current one (the
    first due on or after it; past maturity, the last); interest of later instalments is not.
    Interest is always paid oldest instalment first, so what is unpaid is the cumulative
    interest through the current instalment less what was paid.
    """
    current = next((i for i in instalments if i.due_on >= paid_on), instalments[-1])
    return Owed(
        interest=max(0, current.cumulative_interest - interest_paid),
        principal=instalments[-1].cumulative_principal - principal_repaid,
    )


@dataclass(frozen=True)
class Allocation:
    interest: int
    principal: int


def allocate(amount: int, owed: Owed) -> Allocation:
    """Interest first (overdue, then current), the rest to principal; `amount` ≤ owed.total."""
    if not 0 < amount <= owed.total:
        raise ValueError(f"amount {amount} outside 1..{owed.total}")
    interest = min(amount, owed.interest)
    return Allocation(interest=interest, principal=amount - interest)


@dataclass(frozen=True)
class Payment:
    paid_on: date
    principal: int
    interest: int


@dataclass(frozen=True)
class Figures:
    principal_repaid: int
    interest_paid: int
    outstanding_principal: int
    arrears_principal: int
    arrears_interest: int
    days_past_due: int


NO_FIGURES = Figures(0, 0, 0, 0, 0, 0)


def figures_on(
    on: date,
    principal: int,
    disbursed_on: date | None,
    ended_on: date | None,
    instalments: Sequence[Instalment],
    payments: Sequence[Payment],
) -> Figures:
    """A loan's figures at the end of `on`, counting only payments made by then.

    `ended_on` is the day the loan was closed or written off: from then on nothing is
    outstanding and nothing is in arrears (a write-off's loss is in the ledger, not here).
    Days past due count from the earliest instalment whose principal or interest is not fully
    covered by the payments so far, because payments cover instalments in due order.
    """
    if disbursed_on is None or on < disbursed_on:
        return NO_FIGURES
    repaid = sum(p.principal for p in payments if p.paid_on <= on)
    interest_paid = sum(p.interest for p in payments if p.paid_on <= on)
    if ended_on is not None and on >= ended_on:
        return Figures(repaid, interest_paid, 0, 0, 0, 0)
    due = [i for i in instalments if i.due_on <= on]
    arrears_principal = max(0, due[-1].cumulative_principal - repaid) if due else 0
    arrears_interest = max(0, due[-1].cumulative_interest - interest_paid) if due else 0
    unpaid = next(
        (
            i
            for i in instalments
            if i.cumulative_principal > repaid or i.cumulative_interest > interest_paid
        ),
        None,
    )
    late = unpaid is not None and unpaid.due_on < on
    return Figures(
        principal_repaid=repaid,
        interest_paid=interest_paid,
        outstanding_principal=principal - repaid,
        arrears_principal=arrears_principal,
        arrears_interest=arrears_interest,
        days_past_due=(on - unpaid.due_on).days if late and unpaid else 0,
    )
