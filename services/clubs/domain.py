"""The registry's vocabulary, named as in the domain brief."""

from enum import StrEnum


class ClubStatus(StrEnum):
    PLANNED = "planned"
    ACTIVE = "active"
    SUSPENDED = "suspended"
    DISSOLVED = "dissolved"


# planned → active → suspended ↔ active → dissolved; a dissolved club keeps its history.
STATUS_TRANSITIONS: dict[ClubStatus, frozenset[ClubStatus]] = {
    ClubStatus.PLANNED: frozenset({ClubStatus.ACTIVE, ClubStatus.DISSOLVED}),
    ClubStatus.ACTIVE: frozenset({ClubStatus.SUSPENDED, ClubStatus.DISSOLVED}),
    ClubStatus.SUSPENDED: frozenset({ClubStatus.ACTIVE, ClubStatus.DISSOLVED}),
    ClubStatus.DISSOLVED: frozenset(),
}


class Gender(StrEnum):
    FEMALE = "female"
    MALE = "male"


class Household(StrEnum):
    POOR = "poor"
    NEAR_POOR = "near_poor"
    DISADVANTAGED = "disadvantaged"
    NONE = "none"


PRIORITY_HOUSEHOLDS = (Household.POOR, Household.NEAR_POOR, Household.DISADVANTAGED)


class BoardRole(StrEnum):
    CHAIR = "chair"
    VICE_CHAIR = "vice_chair"
    ACCOUNTANT = "accountant"
    TREASURER = "treasurer"
    GROUP_LEADER = "group_leader"


class ConsentPurpose(StrEnum):
    """What a member consents to (Law 91/2025/QH15): each given, and withdrawn, on its own."""

    MEMBERSHIP = "membership"
    """Keeping the member's record for club membership: the basis of every member record."""
    BANK_MATCHING = "bank_matching"
    """Matching the member with the Social Policy Bank's loan records."""
    FUNDER_FIGURES = "funder_figures"
    """Counting the member in the figures shared with funders."""


BOARD_SIZES = (3, 5, 7)
MIN_HOME_CARE_VOLUNTEERS = 5


class ActivityArea(StrEnum):
    """The eight areas of the club model, as plan 249 (III.3.1) lists them."""

    INCOME_GENERATION = "income_generation"
    """Tăng thu nhập."""
    HEALTH_CARE = "health_care"
    """Chăm sóc sức khỏe."""
    HOME_CARE = "home_care"
    """Tình nguyện viên chăm sóc tại nhà."""
    RIGHTS_ENTITLEMENTS = "rights_entitlements"
    """Bảo vệ quyền, lợi ích."""
    COMMUNICATION = "communication"
    """Truyền thông (an earlier brief had "lifelong learning" here by mistake; the migration
    c7e9b1d3f5a2 moved the activities recorded under it)."""
    CULTURE_SPORTS = "culture_sports"
    """Thể thao, văn hóa văn nghệ."""
    COMMUNITY_SUPPORT = "community_support"
    """Tự giúp nhau, hỗ trợ cộng đồng."""
    RESOURCE_MOBILISATION = "resource_mobilisation"
    """Vận động nguồn lực."""


def birth_key(year: int, month: int | None = None, day: int | None = None) -> int:
    """yyyymmdd as an integer; a birth known only by its year counts from 1 January.

    Ages then compare as integers in SQL on every backend: a person is at least N years old on
    date D exactly when birth_key <= (D.year - N) * 10000 + D.month * 100 + D.day.
    """
    return year * 10000 + (month or 1) * 100 + (day or 1)


def age_threshold_key(on_year: int, on_month: int, on_day: int, age: int) -> int:
    return (on_year - age) * 10000 + on_month * 100 + on_day
