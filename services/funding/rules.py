"""The funding service's vocabulary (domain.md, "Funding mobilisation") and its pure rules.

Kinds of activity, sources and funder types are reference data an administrator extends
(`services.funding.reference`); the enums below name the items the code itself relies on, and
`SEEDS` is what the reference tables start with. Any other code an administrator added flows
through as a plain string.
"""

from collections.abc import Iterable
from enum import StrEnum
from typing import NamedTuple

MAX_AMOUNT = 10**13
"""Ten thousand billion đồng: above any programme budget, low enough to refuse typing slips."""
MILLION = 1_000_000


class FunderType(StrEnum):
    """Who a funder is; each kind of funder feeds one source column of a plan."""

    CENTRAL_BUDGET = "central_budget"
    PROVINCIAL_BUDGET = "provincial_budget"
    COMMUNE_BUDGET = "commune_budget"
    ELDERLY_CARE_FUND = "elderly_care_fund"
    FUND_FOR_THE_POOR = "fund_for_the_poor"
    ENTERPRISE = "enterprise"
    INDIVIDUAL = "individual"
    MEMBER_CONTRIBUTIONS = "member_contributions"
    INTERNATIONAL_DONOR = "international_donor"
    NGO = "ngo"
    SOCIAL_SECURITY_FUND = "social_security_fund"
    CREDIT_FUND = "credit_fund"
    ELDERLY_ASSOCIATION = "elderly_association"


class Source(StrEnum):
    """A source column of a plan's budget table."""

    CENTRAL_BUDGET = "central_budget"
    PROVINCIAL_BUDGET = "provincial_budget"
    COMMUNE_BUDGET = "commune_budget"
    ELDERLY_CARE_FUND = "elderly_care_fund"
    FUND_FOR_THE_POOR = "fund_for_the_poor"
    SOCIALISATION = "socialisation"
    MEMBER_CONTRIBUTIONS = "member_contributions"
    INTERNATIONAL = "international"
    SOCIAL_SECURITY_FUND = "social_security_fund"
    CREDIT_FUND = "credit_fund"
    ELDERLY_ASSOCIATION = "elderly_association"


SOURCE_OF: dict[FunderType, Source] = {
    FunderType.CENTRAL_BUDGET: Source.CENTRAL_BUDGET,
    FunderType.PROVINCIAL_BUDGET: Source.PROVINCIAL_BUDGET,
    FunderType.COMMUNE_BUDGET: Source.COMMUNE_BUDGET,
    FunderType.ELDERLY_CARE_FUND: Source.ELDERLY_CARE_FUND,
    FunderType.FUND_FOR_THE_POOR: Source.FUND_FOR_THE_POOR,
    # Xã hội hóa: what enterprises, individuals and the community give.
    FunderType.ENTERPRISE: Source.SOCIALISATION,
    FunderType.INDIVIDUAL: Source.SOCIALISATION,
    FunderType.MEMBER_CONTRIBUTIONS: Source.MEMBER_CONTRIBUTIONS,
    FunderType.INTERNATIONAL_DONOR: Source.INTERNATIONAL,
    FunderType.NGO: Source.INTERNATIONAL,
    FunderType.SOCIAL_SECURITY_FUND: Source.SOCIAL_SECURITY_FUND,
    FunderType.CREDIT_FUND: Source.CREDIT_FUND,
    FunderType.ELDERLY_ASSOCIATION: Source.ELDERLY_ASSOCIATION,
}


class Activity(StrEnum):
    """What a budget line pays for."""

    TRAINING = "training"
    CLUB_ESTABLISHMENT = "club_establishment"
    SEED_CAPITAL = "seed_capital"
    MONITORING = "monitoring"
    REVIEW_CONFERENCE = "review_conference"
    COMMUNICATION = "communication"
    PLANNING = "planning"
    RESOURCE_MOBILISATION = "resource_mobilisation"
    INTERNATIONAL_COOPERATION = "international_cooperation"
    OTHER = "other"


class ReferenceKind(StrEnum):
    """The lists an administrator extends, named as under `/api/v1/reference/`."""

    ACTIVITIES = "activities"
    SOURCES = "sources"
    FUNDER_TYPES = "funder-types"


class Seed(NamedTuple):
    code: str
    name_vi: str
    name_en: str
    source: str | None = None
    """For funder types: the source column their money counts in."""


FUNDER_TYPE_NAMES: dict[FunderType, tuple[str, str]] = {
    FunderType.CENTRAL_BUDGET: ("Ngân sách trung ương", "Central budget"),
    FunderType.PROVINCIAL_BUDGET: ("Ngân sách tỉnh", "Provincial budget"),
    FunderType.COMMUNE_BUDGET: ("Ngân sách xã", "Commune budget"),
    FunderType.ELDERLY_CARE_FUND: (
        "Quỹ Chăm sóc và phát huy vai trò người cao tuổi",
        "Elderly Care Fund",
    ),
    FunderType.FUND_FOR_THE_POOR: ("Quỹ Vì người nghèo", "Fund for the Poor"),
    FunderType.ENTERPRISE: ("Doanh nghiệp", "Enterprise"),
    FunderType.INDIVIDUAL: ("Cá nhân", "Individual"),
    FunderType.MEMBER_CONTRIBUTIONS: ("Thành viên câu lạc bộ đóng góp", "Club members"),
    FunderType.INTERNATIONAL_DONOR: ("Nhà tài trợ quốc tế", "International donor"),
    FunderType.NGO: ("Tổ chức phi chính phủ", "Non-governmental organisation"),
    FunderType.SOCIAL_SECURITY_FUND: ("Quỹ An sinh xã hội", "Social security fund"),
    FunderType.CREDIT_FUND: ("Quỹ tín dụng", "Credit fund"),
    FunderType.ELDERLY_ASSOCIATION: ("Hội Người cao tuổi", "Association of the Elderly"),
}

SEEDS: dict[ReferenceKind, tuple[Seed, ...]] = {
    ReferenceKind.ACTIVITIES: (
        Seed(Activity.TRAINING, "Tập huấn", "Training"),
        Seed(Activity.CLUB_ESTABLISHMENT, "Thành lập, ra mắt câu lạc bộ", "Club establishment"),
        Seed(Activity.SEED_CAPITAL, "Hỗ trợ vốn ban đầu cho câu lạc bộ", "Seed capital"),
        Seed(Activity.MONITORING, "Giám sát, hỗ trợ kỹ thuật", "Monitoring"),
        Seed(Activity.REVIEW_CONFERENCE, "Hội nghị sơ kết, tổng kết", "Review conference"),
        Seed(Activity.COMMUNICATION, "Truyền thông", "Communication"),
        Seed(Activity.PLANNING, "Xây dựng kế hoạch", "Planning"),
        Seed(Activity.RESOURCE_MOBILISATION, "Vận động nguồn lực", "Resource mobilisation"),
        Seed(Activity.INTERNATIONAL_COOPERATION, "Hợp tác quốc tế", "International cooperation"),
        Seed(Activity.OTHER, "Hoạt động khác", "Other"),
    ),
    ReferenceKind.SOURCES: (
        Seed(Source.CENTRAL_BUDGET, "Ngân sách trung ương", "Central budget"),
        Seed(Source.PROVINCIAL_BUDGET, "Ngân sách tỉnh", "Provincial budget"),
        Seed(Source.COMMUNE_BUDGET, "Ngân sách xã", "Commune budget"),
        Seed(
            Source.ELDERLY_CARE_FUND,
            "Quỹ Chăm sóc và phát huy vai trò người cao tuổi",
            "Elderly Care Fund",
        ),
        Seed(Source.FUND_FOR_THE_POOR, "Quỹ Vì người nghèo", "Fund for the Poor"),
        Seed(Source.SOCIALISATION, "Xã hội hóa", "Socialisation"),
        Seed(Source.MEMBER_CONTRIBUTIONS, "Thành viên đóng góp", "Members' contributions"),
        Seed(Source.INTERNATIONAL, "Tài trợ quốc tế", "International donors"),
        Seed(Source.SOCIAL_SECURITY_FUND, "Quỹ An sinh xã hội", "Social security fund"),
        Seed(Source.CREDIT_FUND, "Quỹ tín dụng", "Credit funds"),
        Seed(
            Source.ELDERLY_ASSOCIATION,
            "Hội Người cao tuổi đóng góp",
            "The Association of the Elderly's own contribution",
        ),
    ),
    ReferenceKind.FUNDER_TYPES: tuple(
        Seed(funder_type, *FUNDER_TYPE_NAMES[funder_type], SOURCE_OF[funder_type])
        for funder_type in FunderType
    ),
}
"""What the reference lists start with (the migration that creates them holds a copy)."""


def seed_names(kind: ReferenceKind) -> dict[str, str]:
    """Code → Vietnamese name of the seeds of `kind`: the labels when the database is not
    at hand."""
    return {seed.code: seed.name_vi for seed in SEEDS[kind]}


def in_seed_order(codes: Iterable[str], kind: ReferenceKind) -> list[str]:
    """Codes in the order of the seeds of `kind`, any an administrator added after them."""
    order = {seed.code: position for position, seed in enumerate(SEEDS[kind])}
    return sorted(codes, key=lambda code: (order.get(code, len(order)), code))


class PlanStatus(StrEnum):
    DRAFT = "draft"
    APPROVED = "approved"


# The club fund an allocation goes to (the loans service keeps the funds). No docstring: the
# merged API document then shows this and the loans service's enum as the one `FundKind`.
class FundKind(StrEnum):
    INCOME_GENERATION = "income_generation"
    ACTIVITY = "activity"


class TransferStatus(StrEnum):
    """Where an allocation's transfer to the club's fund stands."""

    PENDING = "pending"
    RECORDED = "recorded"
    FAILED = "failed"


def percent(part: int, whole: int) -> float | None:
    """`part` as a percentage of `whole`, to one decimal; None when there is no whole."""
    return round(part * 100 / whole, 1) if whole else None
