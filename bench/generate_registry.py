"""A national registry of clubs and members, generated into a migrated clubs database.

    python bench/generate_registry.py --database-url postgresql://postgres@127.0.0.1/DB \\
        [--clubs 25000] [--members-per-club 60] [--seed 1336] [--as-of YYYY-MM-DD] [--replace]

Writes with PostgreSQL `COPY` (psycopg 3), in one transaction: the members' secondary indexes
and foreign key are dropped for the load and rebuilt from their own definitions afterwards, then
the tables are vacuumed and analysed. A progress bar goes to stderr.

The data is deterministic for a seed and an `--as-of` date (today by default, the date the
composition is judged on) and shaped like the programme's registry:
- clubs in all 34 provinces and real communes (more in rural communes), founded 2016–2025,
  94 % active, 3 % suspended, 2 % dissolved (all members left), 1 % planned (no members yet);
  clubs of Lào Cai (15) founded from 2018 use the `lao-cai-2018` profile, the others the default;
- per club 50–70 active members (the mean follows `--members-per-club`) plus a few who left;
  Vietnamese names; women, older members and poor/near-poor/disadvantaged households at about
  65 % each, drawn inside the club's quota profile, except for `--failing-share` (15 %) of the
  active clubs, which break one rule visibly (too few women, too few or too many older people,
  too few priority households, too few or too many members);
- unique 12-digit national IDs (province of birth, century and sex, year of birth), a board of
  3, 5 or 7 with one chair, home-care and income-generation volunteers.
"""

import argparse
import random
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta

import psycopg
from psycopg import sql
from psycopg.copy import QueuedLibpqWriter

from bench._common import ProgressBar, libpq_url, one_row
from common import clock, places, sealing
from common.sealing import keyring
from common.text import fold
from services.clubs.models import NATIONAL_ID, PHONE
from services.clubs.settings import ClubsSettings


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


DEFAULT_CLUBS = 25_000
DEFAULT_MEMBERS = 60
DEFAULT_SEED = 1336
DEFAULT_FAILING_SHARE = 0.15
FOUNDED_FROM = date(2016, 1, 1)
FOUNDED_TO = date(2025, 12, 31)
LAO_CAI = "15"
LAO_CAI_PROFILE = "lao-cai-2018"
CHUNK_CLUBS = 250
"""Clubs per COPY write (about 15,000 member rows)."""

STATUSES = (("active", 94), ("suspended", 3), ("dissolved", 2), ("planned", 1))
COMMUNE_WEIGHT = {"xã": 1.0, "phường": 0.6, "đặc khu": 0.5}
SOUTH_FROM = "75"
"""Province codes from here on are in the south: villages are "ấp", wards "khu phố"."""

# Natural ranges of the shares (per cent), narrowed to the club's profile when it is compliant.
NATURAL = {"women": (58, 72), "older": (58, 75), "priority": (55, 75)}

FAMILY_NAMES = (
    ("Nguyễn", 380),
    ("Trần", 110),
    ("Lê", 95),
    ("Phạm", 70),
    ("Hoàng", 50),
    ("Huỳnh", 20),
    ("Vũ", 39),
    ("Võ", 20),
    ("Phan", 45),
    ("Trương", 13),
    ("Bùi", 20),
    ("Đặng", 21),
    ("Đỗ", 14),
    ("Ngô", 13),
    ("Hồ", 13),
    ("Dương", 10),
    ("Đinh", 10),
    ("Lý", 5),
    ("Lương", 5),
    ("Hà", 6),
    ("Lò", 4),
    ("Nông", 4),
    ("Giàng", 3),
    ("Vàng", 3),
    ("Sùng", 2),
    ("Thào", 2),
    ("Mai", 4),
    ("Cao", 4),
    ("Tạ", 3),
    ("Lâm", 4),
)
WOMEN_MIDDLE = (("Thị", 70), ("Ngọc", 6), ("Thu", 5), ("Kim", 5), ("Thanh", 5), ("Minh", 3))
MEN_MIDDLE = (("Văn", 60), ("Đức", 10), ("Minh", 8), ("Quang", 7), ("Xuân", 6), ("Hữu", 6))
WOMEN_GIVEN = _words(
    "Hoa Lan Mai Hương Thu Hằng Nga Dung Tâm Xuân Chi Vân Yến Thảo Liên Phượng Hạnh Huệ Cúc "
    "Đào Loan Nhung Oanh Quyên Sen Tuyết Thơm Hồng Hiền Lý Bích Duyên Gấm Hà Hậu Khuyên Lụa "
    "My Nguyệt Phương Thủy Trang Uyên Vui Nhàn Ngân Tươi Mơ Mận"
)
MEN_GIVEN = _words(
    "Hùng Minh Sơn Tuấn Dũng Chiến Thắng Bình Quang Hải Long Phong Trung Cường Đức Hòa Khang "
    "Lâm Nam Phúc Quý Tài Thành Thịnh Toàn Tùng Vinh Việt An Bảo Công Định Hiếu Hưng Kiên Lộc "
    "Mạnh Nghĩa Phú Sáng Tiến Tuân Vượng Hào Khải Chung"
)
PLACE_WORDS = _words(
    "Đông Tây Nam Bắc Thượng Hạ Trung An Phú Thịnh Hòa Bình Tân Lộc Phúc Thọ Mỹ Hưng Long "
    "Thành Quý Xuân Đồng Yên Khê Sơn Hồ Giang Lâm Thủy Cát Tiến Lợi Hòa Vĩnh Đức Phong"
)
MOUNTAIN_WORDS = _words("Nà Bản Pác Khuổi Cốc Phiêng Nặm Pù Huổi Co Tà Sín Lao")
MOUNTAIN_PROVINCES = frozenset({"04", "08", "11", "12", "14", "15", "20"})
PHONE_PREFIXES = _words(
    "32 33 34 35 36 37 38 39 86 96 97 98 81 82 83 84 85 88 91 94 70 76 77 78 79 89 90 93 56 58"
)
# The 63 pre-2025 province codes used as the place-of-birth part of national IDs.
BIRTH_PROVINCES = _words(
    "001 002 004 006 008 010 011 012 014 015 017 019 020 022 024 025 026 027 030 031 033 034 "
    "035 036 037 038 040 042 044 045 046 048 049 051 052 054 056 058 060 062 064 066 067 068 "
    "070 072 074 075 077 079 080 082 083 084 086 087 089 091 092 093 094 095 096"
)
BOARDS = {
    3: ("chair", "vice_chair", "accountant"),
    5: ("chair", "vice_chair", "accountant", "treasurer", "group_leader"),
    7: ("chair", "vice_chair", "accountant", "treasurer", "group_leader", "group_leader",
        "group_leader"),
}  # fmt: skip
FAILURES = (
    ("women_low", 3),
    ("older_low", 2),
    ("older_high", 1),
    ("priority_low", 3),
    ("size_low", 2),
    ("size_high", 1),
)
HOUSEHOLDS = ("poor", "near_poor", "disadvantaged")

CLUB_COLUMNS = _words(
    "id code name name_folded province_code commune_code village founding_decision_number "
    "founding_decision_date programme_phase quota_profile_id status legacy_address version "
    "created_at updated_at"
)
MEMBER_COLUMNS = _words(
    "id club_id full_name gender birth_date birth_year birth_key household_status national_id "
    "national_id_blind_index phone joined_on left_on board_role home_care_volunteer "
    "income_generation_volunteer version created_at updated_at"
)
NULL = "\\N"


@dataclass(frozen=True)
class Profile:
    id: int
    code: str
    min_members: int
    max_members: int
    pct: dict[str, tuple[int | None, int | None]]
    older_age: int


@dataclass
class Stats:
    clubs: int = 0
    active_clubs: int = 0
    failing: int = 0
    members: int = 0
    active_members: int = 0
    women: int = 0
    older: int = 0
    priority: int = 0
    seconds: dict[str, float] = field(default_factory=dict)

    def describe(self) -> str:
        active = max(self.active_members, 1)
        return (
            f"{self.clubs:,} clubs ({self.active_clubs:,} active, {self.failing:,} of "
            f"them made to fail a rule), {self.members:,} members ({self.active_members:,} "
            f"active: women {self.women * 100 / active:.1f} %, older "
            f"{self.older * 100 / active:.1f} %, priority households "
            f"{self.priority * 100 / active:.1f} %)"
        )


def _ceil_pct(pct: int, n: int) -> int:
    return -((-pct * n) // 100)


def _floor_pct(pct: int, n: int) -> int:
    return pct * n // 100


def _range(n: int, low: int | None, high: int | None, natural: tuple[int, int]) -> tuple[int, int]:
    """Counts out of n that keep a share inside [low, high] and, if possible, its natural range."""
    lo = _ceil_pct(low, n) if low is not None else 0
    hi = _floor_pct(high, n) if high is not None else n
    nat_lo, nat_hi = max(lo, _ceil_pct(natural[0], n)), min(hi, _floor_pct(natural[1], n))
    if nat_lo <= nat_hi:
        return nat_lo, nat_hi
    return lo, max(lo, hi)


def older_bounds(profile: Profile, n: int) -> tuple[int | None, int | None]:
    """The bounds on the count of older members, from the older and the younger rules."""
    omin, omax = profile.pct["older"]
    ymin, ymax = profile.pct["younger"]
    lows, highs = [], []
    if omin is not None:
        lows.append(_ceil_pct(omin, n))
    if ymax is not None:  # younger <= ymax  <=>  older >= n - floor(ymax * n)
        lows.append(n - _floor_pct(ymax, n))
    if omax is not None:
        highs.append(_floor_pct(omax, n))
    if ymin is not None:
        highs.append(n - _ceil_pct(ymin, n))
    return (max(lows) if lows else None, min(highs) if highs else None)


class Generator:
    """Rows of clubs and members as COPY text, from one seeded random stream."""

    def __init__(
        self,
        profiles: list[Profile],
        default_profile: Profile,
        clubs: int,
        members_per_club: int,
        seed: int,
        as_of: date,
        failing_share: float,
    ) -> None:
        self.rng = random.Random(seed)
        self.profiles = {p.code: p for p in profiles}
        self.default_profile = default_profile
        self.clubs = clubs
        self.members_per_club = members_per_club
        self.as_of = as_of
        self.failing_share = failing_share
        self.stats = Stats()
        self.used_ids: set[int] = set()
        self.member_id = 0
        self._dates: dict[int, str] = {}
        self._stamps: dict[int, str] = {}
        self._anniversary = {
            age: self._years_before(as_of, age).toordinal() for age in range(0, 111)
        }
        self.founded_to = min(FOUNDED_TO, as_of - timedelta(days=60))
        self._family = _cumulative(FAMILY_NAMES)
        self._women_middle = _cumulative(WOMEN_MIDDLE)
        self._men_middle = _cumulative(MEN_MIDDLE)

    @staticmethod
    def _years_before(day: date, years: int) -> date:
        try:
            return day.replace(year=day.year - years)
        except ValueError:  # 29 February
            return day.replace(year=day.year - years, day=28)

    # --- text helpers --------------------------------------------------------------------------

    def _date(self, ordinal: int) -> str:
        text = self._dates.get(ordinal)
        if text is None:
            text = self._dates[ordinal] = date.fromordinal(ordinal).isoformat()
        return text

    def _stamp(self, ordinal: int) -> str:
        """09:00 in Vietnam (UTC+7) of that day, in UTC."""
        text = self._stamps.get(ordinal)
        if text is None:
            text = self._stamps[ordinal] = f"{self._date(ordinal)} 02:00:00+00"
        return text

    def _pick(self, cumulative: tuple[list[str], list[int]]) -> str:
        names, weights = cumulative
        return self.rng.choices(names, cum_weights=weights)[0]

    # --- clubs ---------------------------------------------------------------------------------

    def club_communes(self) -> list[places.Unit]:
        """One commune per club: every province at least once, then weighted by commune type."""
        by_province = places.communes_by_province()
        communes = [c for code in sorted(by_province) for c in by_province[code]]
        weights = [COMMUNE_WEIGHT.get(c.division_type, 0.8) for c in communes]
        firsts = [self.rng.choice(by_province[code]) for code in sorted(by_province)]
        rest = self.rng.choices(communes, weights=weights, k=max(0, self.clubs - len(firsts)))
        chosen = (firsts + rest)[: self.clubs]
        # Registered province by province, commune by commune, as the offices would.
        chosen.sort(key=lambda c: (c.province_code, c.code))
        return chosen

    def village(self, commune: places.Unit) -> str:
        rng = self.rng
        south = commune.province_code >= SOUTH_FROM
        if commune.division_type == "phường":
            return f"{'Khu phố' if south else 'Tổ dân phố'} {rng.randint(1, 30)}"
        kind = "Ấp" if south else ("Bản" if commune.province_code in MOUNTAIN_PROVINCES else "Thôn")
        if rng.random() < 0.4:
            return f"{kind} {rng.randint(1, 20)}"
        words = MOUNTAIN_WORDS if commune.province_code in MOUNTAIN_PROVINCES else PLACE_WORDS
        return f"{kind} {rng.choice(words)} {rng.choice(PLACE_WORDS)}"

    def chunks(self) -> Iterator[tuple[int, str, str]]:
        """(clubs done, club rows, member rows) per chunk of clubs."""
        rng = self.rng
        club_communes = self.club_communes()
        span = self.founded_to.toordinal() - FOUNDED_FROM.toordinal()
        per_commune: dict[str, int] = {}
        status_names = [s for s, _ in STATUSES]
        status_weights = [w for _, w in STATUSES]
        club_lines: list[str] = []
        member_lines: list[str] = []
        for index, commune in enumerate(club_communes, start=1):
            number = per_commune[commune.code] = per_commune.get(commune.code, 0) + 1
            status = rng.choices(status_names, weights=status_weights)[0]
            village = self.village(commune)
            name = f"CLB Liên thế hệ tự giúp nhau {village}, {commune.name}"
            founded = FOUNDED_FROM.toordinal() + rng.randint(0, span)
            profile = self.default_profile
            if (
                commune.province_code == LAO_CAI
                and date.fromordinal(founded).year >= 2018
                and LAO_CAI_PROFILE in self.profiles
            ):
                profile = self.profiles[LAO_CAI_PROFILE]
            year = date.fromordinal(founded).year
            phase = "1533/QĐ-TTg" if year <= 2020 else "1336/QĐ-TTg"
            if status == "planned":
                created = self.as_of.toordinal() - rng.randint(1, 90)
                decision = decision_date = phase = NULL
            else:
                created = founded
                decision = f"{rng.randint(12, 480)}/QĐ-UBND"
                decision_date = self._date(founded)
            updated = created
            if status in ("active", "suspended", "dissolved") and rng.random() < 0.3:
                updated = rng.randint(created, self.as_of.toordinal() - 1)
            club_lines.append(
                "\t".join(
                    (
                        str(index),
                        f"CLB-{commune.code}-{number:02d}",
                        name,
                        fold(name),
                        commune.province_code,
                        commune.code,
                        village,
                        decision,
                        decision_date,
                        phase,
                        str(profile.id),
                        status,
                        NULL,
                        "1",
                        self._stamp(created),
                        self._stamp(updated),
                    )
                )
                + "\n"
            )
            self.stats.clubs += 1
            if status != "planned":
                self.members(member_lines, index, commune, profile, status, founded)
            if index % CHUNK_CLUBS == 0 or index == len(club_communes):
                # Members are registered over time, not club by club: their rows (and ids) are
                # interleaved, so that a club's members lie on many pages, as in real tables.
                rng.shuffle(member_lines)
                first = self.member_id + 1
                self.member_id += len(member_lines)
                rows = "".join(
                    f"{number}\t{line}" for number, line in enumerate(member_lines, start=first)
                )
                yield index, "".join(club_lines), rows
                club_lines.clear()
                member_lines.clear()

    # --- members -------------------------------------------------------------------------------

    def composition(self, profile: Profile, fail: str | None) -> tuple[int, int, int, int]:
        """(members, women, older, priority) for one club, inside its profile unless `fail`."""
        rng = self.rng
        mean = self.members_per_club
        n = rng.randint(max(1, mean - 9), max(1, mean + 7))
        if fail == "size_low":
            n = rng.randint(max(1, profile.min_members - 8), max(1, profile.min_members - 1))
        elif fail == "size_high":
            n = rng.randint(profile.max_members + 1, profile.max_members + 8)
        elif profile.min_members <= profile.max_members:
            n = min(max(n, profile.min_members), profile.max_members)
        women_lo, women_hi = _range(n, *profile.pct["women"], NATURAL["women"])
        low, high = older_bounds(profile, n)
        older_lo, older_hi = _range(n, None, None, NATURAL["older"])
        older_lo = max(older_lo, low) if low is not None else older_lo
        older_hi = min(older_hi, high) if high is not None else older_hi
        older_hi = max(older_lo, older_hi)
        prio_lo, prio_hi = _range(n, *profile.pct["priority"], NATURAL["priority"])
        women = rng.randint(women_lo, women_hi)
        older = rng.randint(older_lo, older_hi)
        priority = rng.randint(prio_lo, prio_hi)
        drop = max(2, n // 8)
        if fail == "women_low":
            women = rng.randint(max(0, women_lo - drop), max(0, women_lo - 1))
        elif fail == "older_low":
            older = rng.randint(max(0, older_lo - drop), max(0, older_lo - 1))
        elif fail == "older_high":
            older = rng.randint(min(n, older_hi + 1), min(n, older_hi + drop))
        elif fail == "priority_low":
            priority = rng.randint(max(0, prio_lo - drop), max(0, prio_lo - 1))
        return n, min(women, n), min(older, n), min(priority, n)

    def failure(self, profile: Profile) -> str | None:
        if self.rng.random() >= self.failing_share:
            return None
        kinds = [
            (kind, weight)
            for kind, weight in FAILURES
            # A profile with no upper bound on older people cannot be failed that way.
            if kind != "older_high" or older_bounds(profile, 60)[1] is not None
        ]
        return self.rng.choices([k for k, _ in kinds], weights=[w for _, w in kinds])[0]

    def members(
        self,
        lines: list[str],
        club_id: int,
        commune: places.Unit,
        profile: Profile,
        status: str,
        founded: int,
    ) -> None:
        rng = self.rng
        stats = self.stats
        fail = None
        if status == "active":
            stats.active_clubs += 1
            fail = self.failure(profile)
            stats.failing += fail is not None
        n, women, older, priority = self.composition(profile, fail)
        leavers = rng.randint(0, 3)
        total = n + leavers
        women_set = set(rng.sample(range(n), women))
        older_set = set(rng.sample(range(n), older))
        priority_set = set(rng.sample(range(n), priority))
        ordered = list(range(n))
        rng.shuffle(ordered)
        size = rng.choices((3, 5, 7), weights=(3, 5, 2))[0]
        roles = dict(zip(ordered, BOARDS[size], strict=False))
        home_care = set(ordered[size : size + rng.randint(5, 12)])
        income = set(rng.sample(range(n), min(n, rng.randint(3, 8))))
        today = self.as_of.toordinal()
        dissolved = rng.randint(min(founded + 365, today - 2), today - 1)
        if status != "dissolved":
            stats.active_members += n
            stats.women += women
            stats.older += older
            stats.priority += priority
        stats.members += total
        birth_code = "0" + commune.province_code
        for i in range(total):
            active = i < n
            female = i in women_set if active else rng.random() < 0.62
            is_older = i in older_set if active else rng.random() < 0.6
            in_priority = i in priority_set if active else rng.random() < 0.6
            if is_older:
                age = int(rng.triangular(profile.older_age, 92, profile.older_age + 3))
            else:
                age = int(rng.triangular(22, profile.older_age, profile.older_age - 8))
                age = min(age, profile.older_age - 1)
            if rng.random() < 0.06:  # only the year of birth is known
                birth_year = self.as_of.year - age
                birth_date = NULL
                birth_key = birth_year * 10000 + 101
            else:
                born = date.fromordinal(self._anniversary[age] - rng.randint(1, 360))
                birth_year = born.year
                birth_date = self._date(born.toordinal())
                birth_key = birth_year * 10000 + born.month * 100 + born.day
            if rng.random() < 0.75:
                joined = founded
            else:
                joined = rng.randint(min(founded + 30, today - 1), today - 1)
            left = NULL
            updated = joined
            if not active:
                joined = rng.randint(founded, max(founded, today - 60))
                left_day = rng.randint(min(joined + 30, today - 1), today - 1)
                left, updated = self._date(left_day), left_day
            if status == "dissolved":
                joined = min(joined, dissolved - 1)
                left, updated = self._date(dissolved), dissolved
            household = HOUSEHOLDS[rng.randrange(3)] if in_priority else "none"
            keys = keyring()
            if rng.random() < 0.55:
                plain = "0" + rng.choice(PHONE_PREFIXES) + f"{rng.randrange(10_000_000):07d}"
                phone = keys.seal(plain, PHONE)
            else:
                phone = NULL
            national_id = self.national_id(birth_code, female, birth_year)
            family = self._pick(self._family)
            if female:
                middle, given = self._pick(self._women_middle), rng.choice(WOMEN_GIVEN)
            else:
                middle, given = self._pick(self._men_middle), rng.choice(MEN_GIVEN)
            role = roles.get(i, NULL) if active and status != "dissolved" else NULL
            lines.append(
                f"{club_id}\t{family} {middle} {given}\t"
                f"{'female' if female else 'male'}\t{birth_date}\t{birth_year}\t{birth_key}\t"
                f"{household}\t{keys.seal(national_id, NATIONAL_ID)}\t"
                f"{keys.blind_index(national_id)}\t{phone}\t"
                f"{self._date(joined)}\t{left}\t{role}\t{'t' if i in home_care else 'f'}\t"
                f"{'t' if i in income else 'f'}\t1\t{self._stamp(joined)}\t{self._stamp(updated)}\n"
            )

    def national_id(self, birth_code: str, female: bool, birth_year: int) -> str:
        """12 digits: province of birth, century and sex, year of birth, 6 digits; unique."""
        rng = self.rng
        province = birth_code if rng.random() < 0.85 else rng.choice(BIRTH_PROVINCES)
        century = (0 if birth_year < 2000 else 2) + (1 if female else 0)
        prefix = int(f"{province}{century}{birth_year % 100:02d}") * 1_000_000
        for _ in range(100):
            value = prefix + rng.randrange(1_000_000)
            if value not in self.used_ids:
                self.used_ids.add(value)
                return f"{value:012d}"
        raise RuntimeError(f"no free national ID left under {prefix // 1_000_000}")


def _cumulative(weighted: tuple[tuple[str, int], ...]) -> tuple[list[str], list[int]]:
    names, weights, total = [], [], 0
    for name, weight in weighted:
        total += weight
        names.append(name)
        weights.append(total)
    return names, weights


# --- the database ----------------------------------------------------------------------------


def load_profiles(conn: psycopg.Connection) -> tuple[list[Profile], Profile]:
    rows = conn.execute(
        "SELECT id, code, min_members, max_members, women_min_pct, women_max_pct, older_min_pct,"
        " older_max_pct, younger_min_pct, younger_max_pct, priority_min_pct, priority_max_pct,"
        " older_age, is_default FROM quota_profiles ORDER BY id"
    ).fetchall()
    profiles, default = [], None
    for row in rows:
        profile = Profile(
            id=row[0],
            code=row[1],
            min_members=row[2],
            max_members=row[3],
            pct={
                "women": (row[4], row[5]),
                "older": (row[6], row[7]),
                "younger": (row[8], row[9]),
                "priority": (row[10], row[11]),
            },
            older_age=row[12],
        )
        profiles.append(profile)
        if row[13]:
            default = profile
    if default is None:
        raise RuntimeError("no default quota profile: is the clubs database migrated?")
    return profiles, default


def _secondary_indexes(conn: psycopg.Connection, table: str) -> list[tuple[str, str]]:
    """(name, CREATE INDEX statement) of the indexes that back no constraint."""
    return conn.execute(
        "SELECT i.relname, pg_get_indexdef(x.indexrelid) FROM pg_index x"
        " JOIN pg_class i ON i.oid = x.indexrelid"
        " WHERE x.indrelid = %s::regclass"
        " AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = x.indexrelid)"
        " ORDER BY i.relname",
        (table,),
    ).fetchall()


def _foreign_keys(conn: psycopg.Connection, table: str) -> list[tuple[str, str]]:
    return conn.execute(
        "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint"
        " WHERE conrelid = %s::regclass AND contype = 'f' ORDER BY conname",
        (table,),
    ).fetchall()


def generate(
    database_url: str,
    clubs: int = DEFAULT_CLUBS,
    members_per_club: int = DEFAULT_MEMBERS,
    seed: int = DEFAULT_SEED,
    as_of: date | None = None,
    failing_share: float = DEFAULT_FAILING_SHARE,
    replace: bool = False,
    log: Callable[[str], None] = print,
) -> Stats:
    """Loads the registry into an empty (or, with `replace`, emptied) clubs database."""
    sealing.configure(ClubsSettings())  # IDs and phones are written sealed, as the service does
    as_of = as_of or clock.today()
    started = time.monotonic()
    with psycopg.connect(libpq_url(database_url), connect_timeout=5) as conn:
        conn.execute("SET synchronous_commit = off")
        conn.execute("SET maintenance_work_mem = '1GB'")
        profiles, default = load_profiles(conn)
        existing = one_row(conn.execute("SELECT count(*) FROM clubs"))[0]
        if existing and not replace:
            raise RuntimeError(f"the database already has {existing} clubs (use --replace)")
        if existing or replace:
            conn.execute(
                "TRUNCATE meeting_attendance, meetings, activities, member_consents, members,"
                " clubs, audit_entries RESTART IDENTITY CASCADE"
            )
        indexes = _secondary_indexes(conn, "members")
        foreign_keys = _foreign_keys(conn, "members")
        for name, _ in foreign_keys:
            conn.execute(
                sql.SQL("ALTER TABLE members DROP CONSTRAINT {}").format(sql.Identifier(name))
            )
        for name, _ in indexes:
            conn.execute(sql.SQL("DROP INDEX {}").format(sql.Identifier(name)))
        generator = Generator(
            profiles, default, clubs, members_per_club, seed, as_of, failing_share
        )
        bar = ProgressBar("generating", clubs, "clubs")
        cursor = conn.cursor()
        club_rows: list[str] = []
        # Members stream through a writer thread while the next chunk is generated; the clubs
        # (a few MB) follow in their own COPY, since the foreign key is only rebuilt below.
        member_copy = f"COPY members ({', '.join(MEMBER_COLUMNS)}) FROM STDIN"
        with cursor.copy(member_copy, writer=QueuedLibpqWriter(cursor)) as copy:
            for done, clubs_text, members_text in generator.chunks():
                club_rows.append(clubs_text)
                copy.write(members_text)
                bar.update(done, f"{generator.stats.members:,} members")
        with cursor.copy(f"COPY clubs ({', '.join(CLUB_COLUMNS)}) FROM STDIN") as copy:
            for rows in club_rows:
                copy.write(rows)
        bar.close()
        stats = generator.stats
        stats.seconds["copy"] = time.monotonic() - started
        seconds = stats.seconds["copy"]
        log(f"copied {stats.clubs:,} clubs and {stats.members:,} members in {seconds:.1f} s")
        step = time.monotonic()
        for name, definition in indexes:
            log(f"building index {name}")
            conn.execute(definition)
        for name, definition in foreign_keys:
            conn.execute(
                sql.SQL("ALTER TABLE members ADD CONSTRAINT {} " + definition).format(
                    sql.Identifier(name)
                )
            )
        for table in ("clubs", "members"):
            conn.execute(
                "SELECT setval(pg_get_serial_sequence(%s, 'id'),"
                " (SELECT coalesce(max(id), 0) + 1 FROM " + table + "), false)",
                (table,),
            )
        # Every member consents to membership on joining; nine in ten to bank matching.
        conn.execute(
            "INSERT INTO member_consents (member_id, purpose, given_on, form_reference,"
            " recorded_by, recorded_at) SELECT m.id, p.purpose, m.joined_on, 'bench', 'bench',"
            " now() FROM members AS m CROSS JOIN (VALUES ('membership'), ('bank_matching'))"
            " AS p(purpose) WHERE p.purpose = 'membership' OR m.id % 10 <> 0"
        )
        conn.commit()
        stats.seconds["indexes"] = time.monotonic() - step
        log(f"indexes and foreign keys rebuilt in {stats.seconds['indexes']:.1f} s")
        step = time.monotonic()
        conn.autocommit = True
        conn.execute("VACUUM (ANALYZE) clubs")
        conn.execute("VACUUM (ANALYZE) members")
        conn.execute("VACUUM (ANALYZE) member_consents")
        stats.seconds["analyze"] = time.monotonic() - step
        log(f"VACUUM (ANALYZE) in {stats.seconds['analyze']:.1f} s")
    stats.seconds["total"] = time.monotonic() - started
    return stats


def generate_national(database_url: str, log: Callable[[str], None]) -> Stats:
    """The national registry the benchmarks share (`DEFAULT_CLUBS` clubs, the default seed),
    in place of what the clubs database holds."""
    log(f"generating the national registry: {DEFAULT_CLUBS:,} clubs")
    return generate(database_url, replace=True, log=log)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Generate a national registry of clubs and members into a clubs database."
    )
    parser.add_argument(
        "--database-url", required=True, help="the migrated clubs database (postgresql://...)"
    )
    parser.add_argument("--clubs", type=int, default=DEFAULT_CLUBS, help="clubs (25,000)")
    parser.add_argument(
        "--members-per-club", type=int, default=DEFAULT_MEMBERS, help="mean members a club (60)"
    )
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help="random seed (1336)")
    parser.add_argument(
        "--as-of",
        type=date.fromisoformat,
        default=None,
        help="the date ages and memberships are true on (today)",
    )
    parser.add_argument(
        "--failing-share",
        type=float,
        default=DEFAULT_FAILING_SHARE,
        help="share of the active clubs made to fail one rule (0.15)",
    )
    parser.add_argument(
        "--replace", action="store_true", help="empty the clubs and members tables first"
    )
    args = parser.parse_args(argv)
    if not 1 <= args.clubs <= 1_000_000:
        parser.error("--clubs must be within 1..1,000,000")
    if not 1 <= args.members_per_club <= 1_000:
        parser.error("--members-per-club must be within 1..1,000")
    if not 0 <= args.failing_share <= 1:
        parser.error("--failing-share must be within 0..1")
    if args.as_of and args.as_of < date(2017, 1, 1):
        parser.error("--as-of must be 2017 or later (clubs are founded from 2016)")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        stats = generate(
            args.database_url,
            clubs=args.clubs,
            members_per_club=args.members_per_club,
            seed=args.seed,
            as_of=args.as_of,
            failing_share=args.failing_share,
            replace=args.replace,
        )
    except (psycopg.Error, RuntimeError) as exc:
        print(f"generation failed: {exc}", file=sys.stderr)
        return 1
    print(f"generated in {stats.seconds['total']:.1f} s: {stats.describe()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
