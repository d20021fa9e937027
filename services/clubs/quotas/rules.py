"""Composition of a club on a date, and its quota profile's rules, evaluated exactly.

Counting happens in SQL (one grouped query for any number of clubs); pass/fail compares whole
numbers (`women * 100 >= min_pct * members`), so no rounding ever flips a verdict.
"""

from datetime import date

from sqlalchemy import and_, case, func, literal, or_, select
from sqlalchemy.sql import ColumnElement, Select

from services.clubs.domain import PRIORITY_HOUSEHOLDS, Gender
from services.clubs.models import Club, Member, QuotaProfile
from services.clubs.quotas.schemas import Counts, RuleResult, Shares

COUNT_NAMES = ("members", "women", "older", "younger", "priority", "home_care_volunteers")


def active_on(on: date) -> ColumnElement[bool]:
    return and_(Member.joined_on <= on, or_(Member.left_on.is_(None), Member.left_on > on))


def _flag(condition: ColumnElement[bool]) -> ColumnElement[int]:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


def counts_by_club(on: date) -> Select:
    """Per club with active members on `on`: the counts the profile's rules need."""
    threshold = (literal(on.year) - QuotaProfile.older_age) * 10000 + (on.month * 100 + on.day)
    older = Member.birth_key <= threshold
    return (
        select(
            Member.club_id.label("club_id"),
            func.count().label("members"),
            _flag(Member.gender == Gender.FEMALE.value).label("women"),
            _flag(older).label("older"),
            _flag(~older).label("younger"),
            _flag(Member.household_status.in_([h.value for h in PRIORITY_HOUSEHOLDS])).label(
                "priority"
            ),
            _flag(Member.home_care_volunteer).label("home_care_volunteers"),
        )
        .join(Club, Club.id == Member.club_id)
        .join(QuotaProfile, QuotaProfile.id == Club.quota_profile_id)
        .where(active_on(on))
        .group_by(Member.club_id)
    )


def _share_rule(
    count: ColumnElement, members: ColumnElement, low: ColumnElement, high: ColumnElement
) -> ColumnElement[bool]:
    return and_(
        or_(low.is_(None), count * 100 >= low * members),
        or_(high.is_(None), count * 100 <= high * members),
    )


def compliant_condition(counts) -> ColumnElement[bool]:
    """SQL: the club (joined with its profile and `counts`) meets every rule."""
    members = func.coalesce(counts.c.members, 0)

    def of(name: str) -> ColumnElement:
        return func.coalesce(getattr(counts.c, name), 0)

    return and_(
        members >= QuotaProfile.min_members,
        members <= QuotaProfile.max_members,
        _share_rule(of("women"), members, QuotaProfile.women_min_pct, QuotaProfile.women_max_pct),
        _share_rule(of("older"), members, QuotaProfile.older_min_pct, QuotaProfile.older_max_pct),
        _share_rule(
            of("younger"), members, QuotaProfile.younger_min_pct, QuotaProfile.younger_max_pct
        ),
        _share_rule(
            of("priority"), members, QuotaProfile.priority_min_pct, QuotaProfile.priority_max_pct
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


def _pct(value: float | None) -> str:
    if value is None:
        return "n/a"
    return f"{value:g} %"


def evaluate(profile: QuotaProfile, counts: Counts) -> list[RuleResult]:
    """Every rule of the profile with its verdict and a reason a person can read."""
    total = counts.members
    results = [
        RuleResult(
            rule="members",
            passed=profile.min_members <= total <= profile.max_members,
            reason=_range_reason("members", total, profile.min_members, profile.max_members, ""),
        )
    ]
    labels = {
        "women": "women",
        "older": f"older ({profile.older_age}+)",
        "younger": "younger",
        "priority": "poor/near-poor/disadvantaged",
    }
    for name, label in labels.items():
        low, high = getattr(profile, f"{name}_min_pct"), getattr(profile, f"{name}_max_pct")
        if low is None and high is None:
            continue
        count = getattr(counts, name)
        passed = (
            total > 0
            and (low is None or count * 100 >= low * total)
            and (high is None or count * 100 <= high * total)
        )
        value = share(count, total)
        results.append(
            RuleResult(
                rule=name, passed=passed, reason=_share_reason(label, value, low, high, passed)
            )
        )
    return results


def _range_reason(label: str, value: int, low: int, high: int, unit: str) -> str:
    if value < low:
        return f"{label} {value}{unit} < {low}{unit}"
    if value > high:
        return f"{label} {value}{unit} > {high}{unit}"
    return f"{label} {value}{unit} within {low}-{high}{unit}"


def _share_reason(
    label: str, value: float | None, low: int | None, high: int | None, passed: bool
) -> str:
    if value is None:
        return f"{label}: no members"
    shown = _pct(value)
    if not passed and low is not None and value < low:
        return f"{label} {shown} < {low} %"
    if not passed and high is not None:
        return f"{label} {shown} > {high} %"
    bounds = f"{low if low is not None else 0}-{high if high is not None else 100} %"
    return f"{label} {shown} within {bounds}"


def zero_counts() -> Counts:
    return Counts(**dict.fromkeys(COUNT_NAMES, 0))


def counts_from_row(row) -> Counts:
    return Counts(**{name: int(getattr(row, name) or 0) for name in COUNT_NAMES})
