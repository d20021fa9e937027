"""The rules a club must keep: where it is, when it was founded, how its status moves."""

from datetime import date

from sqlalchemy import func
from sqlmodel import Session, select

from common import places
from common.problem_codes import Code
from common.problems import Conflict, ValidationFailed, field_error
from services.clubs.domain import STATUS_TRANSITIONS, ClubStatus
from services.clubs.models import Activity, Meeting


def check_location(province_code: str, commune_code: str) -> None:
    """The province exists and the commune is one of its communes (422 naming the field)."""
    if province_code not in places.provinces():
        raise ValidationFailed(
            f"province_code: no province {province_code}",
            errors=[
                field_error(
                    "province_code", f"no province {province_code}", code=Code.UNKNOWN_REFERENCE
                )
            ],
        )
    commune = places.communes().get(commune_code)
    if commune is None or commune.province_code != province_code:
        if commune is None:
            reason, code = f"no commune {commune_code}", Code.UNKNOWN_REFERENCE
        else:
            reason = (
                f"commune {commune_code} is in province {commune.province_code}, "
                f"not {province_code}"
            )
            code = Code.INCONSISTENT
        raise ValidationFailed(
            f"commune_code: {reason}", errors=[field_error("commune_code", reason, code=code)]
        )


def check_founding_before_records(session: Session, club_id: int, founded: date | None) -> None:
    """A club cannot be founded after activities or meetings it already has on record."""
    if founded is None:
        return
    earliest = [
        session.exec(select(func.min(model.held_on)).where(model.club_id == club_id)).one()
        for model in (Activity, Meeting)
    ]
    first = min((day for day in earliest if day is not None), default=None)
    if first is not None and founded > first:
        raise ValidationFailed(
            "founding_decision_date: after the club's first record",
            errors=[
                field_error(
                    "founding_decision_date",
                    f"is after the club's first activity or meeting ({first.isoformat()})",
                    code=Code.DATE_OUT_OF_ORDER,
                )
            ],
        )


def check_transition(current: ClubStatus, wanted: ClubStatus) -> None:
    if wanted not in STATUS_TRANSITIONS[current]:
        allowed = ", ".join(sorted(STATUS_TRANSITIONS[current])) or "none (dissolved is final)"
        raise Conflict(
            f"A {current.value} club cannot become {wanted.value}; allowed: {allowed}.",
            code=Code.CLUB_STATUS_TRANSITION,
        )
