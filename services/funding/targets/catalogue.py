"""The catalogue of programme indicators: what every plan's targets are written in.

Provinces state their targets in many ways ("16 clubs", "women 60–70 %", "100 % of communes
have a club", "≥ 15 clubs founded each year"); each is one of these indicators, an area, a
period or a date, and a floor, a ceiling or both (`services.funding.targets`). An indicator's
code is stable: reports, exports and other systems refer to it.
"""

from dataclasses import dataclass
from enum import StrEnum


class Unit(StrEnum):
    COUNT = "count"
    SHARE = "share"
    """A percentage of the indicator's denominator (0–100)."""
    MONEY = "money"
    """Đồng."""


class Counted(StrEnum):
    ON_DATE = "on_date"
    """As it stands on a date (the period's last day)."""
    OVER_PERIOD = "over_period"
    """What happened between the period's first and last day."""


class Level(StrEnum):
    NATION = "nation"
    PROVINCE = "province"
    COMMUNE = "commune"
    FORMER_PROVINCE = "former_province"
    """A province as it stood before the 2025 merger (plans written before it keep it)."""
    FORMER_DISTRICT = "former_district"
    """A district as it stood before the 2025 merger (the district level is gone)."""


ALL_LEVELS = tuple(Level)


class Supplier(StrEnum):
    CLUBS = "clubs"
    LOANS = "loans"
    FUNDING = "funding"


@dataclass(frozen=True)
class IndicatorDefinition:
    code: str
    unit: Unit
    counted: Counted
    name_vi: str
    name_en: str
    definition: str
    supplied_by: tuple[Supplier, ...]
    levels: tuple[Level, ...] = ALL_LEVELS
    denominator: str | None = None
    """A share's whole: the code of the count it is a share of (its numerator is `numerator`)."""
    numerator: str | None = None
    parameter: str | None = None
    """What a target of this indicator must also give (e.g. a fund's amount), if anything."""


def _count(
    code: str,
    counted: Counted,
    name_vi: str,
    name_en: str,
    definition: str,
    supplied_by: tuple[Supplier, ...] = (Supplier.CLUBS,),
    levels: tuple[Level, ...] = ALL_LEVELS,
    parameter: str | None = None,
) -> IndicatorDefinition:
    return IndicatorDefinition(
        code,
        Unit.COUNT,
        counted,
        name_vi,
        name_en,
        definition,
        supplied_by,
        levels,
        None,
        None,
        parameter,
    )


def _share_of(
    count: IndicatorDefinition, whole: str, name_vi: str, name_en: str
) -> IndicatorDefinition:
    return IndicatorDefinition(
        f"{count.code}_share",
        Unit.SHARE,
        count.counted,
        name_vi,
        name_en,
        f"{count.name_en}, as a percentage of `{whole}`.",
        count.supplied_by,
        count.levels,
        denominator=whole,
        numerator=count.code,
        parameter=count.parameter,
    )


ON, OVER = Counted.ON_DATE, Counted.OVER_PERIOD
CLUBS, LOANS, FUNDING = Supplier.CLUBS, Supplier.LOANS, Supplier.FUNDING

_CLUBS_FOUNDED = _count(
    "clubs.founded",
    OVER,
    "Số CLB thành lập mới",
    "Clubs founded",
    "Clubs whose founding date is in the period.",
)
_CLUBS_ACTIVE = _count(
    "clubs.active",
    ON,
    "Số CLB đang hoạt động",
    "Active clubs",
    "Clubs active on the date: founded on or before it and not dissolved by it. What a plan "
    "asks in all (clubs to found and clubs to maintain) is compared with this.",
)
_CLUBS_MAINTAINED = _count(
    "clubs.maintained",
    OVER,
    "Số CLB được duy trì",
    "Clubs maintained",
    "Clubs founded before the period that stayed active through all of it.",
)
_CLUBS_DISSOLVED = _count(
    "clubs.dissolved",
    OVER,
    "Số CLB giải thể",
    "Clubs dissolved",
    "Clubs dissolved in the period.",
)
_MEMBERS = _count("members.total", ON, "Số thành viên", "Members", "Active members on the date.")
_OLDER = _count(
    "members.older",
    ON,
    "Số thành viên là người cao tuổi",
    "Older members",
    "Active members on the date at or above their club's quota profile's age threshold "
    "(60 by default; 55 in Lào Cai's 2018 plan).",
)
_WOMEN = _count(
    "members.women", ON, "Số thành viên là nữ", "Women members", "Active women members."
)
_YOUNGER = _count(
    "members.younger",
    ON,
    "Số thành viên trẻ tuổi",
    "Younger members",
    "Active members below their club's age threshold.",
)
_PRIORITY = _count(
    "members.priority",
    ON,
    "Số thành viên nghèo, cận nghèo, có hoàn cảnh khó khăn",
    "Poor, near-poor and disadvantaged members",
    "Active members of poor or near-poor households, or in difficult circumstances.",
)
COVERAGE_TYPES = {
    "coverage.units": (None, "xã, phường, đặc khu", "communes, wards and special zones"),
    "coverage.communes": ("xã", "xã", "communes (xã)"),
    "coverage.wards": ("phường", "phường", "wards (phường)"),
    "coverage.special_zones": ("đặc khu", "đặc khu", "special zones (đặc khu)"),
}
"""Coverage by the unit's type, as targets state it ("100 % of communes have a club"): the
type's name in `vietnam-provinces` (None: every type), in Vietnamese and in English."""


def _coverage() -> list[IndicatorDefinition]:
    found = []
    for code, (_, type_vi, type_en) in COVERAGE_TYPES.items():
        count = _count(
            code,
            ON,
            f"Số {type_vi} có CLB",
            f"{type_en.capitalize()} with a club",
            f"Today's {type_en} with at least one active club.",
            levels=(Level.NATION, Level.PROVINCE),
        )
        name_vi, name_en = f"Tỷ lệ {type_vi} có CLB", f"{count.name_en}, share"
        found += [count, _share_of(count, f"the area's {type_en}", name_vi, name_en)]
    return found


_DISTRICTS_COVERED = _count(
    "coverage.former_districts",
    ON,
    "Số huyện (cũ) có CLB",
    "Former districts with a club",
    "Former districts (before the 2025 merger) with at least one active club, by the clubs' "
    "own pre-2025 addresses.",
    levels=(Level.NATION, Level.PROVINCE, Level.FORMER_PROVINCE),
)
_ALL_AREAS = _count(
    "clubs.running_all_areas",
    OVER,
    "Số CLB thực hiện đủ 8 nội dung hoạt động",
    "Clubs running all eight activity areas",
    "Clubs that recorded activities in all eight areas in the period.",
)
_BOTH_FUNDS = _count(
    "clubs.with_both_funds",
    ON,
    "Số CLB có đủ hai quỹ",
    "Clubs holding both funds",
    "Active clubs with both an income-generation fund and an activity fund opened by the date.",
    supplied_by=(LOANS,),
)
_FUND_AT_LEAST = _count(
    "clubs.fund_at_least",
    ON,
    "Số CLB có quỹ tăng thu nhập từ mức nêu trở lên",
    "Clubs whose income-generation fund holds at least an amount",
    "Active clubs whose income-generation fund (cash and loans outstanding) is at least the "
    "target's `parameter`, in đồng, on the date.",
    supplied_by=(LOANS,),
    parameter="the fund's amount, in đồng",
)
_BORROWED = _count(
    "members.borrowed",
    OVER,
    "Số thành viên được vay vốn",
    "Members who borrowed",
    "Members who had a loan from their club's fund or a bank loan matched to them at any "
    "time in the period (not only loans still outstanding on its last day).",
    supplied_by=(LOANS,),
)
_TRAINED = _count(
    "support.clubs_trained",
    OVER,
    "Số CLB được tập huấn",
    "Clubs trained",
    "Clubs whose board took part in a training class in the period.",
    supplied_by=(FUNDING,),
    levels=ALL_LEVELS,
)
_MONITORED = _count(
    "support.clubs_monitored",
    OVER,
    "Số CLB được giám sát, hỗ trợ kỹ thuật",
    "Clubs monitored",
    "Clubs visited for monitoring or technical support in the period.",
    supplied_by=(FUNDING,),
)
_HEALTH_CHECKS = _count(
    "support.health_checks",
    OVER,
    "Số lượt khám sức khỏe cho thành viên",
    "Health checks given",
    "Health checks given to members at meetings in the period.",
)


TODAY_S_AREAS = (Level.NATION, Level.PROVINCE, Level.COMMUNE)
"""Money is recorded by today's province and commune."""


def _money(
    code: str,
    name_vi: str,
    name_en: str,
    definition: str,
    levels: tuple[Level, ...] = TODAY_S_AREAS,
) -> IndicatorDefinition:
    return IndicatorDefinition(
        code, Unit.MONEY, OVER, name_vi, name_en, definition, (FUNDING,), levels
    )


DEFINITIONS: tuple[IndicatorDefinition, ...] = (
    _CLUBS_FOUNDED,
    _CLUBS_ACTIVE,
    _CLUBS_MAINTAINED,
    _share_of(
        _CLUBS_MAINTAINED,
        "the clubs active on the period's first day",
        "Tỷ lệ CLB được duy trì",
        "Clubs maintained, share",
    ),
    _CLUBS_DISSOLVED,
    _MEMBERS,
    _OLDER,
    _share_of(
        _OLDER, "members.total", "Tỷ lệ thành viên là người cao tuổi", "Older members' share"
    ),
    _WOMEN,
    _share_of(_WOMEN, "members.total", "Tỷ lệ thành viên là nữ", "Women's share"),
    _YOUNGER,
    _share_of(_YOUNGER, "members.total", "Tỷ lệ thành viên trẻ tuổi", "Younger members' share"),
    _PRIORITY,
    _share_of(
        _PRIORITY,
        "members.total",
        "Tỷ lệ thành viên nghèo, cận nghèo, có hoàn cảnh khó khăn",
        "Priority members' share",
    ),
    *_coverage(),
    _DISTRICTS_COVERED,
    _ALL_AREAS,
    _share_of(
        _ALL_AREAS,
        "clubs.active",
        "Tỷ lệ CLB thực hiện đủ 8 nội dung hoạt động",
        "Clubs running all eight areas, share",
    ),
    _BOTH_FUNDS,
    _share_of(
        _BOTH_FUNDS, "clubs.active", "Tỷ lệ CLB có đủ hai quỹ", "Clubs holding both funds, share"
    ),
    _FUND_AT_LEAST,
    _share_of(
        _FUND_AT_LEAST,
        "clubs.active",
        "Tỷ lệ CLB có quỹ tăng thu nhập từ mức nêu trở lên",
        "Clubs whose fund holds at least an amount, share",
    ),
    IndicatorDefinition(
        "funds.average_per_club",
        Unit.MONEY,
        ON,
        "Quỹ bình quân mỗi CLB",
        "Average income-generation fund per club",
        "The active clubs' income-generation funds (cash and loans outstanding) over their "
        "number, in đồng, on the date.",
        (LOANS,),
    ),
    _BORROWED,
    _share_of(
        _BORROWED, "members.total", "Tỷ lệ thành viên được vay vốn", "Members who borrowed, share"
    ),
    _TRAINED,
    _MONITORED,
    _HEALTH_CHECKS,
    _money(
        "money.raised",
        "Kinh phí huy động",
        "Money raised",
        "Receipts from funders in the period (received for a province's plan: no commune's).",
        (Level.NATION, Level.PROVINCE),
    ),
    _money(
        "money.allocated",
        "Kinh phí hỗ trợ quỹ CLB",
        "Allocated to clubs",
        "Allocations to clubs' funds dated in the period, by the clubs' places then.",
    ),
    _money(
        "money.spent",
        "Kinh phí đã chi",
        "Money spent",
        "Money spent on the plan's lines in the period, allocations to clubs included (a "
        "commune's: what its clubs were allocated; spending on a plan's lines is the "
        "province's).",
    ),
)

CATALOGUE: dict[str, IndicatorDefinition] = {item.code: item for item in DEFINITIONS}
