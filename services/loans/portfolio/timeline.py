"""How a shard's portfolio figures change from day to day: the figures `queries.py` computes
for one date, as changes on the days they change, from the loans' schedules and repayments and
the bank records' postings.

A club loan's figures change only on its disbursement, an instalment's due day, the day that
instalment becomes more than `PAR_DAYS` days late, a repayment and its write-off; a bank
record's on its disbursement and on the dates its postings are as of. Between those days every
figure holds, so the figures of any date are the sum of the changes up to it.
"""

from bisect import bisect_right
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta

from services.loans.portfolio.models import FIGURES, NATION
from services.loans.portfolio.queries import BANK_OUTSTANDING
from services.loans.portfolio.standing import PAR_DAYS

(
    LOANS,
    OUTSTANDING,
    PAR30,
    DUE,
    REPAID,
    WRITTEN_OFF,
    BORROWERS,
    BANK_LOANS,
    BANK_PRINCIPAL,
    BANK_OVERDUE,
    BANK_BORROWERS,
    EITHER,
) = range(len(FIGURES))
LATE = timedelta(days=PAR_DAYS + 1)

Totals = tuple[date, int, int]
"""(day, cumulative principal, cumulative interest) of an instalment or a repayment."""


@dataclass
class ClubLoan:
    member_id: int
    province_code: str
    principal: int
    disbursed_on: date
    written_off_on: date | None
    instalments: list[Totals] = field(default_factory=list)
    """By due day."""
    repayments: list[Totals] = field(default_factory=list)
    """By day, then in the order recorded."""


@dataclass
class BankRecord:
    member_id: int | None
    province_code: str
    disbursed_on: date
    as_of: date
    current: tuple[str, int, int]
    """(status, outstanding principal, overdue amount) of its current posting."""
    earlier: list[tuple[int, date, str, int, int]] = field(default_factory=list)
    """(id, as of, status, outstanding, overdue) of its earlier applied postings."""


def _totals_by(rows: list[Totals], day: date) -> tuple[int, int]:
    """The cumulative totals of the newest row dated on or before `day` (they only grow)."""
    at = bisect_right(rows, day, key=lambda row: row[0])
    return (rows[at - 1][1], rows[at - 1][2]) if at else (0, 0)


def club_loan_figures(loan: ClubLoan, day: date) -> tuple[int, int, int, int, int]:
    """(outstanding, PAR30, due, repaid, written off) on `day`, as `queries.club_loan_rows`."""
    due_principal, due_interest = _totals_by(loan.instalments, day)
    late_principal, late_interest = _totals_by(loan.instalments, day - LATE)
    paid_principal, paid_interest = _totals_by(loan.repayments, day)
    written_off = loan.written_off_on is not None and loan.written_off_on <= day
    outstanding = 0 if written_off else loan.principal - paid_principal
    late = paid_principal < late_principal or paid_interest < late_interest
    due = due_principal + due_interest
    return (
        outstanding,
        outstanding if late else 0,
        due,
        min(paid_principal + paid_interest, due),
        loan.principal - paid_principal if written_off else 0,
    )


def _club_loan_days(loan: ClubLoan) -> list[date]:
    days = {loan.disbursed_on}
    for due_on, _, _ in loan.instalments:
        days.update((due_on, due_on + LATE))
    days.update(paid_on for paid_on, _, _ in loan.repayments)
    if loan.written_off_on is not None:
        days.add(loan.written_off_on)
    return sorted(day for day in days if day >= loan.disbursed_on)


def bank_record_figures(record: BankRecord, day: date) -> tuple[int, int] | None:
    """(outstanding, overdue) on `day` when the record is outstanding then by the bank's
    figures as of that day, as `queries.bank_loan_rows`; None when it is not."""
    if day < record.disbursed_on:
        return None
    if record.as_of <= day:
        status, outstanding, overdue = record.current
    else:
        known = [posting for posting in record.earlier if posting[1] <= day]
        if not known:
            return None
        _, _, status, outstanding, overdue = max(known)
    if status in BANK_OUTSTANDING and outstanding > 0:
        return outstanding, overdue
    return None


def _bank_record_days(record: BankRecord) -> list[date]:
    days = {record.disbursed_on, record.as_of, *(posting[1] for posting in record.earlier)}
    return sorted(days)


@dataclass
class Changes:
    """The changes of one shard's figures, by area and day."""

    by_area_day: dict[tuple[str, date], list[int]] = field(default_factory=dict)
    owing: dict[tuple[int | None, str], list[tuple[date, int, int]]] = field(
        default_factory=lambda: defaultdict(list)
    )
    """(member, province) → (day, change of club loans owed, change of bank records owed)."""

    def add(self, province: str, day: date, figure: int, change: int) -> None:
        if change:
            for area in (province, NATION):
                self._row(area, day)[figure] += change

    def _row(self, area: str, day: date) -> list[int]:
        row = self.by_area_day.get((area, day))
        if row is None:
            row = self.by_area_day[area, day] = [0] * len(FIGURES)
        return row

    def add_club_loan(self, loan: ClubLoan) -> None:
        before = (0, 0, 0, 0, 0)
        for day in _club_loan_days(loan):
            now = club_loan_figures(loan, day)
            figures = zip((OUTSTANDING, PAR30, DUE, REPAID, WRITTEN_OFF), now, before, strict=True)
            for figure, value, was in figures:
                self.add(loan.province_code, day, figure, value - was)
            owed = (now[0] > 0) - (before[0] > 0)
            if owed:
                self.add(loan.province_code, day, LOANS, owed)
                self.owing[loan.member_id, loan.province_code].append((day, owed, 0))
            before = now

    def add_bank_record(self, record: BankRecord) -> None:
        before: tuple[int, int] | None = None
        for day in _bank_record_days(record):
            now = bank_record_figures(record, day)
            outstanding, overdue = now or (0, 0)
            was_outstanding, was_overdue = before or (0, 0)
            self.add(record.province_code, day, BANK_PRINCIPAL, outstanding - was_outstanding)
            self.add(record.province_code, day, BANK_OVERDUE, overdue - was_overdue)
            owed = (now is not None) - (before is not None)
            if owed:
                self.add(record.province_code, day, BANK_LOANS, owed)
                self.owing[record.member_id, record.province_code].append((day, 0, owed))
            before = now

    def count_members(self) -> None:
        """Borrowers, bank borrowers and members with either, each member once per area: a
        province counts the member's loans there, the nation all of them."""
        by_member: dict[int, dict[str, list[tuple[date, int, int]]]] = defaultdict(dict)
        for (member, province), steps in self.owing.items():
            if member is not None:  # not a member's: in no member figure, as in `queries.py`
                by_member[member][province] = steps
        for provinces in by_member.values():
            for province, steps in provinces.items():
                self._count_member(province, steps)
            self._count_member(NATION, [step for steps in provinces.values() for step in steps])

    def _count_member(self, area: str, steps: list[tuple[date, int, int]]) -> None:
        club = bank = 0
        for day, club_change, bank_change in _by_day(steps):
            was = (club > 0, bank > 0, club + bank > 0)
            club, bank = club + club_change, bank + bank_change
            now = (club > 0, bank > 0, club + bank > 0)
            for figure, after, before in zip(
                (BORROWERS, BANK_BORROWERS, EITHER), now, was, strict=True
            ):
                if after != before:
                    self._row(area, day)[figure] += 1 if after else -1


def _by_day(steps: Iterable[tuple[date, int, int]]) -> list[tuple[date, int, int]]:
    """The steps of each day summed: a loan repaid and another disbursed the same day leave
    the member a borrower throughout."""
    summed: dict[date, list[int]] = defaultdict(lambda: [0, 0])
    for day, club, bank in steps:
        summed[day][0] += club
        summed[day][1] += bank
    return [(day, club, bank) for day, (club, bank) in sorted(summed.items())]


def balances(changes: Changes) -> list[tuple[str, date, list[int]]]:
    """(area, day, figures from that day on) for each day some figure of the area changes."""
    rows: list[tuple[str, date, list[int]]] = []
    running: dict[str, list[int]] = {}
    for (area, day), change in sorted(changes.by_area_day.items()):
        if not any(change):
            continue
        total = running.setdefault(area, [0] * len(FIGURES))
        for index, value in enumerate(change):
            total[index] += value
        rows.append((area, day, list(total)))
    return rows
