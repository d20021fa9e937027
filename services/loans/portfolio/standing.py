"""A loan's standing for the portfolio, kept on the loan by every write that changes it.

A loan carries its running totals (`principal_repaid`, `interest_paid`), the day of its last
repayment (`last_paid_on`) and the day from which it is more than `PAR_DAYS` days late if
nothing more is paid (`late_from`). On any date on or after its last repayment, its
outstanding principal and whether it is at risk follow from those columns alone, so the
national figures of today read no instalment and no repayment; only figures of a date before
a loan's last repayment look at its schedule and repayments (`queries.club_loan_rows`).
"""

from collections.abc import Sequence
from datetime import date, timedelta

from services.loans.lending.models import Loan
from services.loans.lending.rules import Instalment

PAR_DAYS = 30


def late_from(
    instalments: Sequence[Instalment], principal_repaid: int, interest_paid: int
) -> date | None:
    """`PAR_DAYS + 1` days after the first instalment (in schedule order) that what was paid
    does not cover, in principal or in interest; None when it covers them all.

    The totals due only grow along the schedule, so the loan is more than `PAR_DAYS` days late
    on a day D exactly when that instalment fell due on or before D - `PAR_DAYS` - 1: the same
    test as the portfolio's ("paid by D" below "due by D - 31").
    """
    for instalment in instalments:
        if (
            instalment.cumulative_principal > principal_repaid
            or instalment.cumulative_interest > interest_paid
        ):
            return instalment.due_on + timedelta(days=PAR_DAYS + 1)
    return None


def keep(loan: Loan, instalments: Sequence[Instalment], paid_on: date | None = None) -> None:
    """Sets the loan's standing after its disbursement or a repayment on `paid_on`, from its
    schedule and its (already updated) running totals. Repayments are never dated before the
    loan's last one, so `paid_on` is its last repayment."""
    if paid_on is not None:
        loan.last_paid_on = paid_on
    loan.late_from = late_from(instalments, loan.principal_repaid, loan.interest_paid)
