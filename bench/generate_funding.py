"""Funders, province plans and money flows in the funding database, for the registry's clubs.

The registry's clubs (id, province, commune, founding date, status) are read from the clubs
database; everything is then drawn in Python from one seeded `random.Random` and loaded with
COPY. The same seed gives the same data (the current year's flows stop the day before the run,
so a run on another day differs there):

- 40 funders of every type, each with the source column its type feeds (`SOURCE_OF`): the
  central budget, the national Elderly Care Fund and the members' contributions everywhere;
  provincial budgets, commune budgets, provincial funds, enterprises, individuals,
  international donors and NGOs in a few provinces each;
- one approved plan per province and year, 2021–2026 (programme 1336 to 2025, 1648 after),
  each with the six budget lines of a province plan; about one in seven revised mid-year (a
  second approved version, whose lines keep their numbers);
- the allocations: each club gets money from some of its province's funders (a funder keeps
  funding the clubs it took on), in years after the club was founded, from the seed-capital
  line (income-generation fund) or the club-establishment line (activity fund); almost all
  `recorded` by the loans service, the few sent to clubs dissolved since then `failed`;
- receipts covering, per funder and plan line, what was allocated (plus the other lines'
  money), and the commitments they were received against;
- planned amounts per line and source around what was committed, so execution is realistic.

Flows dated before a revision point at the first version's lines, later ones at the second's,
as the service records them. The funding database must be migrated and empty.
"""

import random
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import Any

import psycopg

from bench._common import GenerationStats, ProgressBar, libpq_url, one_row
from common import clock
from services.funding.rules import MILLION, SOURCE_OF, Activity, FunderType

Row = tuple[Any, ...]
"""A row to COPY, in its table's column order."""
YEARS = range(2021, 2027)
VIETNAM = timezone(timedelta(hours=7))
CREATED_BY = "bench"
REVISED_SHARE = 0.15
REVISED_ON_MONTH = 6
ESTABLISHMENT_SHARE = 0.15
"""Allocations to a club's activity fund (club-establishment line); the rest is seed capital."""
SEED_LINE, ESTABLISHMENT_LINE = 3, 2
LINES: tuple[tuple[int, Activity, str], ...] = (
    (1, Activity.TRAINING, "Tập huấn thành lập và quản lý CLB"),
    (ESTABLISHMENT_LINE, Activity.CLUB_ESTABLISHMENT, "Ra mắt CLB, hỗ trợ quỹ hoạt động"),
    (SEED_LINE, Activity.SEED_CAPITAL, "Hỗ trợ vốn ban đầu quỹ tạo thu nhập"),
    (4, Activity.MONITORING, "Giám sát, hỗ trợ kỹ thuật"),
    (5, Activity.REVIEW_CONFERENCE, "Hội nghị sơ kết, tổng kết"),
    (6, Activity.COMMUNICATION, "Truyền thông nhân rộng mô hình"),
)
OVERHEAD_LINES = {1: (20, 80), 4: (10, 30), 5: (15, 45), 6: (5, 25)}
"""Lines paid by the budget, not allocated to clubs: a range in million đồng per year."""
LOADED_TABLES = (
    "funders",
    "plan_series",
    "plans",
    "plan_lines",
    "plan_line_amounts",
    "commitments",
    "receipts",
    "allocations",
)


@dataclass(frozen=True)
class FunderSpec:
    """A funder: everywhere (`provinces` None) or in that many provinces; a `{province}` in
    the name makes it a province's own funder. `reach` is the share of a province's clubs it
    funds, `weight` how often it gives to them again."""

    name: str
    funder_type: FunderType
    provinces: int | None
    reach: float
    weight: float = 1.0
    country: str | None = None


def _provincial(
    name: str, funder_type: FunderType, count: int, reach: float, weight: float
) -> list[FunderSpec]:
    """`count` funders of one kind, each of a different province."""
    return [FunderSpec(name, funder_type, 1, reach, weight)] * count


FUNDERS: tuple[FunderSpec, ...] = (
    FunderSpec("Ngân sách trung ương", FunderType.CENTRAL_BUDGET, None, 0.12),
    FunderSpec(
        "Quỹ Chăm sóc và phát huy vai trò người cao tuổi Việt Nam",
        FunderType.ELDERLY_CARE_FUND,
        None,
        0.10,
    ),
    FunderSpec("Hội viên các CLB liên thế hệ", FunderType.MEMBER_CONTRIBUTIONS, None, 0.3),
    *_provincial("Ngân sách tỉnh {province}", FunderType.PROVINCIAL_BUDGET, 8, 0.6, 2.0),
    *_provincial("Ngân sách cấp xã tỉnh {province}", FunderType.COMMUNE_BUDGET, 4, 0.3, 1.0),
    *_provincial(
        "Quỹ Chăm sóc và phát huy vai trò người cao tuổi tỉnh {province}",
        FunderType.ELDERLY_CARE_FUND,
        4,
        0.45,
        1.5,
    ),
    *_provincial("Quỹ Vì người nghèo tỉnh {province}", FunderType.FUND_FOR_THE_POOR, 3, 0.25, 1.0),
    FunderSpec("Công ty Cổ phần Apatit Việt Nam", FunderType.ENTERPRISE, 2, 0.2),
    FunderSpec("Tập đoàn Công nghiệp - Viễn thông Quân đội", FunderType.ENTERPRISE, 6, 0.1),
    FunderSpec("Ngân hàng TMCP Ngoại thương Việt Nam", FunderType.ENTERPRISE, 5, 0.1),
    FunderSpec("Tổng công ty Điện lực miền Bắc", FunderType.ENTERPRISE, 4, 0.08),
    FunderSpec("Công ty TNHH Samsung Electronics Việt Nam", FunderType.ENTERPRISE, 3, 0.12),
    FunderSpec("Tập đoàn Bảo Việt", FunderType.ENTERPRISE, 4, 0.08),
    FunderSpec("Nhóm nhà hảo tâm Thành phố Hồ Chí Minh", FunderType.INDIVIDUAL, 2, 0.05),
    FunderSpec("Gia đình ông Nguyễn Văn An (kiều bào Úc)", FunderType.INDIVIDUAL, 1, 0.03),
    FunderSpec(
        "Cơ quan Hợp tác Quốc tế Hàn Quốc (KOICA)",
        FunderType.INTERNATIONAL_DONOR,
        6,
        0.35,
        1.5,
        "Hàn Quốc",
    ),
    FunderSpec(
        "Quỹ Giảm nghèo Nhật Bản (ADB)", FunderType.INTERNATIONAL_DONOR, 5, 0.3, 1.0, "Nhật Bản"
    ),
    FunderSpec("Chính phủ Australia (DFAT)", FunderType.INTERNATIONAL_DONOR, 4, 0.25, 1.0, "Úc"),
    FunderSpec("Liên minh châu Âu", FunderType.INTERNATIONAL_DONOR, 8, 0.2, 1.0, "Bỉ"),
    FunderSpec("Quỹ Dân số Liên Hợp Quốc (UNFPA)", FunderType.INTERNATIONAL_DONOR, 5, 0.15),
    FunderSpec("HelpAge International in Vietnam", FunderType.NGO, 14, 0.45, 1.5, "Việt Nam"),
    FunderSpec("HelpAge Korea", FunderType.NGO, 6, 0.3, 1.0, "Hàn Quốc"),
    FunderSpec("Age International", FunderType.NGO, 5, 0.25, 1.0, "Vương quốc Anh"),
    FunderSpec("Malteser International", FunderType.NGO, 4, 0.2, 1.0, "Đức"),
    FunderSpec("CARE International in Vietnam", FunderType.NGO, 5, 0.15, 1.0, "Việt Nam"),
)


@dataclass(frozen=True)
class Club:
    id: int
    province_code: str
    commune_code: str
    founded_on: date
    status: str


@dataclass
class Series:
    """One province's plan for one year: one or two approved versions and their line ids."""

    id: int
    province_code: str
    year: int
    programme_code: str
    plan_ids: list[int]
    line_ids: list[dict[int, int]]
    """Per version, line number → plan line id."""
    revised_on: date | None

    def version_on(self, day: date) -> int:
        """The index of the version in force that day (money is recorded against it)."""
        return 1 if self.revised_on is not None and day >= self.revised_on else 0


def _timestamp(day: date, minutes: int = 0) -> str:
    moment = datetime(day.year, day.month, day.day, 8, 30, tzinfo=VIETNAM)
    return (moment + timedelta(minutes=minutes)).isoformat()


def _day(rng: random.Random, first: date, last: date) -> date:
    return first + timedelta(days=rng.randrange((last - first).days + 1))


def _copy(
    conn: psycopg.Connection,
    table: str,
    columns: Sequence[str],
    rows: Iterable[Row],
    bar: ProgressBar,
) -> int:
    count = 0
    with conn.cursor().copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)
            count += 1
            if count % 10_000 == 0:
                bar.update(bar.done + 10_000, table)
    return count


def read_clubs(clubs_url: str) -> list[Club]:
    """The registry's clubs that can hold money: founded, with a decision date."""
    with psycopg.connect(libpq_url(clubs_url), connect_timeout=5) as conn:
        rows = conn.execute(
            "SELECT id, province_code, commune_code, founding_decision_date, status FROM clubs"
            " WHERE status <> 'planned' AND founding_decision_date IS NOT NULL ORDER BY id"
        ).fetchall()
    return [Club(*row) for row in rows]


class Generator:
    """Draws every row from one seeded random source, in a fixed order."""

    def __init__(self, clubs: list[Club], province_names: dict[str, str], seed: int, today: date):
        self.rng = random.Random(seed)
        self.clubs = clubs
        self.today = today
        self.provinces = sorted({club.province_code for club in clubs})
        self.province_names = province_names
        self.sources: list[str] = []
        """The source column of each funder, by funder id - 1."""
        self.funders_in: dict[str, list[tuple[int, FunderSpec]]] = defaultdict(list)
        self.series: dict[tuple[str, int], Series] = {}

    # --- funders and plans -----------------------------------------------------------------

    def make_funders(self) -> list[Row]:
        rows = []
        # Province-bound funders of one kind go to different provinces.
        taken: dict[FunderType, list[str]] = defaultdict(list)
        for funder_id, spec in enumerate(FUNDERS, start=1):
            if spec.provinces is None:
                provinces = list(self.provinces)
            elif "{province}" in spec.name:
                free = [p for p in self.provinces if p not in taken[spec.funder_type]]
                provinces = [self.rng.choice(free)]
                taken[spec.funder_type].append(provinces[0])
            else:
                provinces = sorted(self.rng.sample(self.provinces, spec.provinces))
            own_province = provinces[0] if "{province}" in spec.name else None
            name = spec.name.format(province=self.province_names.get(own_province or "", ""))
            for province in provinces:
                self.funders_in[province].append((funder_id, spec))
            source = SOURCE_OF[spec.funder_type].value
            self.sources.append(source)
            rows.append(
                (
                    funder_id,
                    name,
                    spec.funder_type.value,
                    source,
                    own_province,
                    spec.country,
                    f"Tài trợ tại {len(provinces)} tỉnh" if spec.provinces else "Toàn quốc",
                    CREATED_BY,
                    _timestamp(date(2020, 12, 1), funder_id),
                    1,
                )
            )
        return rows

    def make_plans(self) -> tuple[list[Row], list[Row], list[Row]]:
        series_rows, plan_rows, line_rows = [], [], []
        plan_id = line_id = 0
        founded: defaultdict[tuple[str, int], int] = defaultdict(int)
        for club in self.clubs:
            founded[(club.province_code, club.founded_on.year)] += 1
        for series_id, (province, year) in enumerate(
            ((p, y) for p in self.provinces for y in YEARS), start=1
        ):
            programme = "1336" if year <= 2025 else "1648"
            revised = (
                self.rng.random() < REVISED_SHARE and date(year, REVISED_ON_MONTH, 1) < self.today
            )
            revised_on = (
                _day(self.rng, date(year, REVISED_ON_MONTH, 1), date(year, REVISED_ON_MONTH, 30))
                if revised
                else None
            )
            series_rows.append(
                (series_id, province, programme, year, year, _timestamp(date(year - 1, 11, 20)))
            )
            series = Series(series_id, province, year, programme, [], [], revised_on)
            approvals = [date(year, 1, 5)] + ([revised_on] if revised_on else [])
            for version, approved_on in enumerate(approvals, start=1):
                plan_id += 1
                to_found = founded[(province, year)]
                plan_rows.append(
                    (
                        plan_id,
                        series_id,
                        version,
                        "approved",
                        f"Kế hoạch nhân rộng mô hình CLB liên thế hệ tự giúp nhau tỉnh "
                        f"{self.province_names.get(province, province)} năm {year}",
                        to_found,
                        sum(n for (p, y), n in founded.items() if p == province and y < year),
                        to_found * 60,
                        to_found * 40,
                        "Điều chỉnh giữa năm" if version == 2 else "",
                        CREATED_BY,
                        _timestamp(approved_on - timedelta(days=20)),
                        _timestamp(approved_on),
                        CREATED_BY,
                        _timestamp(approved_on),
                    )
                )
                ids = {}
                for number, activity, content in LINES:
                    line_id += 1
                    ids[number] = line_id
                    line_rows.append((line_id, plan_id, number, activity.value, content))
                series.plan_ids.append(plan_id)
                series.line_ids.append(ids)
            self.series[(province, year)] = series
        return series_rows, plan_rows, line_rows

    # --- allocations ---------------------------------------------------------------------------

    def _club_funders(self, club: Club) -> list[tuple[int, float]]:
        """The funders that took this club on, with how often they give to it."""
        chosen = [
            (funder_id, spec.weight)
            for funder_id, spec in self.funders_in[club.province_code]
            if self.rng.random() < spec.reach
        ]
        if not chosen:
            funder_id, spec = self.rng.choice(self.funders_in[club.province_code])
            chosen = [(funder_id, spec.weight)]
        return chosen

    def _allocation_day(self, club: Club) -> date | None:
        """A day from April (after the year's receipts) of a year since the club's founding."""
        years = [y for y in YEARS if y >= club.founded_on.year]
        if not years:
            return None
        year = self.rng.choice(years)
        first = max(date(year, 4, 1), club.founded_on)
        last = min(date(year, 12, 20), self.today - timedelta(days=1))
        return _day(self.rng, first, last) if first <= last else None

    def allocations(self, count: int, bar: ProgressBar) -> list[Row]:
        pairs: list[tuple[Club, int]] = []
        weights: list[float] = []
        for club in self.clubs:
            for funder_id, weight in self._club_funders(club):
                pairs.append((club, funder_id))
                weights.append(weight)
        # Every pair gives at least once (while there are allocations to give), then the
        # remaining allocations go to pairs by weight: a funder keeps giving to its clubs.
        order = self.rng.sample(range(len(pairs)), len(pairs))[:count]
        order += self.rng.choices(range(len(pairs)), weights=weights, k=count - len(order))
        rows: list[Row] = []
        tries = 0
        while len(rows) < count:
            club, funder_id = pairs[order[tries % len(order)]]
            tries += 1
            day = self._allocation_day(club)
            if day is None:
                continue
            rows.append(self._allocation(len(rows) + 1, club, funder_id, day))
            if len(rows) % 5000 == 0:
                bar.update(len(rows))
        return rows

    def _allocation(self, allocation_id: int, club: Club, funder_id: int, day: date) -> Row:
        series = self.series[(club.province_code, day.year)]
        version = series.version_on(day)
        seed = self.rng.random() >= ESTABLISHMENT_SHARE
        number = SEED_LINE if seed else ESTABLISHMENT_LINE
        amount = (
            self.rng.randint(5, 40) * MILLION if seed else self.rng.randint(4, 20) * MILLION // 2
        )
        failed = club.status == "dissolved" and day.year == max(YEARS)
        recorded = _timestamp(day, 2 + self.rng.randrange(30))
        return (
            allocation_id,
            funder_id,
            series.plan_ids[version],
            series.line_ids[version][number],
            series.id,
            number,
            self.sources[funder_id - 1],
            series.programme_code,
            club.province_code,
            club.commune_code,
            club.id,
            "income_generation" if seed else "activity",
            amount,
            day,
            f"QĐ cấp vốn {day.year}/{series.province_code}-{allocation_id}",
            "failed" if failed else "recorded",
            "the loans service answered 409: The club is dissolved; its funds take no new money."
            if failed
            else None,
            1,
            None,
            # The loans service's fund and ledger entry: there is no loan book in this bench,
            # so the ids are only plausible (two funds per club).
            None if failed else club.id * 2 - (1 if seed else 0),
            None if failed else 3_000_000 + allocation_id,
            None if failed else recorded,
            CREATED_BY,
            _timestamp(day),
        )

    # --- money received, pledged and planned ---------------------------------------------------

    def _budget_funder(self, province: str) -> int:
        """Who pays a province's own lines: its provincial budget, else the central budget."""
        for funder_id, spec in self.funders_in[province]:
            if spec.funder_type is FunderType.PROVINCIAL_BUDGET:
                return funder_id
        return next(
            funder_id
            for funder_id, spec in self.funders_in[province]
            if spec.funder_type is FunderType.CENTRAL_BUDGET
        )

    def flows(self, allocations: list[Row]) -> tuple[list[Row], list[Row], list[Row]]:
        """Commitments, receipts (covering each funder's allocations per line) and the
        planned amounts of every (plan version, line, source)."""
        # What each funder must have received per (series, line): its allocations, and the
        # budget's share of the lines that pay for training, monitoring and the like.
        needed: dict[tuple[int, int, int], int] = defaultdict(int)
        for row in allocations:
            needed[(row[1], row[4], row[5])] += row[12]
        by_series = {series.id: series for series in self.series.values()}
        for series in by_series.values():
            budget = self._budget_funder(series.province_code)
            for number, (low, high) in OVERHEAD_LINES.items():
                if date(series.year, 1, 15) < self.today:
                    needed[(budget, series.id, number)] += self.rng.randint(low, high) * MILLION
        commitments: list[Row] = []
        receipts: list[Row] = []
        committed: dict[tuple[int, int, str], int] = defaultdict(int)
        for (funder_id, series_id, number), amount in sorted(needed.items()):
            series = by_series[series_id]
            source = self.sources[funder_id - 1]
            # What was received covers what was allocated, with a margin still unallocated.
            received = -(-amount * self.rng.randint(100, 115) // 100 // MILLION) * MILLION
            pledged = -(-received * self.rng.randint(100, 110) // 100 // MILLION) * MILLION
            committed_on = _day(self.rng, date(series.year, 1, 6), date(series.year, 1, 31))
            commitment_id = len(commitments) + 1
            # The plan line the commitment and its receipts are booked against, and the source.
            line = (
                series.plan_ids[0],
                series.line_ids[0][number],
                series_id,
                number,
                source,
                series.province_code,
            )
            commitments.append(
                (
                    commitment_id,
                    funder_id,
                    *line,
                    None,
                    pledged,
                    committed_on,
                    f"Cam kết tài trợ {series.year}-{commitment_id}",
                    CREATED_BY,
                    _timestamp(committed_on),
                )
            )
            committed[(series_id, number, source)] += pledged
            parts = self.rng.randint(1, 3)
            for part in range(parts):
                share = received // parts // MILLION * MILLION
                amount_now = share if part < parts - 1 else received - share * (parts - 1)
                received_on = _day(self.rng, date(series.year, 2, 1), date(series.year, 3, 31))
                receipts.append(
                    (
                        len(receipts) + 1,
                        funder_id,
                        *line,
                        commitment_id,
                        amount_now,
                        received_on,
                        f"Giấy báo có {series.year}-{commitment_id}/{part + 1}",
                        CREATED_BY,
                        _timestamp(received_on),
                    )
                )
        amounts: list[Row] = []
        for (series_id, number, source), pledged in sorted(committed.items()):
            series = by_series[series_id]
            planned = pledged * self.rng.randint(95, 120) // 100 // MILLION * MILLION
            for version, lines in enumerate(series.line_ids):
                # A revision raises the plan to what was pledged by mid-year.
                amount = planned if version == len(series.line_ids) - 1 else planned * 9 // 10
                amounts.append((len(amounts) + 1, lines[number], source, amount))
        return commitments, receipts, amounts


def _columns(names: str) -> tuple[str, ...]:
    return tuple(names.split())


FUNDER_COLUMNS = _columns(
    "id name funder_type source province_code country notes created_by created_at version"
)
SERIES_COLUMNS = _columns("id province_code programme_code start_year end_year created_at")
PLAN_COLUMNS = _columns(
    "id series_id version status title clubs_to_found clubs_to_maintain members older_members"
    " notes created_by created_at updated_at approved_by approved_at"
)
LINE_COLUMNS = _columns("id plan_id number activity content")
AMOUNT_COLUMNS = _columns("id line_id source amount")
COMMITMENT_COLUMNS = _columns(
    "id funder_id plan_id plan_line_id series_id line_number source province_code club_id"
    " amount committed_on reference created_by created_at"
)
RECEIPT_COLUMNS = _columns(
    "id funder_id plan_id plan_line_id series_id line_number source province_code commitment_id"
    " amount received_on reference created_by created_at"
)
ALLOCATION_COLUMNS = _columns(
    "id funder_id plan_id plan_line_id series_id line_number source programme_code province_code"
    " commune_code club_id fund_kind amount allocated_on reference status failure_reason"
    " attempts next_attempt_at fund_id ledger_entry_id recorded_at created_by created_at"
)


def generate(
    funding_url: str,
    clubs_url: str,
    allocations: int,
    seed: int,
    log: Callable[[str], None],
    today: date | None = None,
) -> GenerationStats:
    """Fills an empty, migrated funding database for the clubs of the registry in `clubs_url`."""
    from common import places

    stats = GenerationStats()
    started = time.monotonic()
    clubs = read_clubs(clubs_url)
    if not clubs:
        raise RuntimeError("the registry has no founded clubs")
    log(f"{len(clubs):,} founded clubs read from the registry")
    names = {code: unit.name for code, unit in places.provinces().items()}
    generator = Generator(clubs, names, seed, today or clock.today())
    funders = generator.make_funders()
    series, plans, lines = generator.make_plans()
    bar = ProgressBar("drawing allocations", allocations, "allocations")
    allocation_rows = generator.allocations(allocations, bar)
    bar.close()
    commitments, receipts, amounts = generator.flows(allocation_rows)
    stats.seconds["draw"] = time.monotonic() - started
    tables: list[tuple[str, Sequence[str], list[Row]]] = [
        ("funders", FUNDER_COLUMNS, funders),
        ("plan_series", SERIES_COLUMNS, series),
        ("plans", PLAN_COLUMNS, plans),
        ("plan_lines", LINE_COLUMNS, lines),
        ("plan_line_amounts", AMOUNT_COLUMNS, amounts),
        ("commitments", COMMITMENT_COLUMNS, commitments),
        ("receipts", RECEIPT_COLUMNS, receipts),
        ("allocations", ALLOCATION_COLUMNS, allocation_rows),
    ]
    step = time.monotonic()
    with psycopg.connect(libpq_url(funding_url), connect_timeout=5) as conn:
        existing = one_row(conn.execute("SELECT count(*) FROM funders"))[0]
        if existing:
            raise RuntimeError(f"the funding database already has {existing} funders")
        bar = ProgressBar("copying", sum(len(rows) for _, _, rows in tables), "rows")
        done = 0
        for table, columns, rows in tables:
            stats.rows[table] = _copy(conn, table, columns, rows, bar)
            done += len(rows)
            bar.update(done, table)
        bar.close()
        # Ids were given here; the service's next inserts must not collide with them.
        for table in LOADED_TABLES:
            conn.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'),"
                f" (SELECT coalesce(max(id), 0) + 1 FROM {table}), false)"
            )
        conn.commit()
        stats.seconds["copy"] = time.monotonic() - step
        step = time.monotonic()
        conn.autocommit = True
        for table in LOADED_TABLES:
            conn.execute(f"VACUUM (ANALYZE) {table}")
        stats.seconds["analyze"] = time.monotonic() - step
    stats.seconds["total"] = time.monotonic() - started
    return stats
