from datetime import date, datetime
from typing import Annotated, Any, Self

from pydantic import Field, StringConstraints, model_validator

from common.problem_codes import Code
from common.problems import ValidationFailed, field_error
from common.schemas import InputModel, OutputModel, PatchModel

Percent = Annotated[int, Field(ge=0, le=100)]
ProfileCode = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9-]{1,39}$")]
SHARES = ("women", "older", "younger", "priority")


def check_bounds(values: dict[str, Any]) -> None:
    """Each minimum at most its maximum; raises 422 naming the fields."""
    errors = []
    if values["min_members"] > values["max_members"]:
        reason = "must not exceed max_members"
        errors.append(field_error("min_members", reason, code=Code.INCONSISTENT))
    for share in SHARES:
        low, high = values.get(f"{share}_min_pct"), values.get(f"{share}_max_pct")
        if low is not None and high is not None and low > high:
            reason = f"must not exceed {share}_max_pct"
            errors.append(field_error(f"{share}_min_pct", reason, code=Code.INCONSISTENT))
    if errors:
        raise ValidationFailed("; ".join(f"{e.field} {e.reason}" for e in errors), errors=errors)


class ShareBounds(InputModel):
    """The bounds a profile may set on each share of its members, in percent (null: none)."""

    women_min_pct: Percent | None = None
    women_max_pct: Percent | None = None
    older_min_pct: Percent | None = None
    older_max_pct: Percent | None = None
    younger_min_pct: Percent | None = None
    younger_max_pct: Percent | None = None
    priority_min_pct: Percent | None = None
    priority_max_pct: Percent | None = None


class QuotaProfileFields(ShareBounds):
    name: str = Field(min_length=1, max_length=200)
    min_members: int = Field(ge=1, le=10_000)
    max_members: int = Field(ge=1, le=10_000)
    older_age: int = Field(
        default=60, ge=40, le=90, description="The age from which a member counts as older."
    )


class QuotaProfileCreate(QuotaProfileFields):
    code: ProfileCode

    @model_validator(mode="after")
    def _bounds(self) -> Self:
        check_bounds(self.model_dump())
        return self


class QuotaProfileUpdate(PatchModel, ShareBounds):
    nullable = frozenset(ShareBounds.model_fields)

    name: str | None = Field(default=None, min_length=1, max_length=200)
    min_members: int | None = Field(default=None, ge=1, le=10_000)
    max_members: int | None = Field(default=None, ge=1, le=10_000)
    older_age: int | None = Field(default=None, ge=40, le=90)
    is_default: bool | None = None


class QuotaProfilePublic(OutputModel):
    id: int
    code: str
    name: str
    min_members: int
    max_members: int
    women_min_pct: int | None
    women_max_pct: int | None
    older_min_pct: int | None
    older_max_pct: int | None
    younger_min_pct: int | None
    younger_max_pct: int | None
    priority_min_pct: int | None
    priority_max_pct: int | None
    older_age: int
    is_default: bool
    created_at: datetime
    updated_at: datetime


class RuleResult(OutputModel):
    rule: str
    passed: bool
    reason: str


class Counts(OutputModel):
    members: int
    women: int
    older: int
    younger: int
    priority: int
    home_care_volunteers: int


class Shares(OutputModel):
    women_pct: float | None
    older_pct: float | None
    younger_pct: float | None
    priority_pct: float | None


class Composition(OutputModel):
    club_id: int
    on: date
    quota_profile: str
    counts: Counts
    shares: Shares
    compliant: bool
    rules: list[RuleResult]
    failures: list[str]


class CompositionSummary(OutputModel):
    """Composition summed over the clubs of an area (a province, or the country)."""

    on: date
    province_code: str | None
    clubs: int
    clubs_compliant: int
    clubs_compliant_pct: float | None
    counts: Counts
    shares: Shares
    by_province: list["CompositionSummary"] | None = None


class NonCompliantClub(OutputModel):
    club_id: int
    code: str
    name: str
    province_code: str
    commune_code: str
    counts: Counts
    failures: list[str]
