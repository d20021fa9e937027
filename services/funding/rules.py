"""The funding service's vocabulary (domain.md, "Funding mobilisation") and its pure rules."""

from enum import StrEnum

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
}

SOURCE_LABELS: dict[Source, str] = {
    Source.CENTRAL_BUDGET: "Ngân sách trung ương",
    Source.PROVINCIAL_BUDGET: "Ngân sách tỉnh",
    Source.COMMUNE_BUDGET: "Ngân sách xã",
    Source.ELDERLY_CARE_FUND: "Quỹ Chăm sóc và phát huy vai trò NCT",
    Source.FUND_FOR_THE_POOR: "Quỹ Vì người nghèo",
    Source.SOCIALISATION: "Xã hội hóa",
    Source.MEMBER_CONTRIBUTIONS: "Hội viên đóng góp",
    Source.INTERNATIONAL: "Tài trợ quốc tế",
}


class Activity(StrEnum):
    """What a budget line pays for."""

    TRAINING = "training"
    CLUB_ESTABLISHMENT = "club_establishment"
    SEED_CAPITAL = "seed_capital"
    MONITORING = "monitoring"
    REVIEW_CONFERENCE = "review_conference"
    COMMUNICATION = "communication"
    OTHER = "other"


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
