"""How a shard's portfolio figures change from day to day: the figures `queries.py` computes
for one date, as changes on the days they change, from the loans' schedules and repayments and
the bank records' postings.

A club loan's figures change only on its disbursement, an instalment's due day, the day that
instalment becomes more than `PAR_DAYS` days late, a repayment and its write-off; a bank
record's on its disbursement and on the dates its postings are as of. Between those days every
figure holds, so the figures of any date are the sum of the changes up to it.
"""

from collections import defaultdict
from collections.abc import Iterable, Iterator
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


def club_loan_figures(loan: ClubLoan) -> Iterator[tuple[date, tuple[int, int, int, int, int]]]:
    """(day, (outstanding, PAR30, due, repaid, written off)) on each day the loan's figures
    may change, as `queries.club_loan_rows` computes them for one date: the newest instalment
    due by the day and by 31 days before, and the newest repayment by the day, found by
    walking the schedule and the repayments along the days (their totals only grow)."""
    instalments, repayments = loan.instalments, loan.repayments
    due_at = late_at = paid_at = 0
    none = (loan.disbursed_on, 0, 0)
    for day in _club_loan_days(loan):
        while due_at < len(instalments) and instalments[due_at][0] <= day:
            due_at += 1
        while late_at < len(instalments) and instalments[late_at][0] <= day - LATE:
            late_at += 1
        while paid_at < len(repayments) and repayments[paid_at][0] <= day:
            paid_at += 1
        _, due_principal, due_interest = instalments[due_at - 1] if due_at else none
        _, late_principal, late_interest = instalments[late_at - 1] if late_at else none
        _, paid_principal, paid_interest = repayments[paid_at - 1] if paid_at else none
        written_off = loan.written_off_on is not None and loan.written_off_on <= day
        outstanding = 0 if written_off else loan.principal - paid_principal
        late = paid_principal < late_principal or paid_interest < late_interest
        due = due_principal + due_interest
        yield (
            day,
            (
                outstanding,
                outstanding if late else 0,
                due,
                min(paid_principal + paid_interest, due),
                loan.principal - paid_principal if written_off else 0,
            ),
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
    """The changes of one shard's figures, by area and day. Loans and records change their
    province's rows; the nation's sums are added up from them in `balances`, and the members
    are counted for both in `count_members`."""

    by_area_day: dict[tuple[str, date], list[int]] = field(default_factory=dict)
    owing: dict[tuple[int | None, str], list[tuple[date, int, int]]] = field(
        default_factory=lambda: defaultdict(list)
    )
    """(member, province) → (day, change of club loans owed, change of bank records owed)."""

    def row_of(self, area: str, day: date) -> list[int]:
        row = self.by_area_day.get((area, day))
        if row is None:
            row = self.by_area_day[area, day] = [0] * len(FIGURES)
        return row

    def add_club_loan(self, loan: ClubLoan) -> None:
        before = (0, 0, 0, 0, 0)
        owing = self.owing[loan.member_id, loan.province_code]
        for day, now in club_loan_figures(loan):
            if now == before:
                continue
            row = self.row_of(loan.province_code, day)
            row[OUTSTANDING] += now[0] - before[0]
            row[PAR30] += now[1] - before[1]
            row[DUE] += now[2] - before[2]
            row[REPAID] += now[3] - before[3]
            row[WRITTEN_OFF] += now[4] - before[4]
            owed = (now[0] > 0) - (before[0] > 0)
            if owed:
                row[LOANS] += owed
                owing.append((day, owed, 0))
            before = now

    def add_bank_record(self, record: BankRecord) -> None:
        before: tuple[int, int] | None = None
        for day in _bank_record_days(record):
            now = bank_record_figures(record, day)
            if now == before:
                continue
            outstanding, overdue = now or (0, 0)
            was_outstanding, was_overdue = before or (0, 0)
            row = self.row_of(record.province_code, day)
            row[BANK_PRINCIPAL] += outstanding - was_outstanding
            row[BANK_OVERDUE] += overdue - was_overdue
            owed = (now is not None) - (before is not None)
            if owed:
                row[BANK_LOANS] += owed
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
                    self.row_of(area, day)[figure] += 1 if after else -1


def _by_day(steps: Iterable[tuple[date, int, int]]) -> list[tuple[date, int, int]]:
    """The steps of each day summed: a loan repaid and another disbursed the same day leave
    the member a borrower throughout."""
    summed: dict[date, list[int]] = defaultdict(lambda: [0, 0])
    for day, club, bank in steps:
        summed[day][0] += club
        summed[day][1] += bank
    return [(day, club, bank) for day, (club, bank) in sorted(summed.items())]


MEMBER_FIGURES = (BORROWERS, BANK_BORROWERS, EITHER)
"""Counted per area by `Changes.count_members`; every other figure of the nation is the sum
of its provinces'."""
SUMMED = [index for index in range(len(FIGURES)) if index not in MEMBER_FIGURES]


def balances(changes: Changes) -> list[tuple[str, date, list[int]]]:
    """(area, day, figures from that day on) for each day some figure of the area changes."""
    for (area, day), change in list(changes.by_area_day.items()):
        if area != NATION:
            nation = changes.row_of(NATION, day)
            for index in SUMMED:
                nation[index] += change[index]
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
