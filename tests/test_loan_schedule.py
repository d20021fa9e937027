"""The arithmetic of member loans: schedules, allocation of repayments and figures on a date."""

from datetime import date, timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.loans.lending import rules
from services.loans.lending.rules import (
    InterestMethod,
    Owed,
    Payment,
    RepaymentFrequency,
    Terms,
)

MONTHLY, QUARTERLY, AT_MATURITY = (
    RepaymentFrequency.MONTHLY,
    RepaymentFrequency.QUARTERLY,
    RepaymentFrequency.AT_MATURITY,
)


@st.composite
def loan_terms(draw: st.DrawFn) -> Terms:
    frequency = draw(st.sampled_from(list(RepaymentFrequency)))
    term = draw(st.integers(1, 40)) * 3 if frequency is QUARTERLY else draw(st.integers(1, 120))
    return Terms(
        principal=draw(st.integers(1, 10**12)),
        monthly_rate_ppm=draw(st.integers(0, 50_000)),
        term_months=term,
        method=draw(st.sampled_from(list(InterestMethod))),
        frequency=frequency,
    )


DAYS = st.dates(min_value=date(2000, 1, 1), max_value=date(2090, 12, 31))


@given(terms=loan_terms(), disbursed_on=DAYS)
def test_instalments_add_up_to_the_principal_and_the_interest(
    terms: Terms, disbursed_on: date
) -> None:
    instalments = rules.schedule(terms, disbursed_on)
    period = rules.months_per_period(terms.frequency, terms.term_months)
    assert len(instalments) == terms.term_months // period
    assert sum(i.principal for i in instalments) == terms.principal
    assert instalments[-1].cumulative_principal == terms.principal
    assert instalments[-1].cumulative_interest == sum(i.interest for i in instalments)
    if terms.method is InterestMethod.FLAT:
        expected = rules.divide_half_up(
            terms.principal * terms.monthly_rate_ppm * terms.term_months, rules.PPM
        )
    else:
        expected, outstanding = 0, terms.principal
        for instalment in instalments:
            expected += rules.divide_half_up(
                outstanding * terms.monthly_rate_ppm * period, rules.PPM
            )
            outstanding -= instalment.principal
    assert instalments[-1].cumulative_interest == expected
    share = terms.principal // len(instalments)
    assert all(i.principal == share for i in instalments[:-1])
    assert instalments[-1].principal == terms.principal - share * (len(instalments) - 1)


@given(terms=loan_terms(), disbursed_on=DAYS)
def test_due_dates_are_whole_periods_after_disbursement_clamped_to_month_end(
    terms: Terms, disbursed_on: date
) -> None:
    instalments = rules.schedule(terms, disbursed_on)
    period = rules.months_per_period(terms.frequency, terms.term_months)
    previous = disbursed_on
    for instalment in instalments:
        months = (instalment.due_on.year - disbursed_on.year) * 12 + (
            instalment.due_on.month - disbursed_on.month
        )
        assert months == instalment.number * period
        assert instalment.due_on.day == disbursed_on.day or (
            instalment.due_on.day < disbursed_on.day
            and (instalment.due_on + timedelta(days=1)).day == 1
        )
        assert instalment.due_on > previous
        previous = instalment.due_on


def test_month_ends_are_clamped() -> None:
    assert rules.add_months(date(2025, 1, 31), 1) == date(2025, 2, 28)
    assert rules.add_months(date(2024, 1, 31), 1) == date(2024, 2, 29)
    assert rules.add_months(date(2024, 1, 31), 3) == date(2024, 4, 30)
    assert rules.add_months(date(2024, 11, 30), 3) == date(2025, 2, 28)
    assert rules.add_months(date(2024, 12, 15), 1) == date(2025, 1, 15)


def test_a_flat_loan_splits_interest_with_the_remainder_last() -> None:
    terms = Terms(10_000_001, 6_500, 3, InterestMethod.FLAT, MONTHLY)
    instalments = rules.schedule(terms, date(2024, 1, 31))
    assert [(i.due_on, i.principal, i.interest) for i in instalments] == [
        (date(2024, 2, 29), 3_333_333, 65_000),
        (date(2024, 3, 31), 3_333_333, 65_000),
        (date(2024, 4, 30), 3_333_335, 65_000),
    ]


def test_declining_balance_charges_the_principal_outstanding_before_each_quarter() -> None:
    terms = Terms(10_000_000, 6_500, 12, InterestMethod.DECLINING_BALANCE, QUARTERLY)
    instalments = rules.schedule(terms, date(2024, 1, 31))
    assert [(i.due_on, i.principal, i.interest) for i in instalments] == [
        (date(2024, 4, 30), 2_500_000, 195_000),
        (date(2024, 7, 31), 2_500_000, 146_250),
        (date(2024, 10, 31), 2_500_000, 97_500),
        (date(2025, 1, 31), 2_500_000, 48_750),
    ]


def test_a_loan_at_maturity_is_one_instalment() -> None:
    terms = Terms(5_000_000, 5_000, 9, InterestMethod.DECLINING_BALANCE, AT_MATURITY)
    [only] = rules.schedule(terms, date(2024, 5, 31))
    assert (only.due_on, only.principal, only.interest) == (date(2025, 2, 28), 5_000_000, 225_000)


def test_rounding_is_half_up_to_the_dong() -> None:
    assert [rules.divide_half_up(n, 10) for n in (4, 5, 14, 15, 0)] == [0, 1, 1, 2, 0]


@pytest.mark.parametrize(
    ("percent", "ppm"),
    [("0.5", 5_000), ("0.65", 6_500), ("0.0001", 1), ("5", 50_000), ("0", 0)],
)
def test_rates_are_stored_as_exact_parts_per_million(percent: str, ppm: int) -> None:
    assert rules.rate_to_ppm(Decimal(percent)) == ppm
    assert rules.ppm_to_rate(ppm) == Decimal(percent)


def test_a_fifth_decimal_of_a_rate_is_refused() -> None:
    with pytest.raises(ValueError):
        rules.rate_to_ppm(Decimal("0.00001"))


@given(
    owed_interest=st.integers(0, 10**9),
    owed_principal=st.integers(1, 10**9),
    data=st.data(),
)
def test_a_repayment_pays_interest_before_principal(
    owed_interest: int, owed_principal: int, data: st.DataObject
) -> None:
    owed = Owed(interest=owed_interest, principal=owed_principal)
    amount = data.draw(st.integers(1, owed.total))
    parts = rules.allocate(amount, owed)
    assert parts.interest + parts.principal == amount
    assert parts.interest == min(amount, owed_interest)
    assert 0 <= parts.principal <= owed_principal
    with pytest.raises(ValueError):
        rules.allocate(owed.total + 1, owed)


def test_interest_owed_runs_through_the_current_instalment() -> None:
    terms = Terms(6_000_000, 10_000, 6, InterestMethod.FLAT, MONTHLY)
    instalments = rules.schedule(terms, date(2024, 1, 15))
    # Two instalments overdue and the third current: three months of interest, all principal.
    assert rules.owed_on(instalments, date(2024, 3, 20), 0, 0) == Owed(180_000, 6_000_000)
    # On a due date, that instalment is the current one.
    assert rules.owed_on(instalments, date(2024, 3, 15), 0, 60_000) == Owed(60_000, 6_000_000)
    # Past maturity everything is owed, and interest already paid is not owed again.
    late = rules.owed_on(instalments, date(2026, 1, 1), 1_000_000, 100_000)
    assert late == Owed(260_000, 5_000_000)


@given(terms=loan_terms(), disbursed_on=DAYS)
def test_paying_each_instalment_on_its_due_date_leaves_no_arrears(
    terms: Terms, disbursed_on: date
) -> None:
    instalments = rules.schedule(terms, disbursed_on)
    payments = [Payment(i.due_on, i.principal, i.interest) for i in instalments]
    for instalment in instalments:
        figures = rules.figures_on(
            instalment.due_on, terms.principal, disbursed_on, None, instalments, payments
        )
        assert figures.arrears_principal == figures.arrears_interest == 0
        assert figures.days_past_due == 0
        assert figures.principal_repaid == instalment.cumulative_principal
        assert figures.outstanding_principal == terms.principal - instalment.cumulative_principal


def test_days_past_due_count_from_the_earliest_instalment_not_fully_paid() -> None:
    terms = Terms(3_000_000, 10_000, 3, InterestMethod.FLAT, MONTHLY)
    instalments = rules.schedule(terms, date(2024, 1, 15))
    # The first instalment's principal is paid but 1 đồng of its interest is not.
    payments = [Payment(date(2024, 2, 15), 1_000_000, 29_999)]
    figures = rules.figures_on(
        date(2024, 3, 1), 3_000_000, date(2024, 1, 15), None, instalments, payments
    )
    assert figures.days_past_due == 15
    assert (figures.arrears_principal, figures.arrears_interest) == (0, 1)
    ended = rules.figures_on(
        date(2024, 3, 1), 3_000_000, date(2024, 1, 15), date(2024, 2, 20), instalments, payments
    )
    assert (ended.outstanding_principal, ended.days_past_due, ended.arrears_principal) == (0, 0, 0)
    before = rules.figures_on(
        date(2024, 1, 1), 3_000_000, date(2024, 1, 15), None, instalments, payments
    )
    assert before == rules.NO_FIGURES
