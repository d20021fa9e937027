"""The rules a club's activities and meetings keep, as pure functions: one place for each rule.

Per-field rules raise `ValueError` with a reason a person can read (the schemas turn it into a
422 naming the field); rules that need the club raise the domain's problems directly.
"""

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date

from common.problem_codes import Code
from common.problems import Conflict, ValidationFailed, field_error, invalid, rule_error
from services.clubs.domain import ActivityArea, ClubStatus
from services.clubs.models import Club


def check_no_repeats(member_ids: list[int]) -> list[int]:
    """Each attending member is listed once; a repeat is a client's mistake, not a count."""
    repeated = sorted(i for i, times in Counter(member_ids).items() if times > 1)
    if repeated:
        listed = ", ".join(map(str, repeated))
        raise rule_error(Code.DUPLICATE_VALUE, f"lists members more than once: {listed}")
    return member_ids


def check_takes_new_records(club: Club) -> None:
    """A dissolved club keeps its history but records nothing new (409)."""
    if club.status == ClubStatus.DISSOLVED:
        raise Conflict(
            f"Club {club.id} is dissolved; it records no new activities or meetings.",
            code=Code.CLUB_DISSOLVED,
        )


def check_after_founding(club: Club, held_on: date) -> None:
    """Nothing happens in a club before the commune's founding decision."""
    founded = club.founding_decision_date
    if founded is not None and held_on < founded:
        reason = f"is before the club's founding decision ({founded.isoformat()})"
        raise invalid("held_on", reason, code=Code.DATE_OUT_OF_ORDER)


def check_period(start: date | None, end: date | None) -> None:
    if start is not None and end is not None and start > end:
        reason = f"is after to ({end.isoformat()})"
        raise ValidationFailed(
            f"from: {reason}",
            errors=[field_error("from", reason, location="query", code=Code.DATE_OUT_OF_ORDER)],
        )


def coverage_period(start: date | None, end: date | None, today: date) -> tuple[date, date]:
    """The period a coverage report is for: by default the calendar year to date.

    A report asked only `to` a date covers that date's calendar year up to it.
    """
    end = end or today
    start = start or date(end.year, 1, 1)
    check_period(start, end)
    return start, end


def check_health_checks(health_checks: int, attendance: int) -> None:
    """Health checks are done on members at the meeting, so there are never more than came."""
    if health_checks > attendance:
        reason = f"is {health_checks} but only {attendance} members attended"
        raise invalid("health_checks", reason, code=Code.HEALTH_CHECKS_ABOVE_ATTENDANCE)


def not_active_members(member_ids: Iterable[int], active_ids: Iterable[int], on: date) -> None:
    """Refuses (422) the attending members who were not active members of the club on `on`."""
    offending = sorted(set(member_ids) - set(active_ids))
    if offending:
        listed = ", ".join(map(str, offending))
        reason = f"not active members of this club on {on.isoformat()}: {listed}"
        raise ValidationFailed(
            f"attending_member_ids: {reason}",
            errors=[field_error("attending_member_ids", reason, code=Code.NOT_ACTIVE_MEMBER)],
            member_ids=offending,
        )


@dataclass(frozen=True)
class AreaTally:
    activities: int
    participants: int
    beneficiaries: int


NO_ACTIVITY = AreaTally(0, 0, 0)


def missing_areas(tallies: Mapping[ActivityArea, AreaTally]) -> list[ActivityArea]:
    """The areas without an activity, in the model's order."""
    return [area for area in ActivityArea if tallies.get(area, NO_ACTIVITY).activities == 0]


def months_in(start: date, end: date) -> int:
    """Calendar months the period touches (a part of a month counts as that month)."""
    return (end.year - start.year) * 12 + end.month - start.month + 1


def months_with_a_meeting(days: Sequence[date]) -> int:
    return len({(day.year, day.month) for day in days})
