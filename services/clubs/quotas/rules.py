"""Composition of a club on a date, and its quota profile's rules, evaluated exactly.

Counting happens in SQL (one grouped query for any number of clubs); pass/fail compares whole
numbers (`women * 100 >= min_pct * members`), so no rounding ever flips a verdict.
"""

from collections.abc import Sequence
from datetime import date
from typing import Any

from sqlalchemy import (
    ColumnElement,
    ColumnExpressionArgument,
    Select,
    SQLColumnExpression,
    Subquery,
    and_,
    case,
    func,
    literal,
    or_,
    select,
)
from sqlmodel import Session, col

from common.vietnamese import ENGLISH, VIETNAMESE, Language, format_number, format_percent
from services.clubs.domain import PRIORITY_HOUSEHOLDS, Gender, age_threshold_key
from services.clubs.models import Member, QuotaProfile
from services.clubs.quotas.schemas import Counts, RuleResult, Shares

COUNT_NAMES = ("members", "women", "older", "younger", "priority", "home_care_volunteers")


def active_on(on: date) -> ColumnElement[bool]:
    left_on = col(Member.left_on)
    return and_(col(Member.joined_on) <= on, or_(left_on.is_(None), left_on > on))


def _count_if(condition: ColumnExpressionArgument[bool]) -> ColumnElement[int]:
    return func.count().filter(condition)


def older_ages(session: Session) -> list[int]:
    """The ages from which profiles count a member as older (a handful: 55, 60)."""
    ages = session.execute(select(col(QuotaProfile.older_age)).distinct()).scalars().all()
    return sorted(ages)


def counts_by_club(
    on: date, ages: Sequence[int], clubs: ColumnElement[bool] | None = None
) -> Select[*tuple[Any, ...]]:
    """Per club with active members on `on`: the counts the profiles' rules need.

    Reads only `members` (the composition index covers it): joining each member row to its
    club and profile just to learn the profile's older age costs more than counting older
    members once for each age in use and picking the club's own afterwards (`older_of`).
    """
    priority = [h.value for h in PRIORITY_HOUSEHOLDS]
    columns = [
        col(Member.club_id).label("club_id"),
        func.count().label("members"),
        _count_if(col(Member.gender) == Gender.FEMALE.value).label("women"),
        _count_if(col(Member.household_status).in_(priority)).label("priority"),
        _count_if(col(Member.home_care_volunteer)).label("home_care_volunteers"),
    ]
    columns += [
        _count_if(col(Member.birth_key) <= age_threshold_key(on.year, on.month, on.day, age)).label(
            f"older_{age}"
        )
        for age in ages
    ]
    query = select(*columns).where(active_on(on)).group_by(col(Member.club_id))
    return query if clubs is None else query.where(clubs)


class CountColumns:
    """The counts of one club (from `counts_by_club` outer-joined to clubs and profiles)."""

    def __init__(self, counts: Subquery, ages: Sequence[int]) -> None:
        def of(name: str) -> ColumnElement[int]:
            return func.coalesce(counts.c[name], 0)

        self.members, self.women = of("members"), of("women")
        self.priority, self.home_care_volunteers = of("priority"), of("home_care_volunteers")
        self.older = (
            case({age: of(f"older_{age}") for age in ages}, value=QuotaProfile.older_age, else_=0)
            if ages
            else literal(0)
        )
        self.younger = self.members - self.older

    def labelled(self) -> list[ColumnElement[int]]:
        return [getattr(self, name).label(name) for name in COUNT_NAMES]


def _share_rule(
    count: ColumnElement[int],
    members: ColumnElement[int],
    low: SQLColumnExpression[int | None],
    high: SQLColumnExpression[int | None],
) -> ColumnElement[bool]:
    return and_(
        or_(low.is_(None), count * 100 >= low * members),
        or_(high.is_(None), count * 100 <= high * members),
    )


def compliant_condition(counts: CountColumns) -> ColumnElement[bool]:
    """SQL: the club (joined with its profile and the counts) meets every rule."""
    members = counts.members
    return and_(
        members >= QuotaProfile.min_members,
        members <= QuotaProfile.max_members,
        _share_rule(
            counts.women, members, col(QuotaProfile.women_min_pct), col(QuotaProfile.women_max_pct)
        ),
        _share_rule(
            counts.older, members, col(QuotaProfile.older_min_pct), col(QuotaProfile.older_max_pct)
        ),
        _share_rule(
            counts.younger,
            members,
            col(QuotaProfile.younger_min_pct),
            col(QuotaProfile.younger_max_pct),
        ),
        _share_rule(
            counts.priority,
            members,
            col(QuotaProfile.priority_min_pct),
            col(QuotaProfile.priority_max_pct),
        ),
    )


def share(count: int, total: int) -> float | None:
    return round(count * 100 / total, 1) if total else None


def shares(counts: Counts) -> Shares:
    return Shares(
        women_pct=share(counts.women, counts.members),
        older_pct=share(counts.older, counts.members),
        younger_pct=share(counts.younger, counts.members),
        priority_pct=share(counts.priority, counts.members),
    )


LABELS: dict[Language, dict[str, str]] = {
    ENGLISH: {
        "members": "members",
        "women": "women",
        "older": "older ({age}+)",
        "younger": "younger",
        "priority": "poor/near-poor/disadvantaged",
    },
    VIETNAMESE: {
        "members": "số hội viên",
        "women": "phụ nữ",
        "older": "người cao tuổi (từ {age} tuổi)",
        "younger": "người trẻ",
        "priority": "hộ nghèo/cận nghèo/khó khăn",
    },
}
"""How a rule's reason names what it counts, in the language asked."""
WITHIN = {ENGLISH: "within", VIETNAMESE: "trong khoảng"}
NO_MEMBERS = {ENGLISH: "no members", VIETNAMESE: "chưa có hội viên"}


def _pct(value: float, language: Language) -> str:
    return format_percent(value) if language == VIETNAMESE else f"{value:g} %"


def _whole(value: int, language: Language) -> str:
    return format_number(value) if language == VIETNAMESE else str(value)


def evaluate(
    profile: QuotaProfile, counts: Counts, language: Language = ENGLISH
) -> list[RuleResult]:
    """Every rule of the profile with its verdict and a reason a person can read, in English
    (`women 48.9 % < 60 %`) or Vietnamese (`phụ nữ 48,9 % < 60 %`)."""
    total = counts.members
    labels = {name: label.format(age=profile.older_age) for name, label in LABELS[language].items()}
    results = [
        RuleResult(
            rule="members",
            passed=profile.min_members <= total <= profile.max_members,
            reason=_range_reason(
                labels["members"], total, profile.min_members, profile.max_members, language
            ),
        )
    ]
    for name in ("women", "older", "younger", "priority"):
        low, high = getattr(profile, f"{name}_min_pct"), getattr(profile, f"{name}_max_pct")
        if low is None and high is None:
            continue
        count = getattr(counts, name)
        passed = (
            total > 0
            and (low is None or count * 100 >= low * total)
            and (high is None or count * 100 <= high * total)
        )
        side = _outside(count, total, low, high)
        reason = _share_reason(labels[name], share(count, total), low, high, side, language)
        results.append(RuleResult(rule=name, passed=passed, reason=reason))
    return results


def _range_reason(label: str, value: int, low: int, high: int, language: Language) -> str:
    shown = _whole(value, language)
    if value < low:
        return f"{label} {shown} < {_whole(low, language)}"
    if value > high:
        return f"{label} {shown} > {_whole(high, language)}"
    return f"{label} {shown} {WITHIN[language]} {_whole(low, language)}-{_whole(high, language)}"


def _outside(count: int, total: int, low: int | None, high: int | None) -> str | None:
    """`<` or `>` when the share is outside its bounds, judged on the exact counts: a share of
    59.96 % shows as 60 % yet fails a 60 % minimum."""
    if low is not None and count * 100 < low * total:
        return "<"
    if high is not None and count * 100 > high * total:
        return ">"
    return None


def _share_reason(
    label: str,
    value: float | None,
    low: int | None,
    high: int | None,
    side: str | None,
    language: Language,
) -> str:
    if value is None:
        return f"{label}: {NO_MEMBERS[language]}"
    shown = _pct(value, language)
    if side is not None:
        return f"{label} {shown} {side} {low if side == '<' else high} %"
    bounds = f"{low if low is not None else 0}-{high if high is not None else 100} %"
    return f"{label} {shown} {WITHIN[language]} {bounds}"


def counts_from_row(row: Any) -> Counts:
    return Counts(**{name: int(getattr(row, name) or 0) for name in COUNT_NAMES})
