"""Targets as plans and programme phases state them: checked, stored, shown."""

from collections.abc import Sequence
from datetime import date
from decimal import Decimal

from sqlalchemy import ColumnElement, func
from sqlmodel import Session, col, select

from common import places
from common.auth import Principal
from common.problem_codes import Code
from common.problems import NotFound, invalid
from services.funding.targets.catalogue import CATALOGUE, Counted, IndicatorDefinition, Level, Unit
from services.funding.targets.models import Target
from services.funding.targets.schemas import AreaPublic, TargetIn, TargetPublic

MAX_TARGETS = 300
"""Targets of one plan or phase: far more than any plan states."""


def definition_of(code: str) -> IndicatorDefinition:
    found = CATALOGUE.get(code)
    if found is None:
        raise NotFound(f"No indicator {code!r}; GET /api/v1/indicators lists them.")
    return found


def _area_name(level: Level, code: str | None) -> str | None:
    if code is None:
        return None
    if level is Level.PROVINCE or level is Level.COMMUNE:
        unit = (places.provinces() if level is Level.PROVINCE else places.communes()).get(code)
        return None if unit is None else unit.name
    former = _former(level).get(code)
    return None if former is None else former.name


def _former(level: Level) -> dict[str, places.FormerUnit]:
    if level is Level.FORMER_PROVINCE:
        return places.former_provinces()
    return places.former_districts()


def _today_province(level: Level, code: str) -> str | None:
    """The province of today the area is in (None: no such unit)."""
    if level is Level.PROVINCE:
        return code if code in places.provinces() else None
    if level is Level.COMMUNE:
        commune = places.communes().get(code)
        return None if commune is None else commune.province_code
    former = _former(level).get(code)
    return None if former is None else former.today_province_code


def _check_area(payload: TargetIn, definition: IndicatorDefinition, province: str | None) -> None:
    """`province`: a plan's province, which its targets' areas must lie in (None: a programme
    phase's, anywhere)."""
    area = payload.area
    if area.level not in definition.levels:
        reason = f"{definition.code} is not counted by {area.level.value}"
        raise invalid("area.level", reason, code=Code.NOT_ALLOWED_WITH)
    if area.level is Level.NATION:
        if area.code is not None:
            raise invalid("area.code", "the nation has no code", code=Code.NOT_ALLOWED_WITH)
        if province is not None:
            reason = "a province's plan promises nothing for the nation"
            raise invalid("area.level", reason, code=Code.OUTSIDE_SCOPE)
        return
    if area.code is None:
        raise invalid("area.code", f"a {area.level.value} needs its code", code=Code.REQUIRED_WITH)
    found_in = _today_province(area.level, area.code)
    if found_in is None:
        reason = f"no {area.level.value.replace('_', ' ')} {area.code}"
        raise invalid("area.code", reason, code=Code.UNKNOWN_REFERENCE)
    if province is not None and found_in != province:
        reason = f"{area.code} is not in the plan's province {province}"
        raise invalid("area.code", reason, code=Code.OUTSIDE_SCOPE)


def _check_bound(field: str, value: float | None, unit: Unit) -> None:
    if value is None:
        return
    if unit is Unit.SHARE:
        if value > 100:
            raise invalid(field, "a share is at most 100 (%)", code=Code.OUT_OF_RANGE)
        if Decimal(str(value)) != round(Decimal(str(value)), 2):
            raise invalid(field, "has more than 2 decimals", code=Code.TOO_MANY_DECIMALS)
    elif value != int(value):
        raise invalid(field, f"a {unit.value} is a whole number", code=Code.TOO_MANY_DECIMALS)


def _check_bounds(payload: TargetIn, definition: IndicatorDefinition) -> None:
    if payload.minimum is None and payload.maximum is None:
        reason = "give a minimum, a maximum or both"
        raise invalid("minimum", reason, code=Code.REQUIRED_WITH)
    _check_bound("minimum", payload.minimum, definition.unit)
    _check_bound("maximum", payload.maximum, definition.unit)
    low, high = payload.minimum, payload.maximum
    if low is not None and high is not None and low > high:
        raise invalid("maximum", "is below the minimum", code=Code.INCONSISTENT)
    if definition.parameter is not None and payload.parameter is None:
        reason = f"{definition.code} needs {definition.parameter}"
        raise invalid("parameter", reason, code=Code.REQUIRED_WITH)
    if definition.parameter is None and payload.parameter is not None:
        reason = f"{definition.code} takes no parameter"
        raise invalid("parameter", reason, code=Code.NOT_ALLOWED_WITH)


def _check_period(payload: TargetIn, definition: IndicatorDefinition) -> None:
    if payload.period_from is not None and payload.period_from > payload.period_to:
        raise invalid("period_to", "is before period_from", code=Code.DATE_OUT_OF_ORDER)
    for name, day in (("period_from", payload.period_from), ("period_to", payload.period_to)):
        if day is not None and not date(2000, 1, 1) <= day <= date(2100, 12, 31):
            raise invalid(name, "is outside 2000–2100", code=Code.OUT_OF_RANGE)
    if definition.counted is Counted.ON_DATE:
        if payload.period_from is not None:
            reason = f"{definition.code} is counted on a date: give period_to only"
            raise invalid("period_from", reason, code=Code.NOT_ALLOWED_WITH)
        if payload.each_year:
            reason = f"{definition.code} is counted on a date, not each year"
            raise invalid("each_year", reason, code=Code.NOT_ALLOWED_WITH)


def check(payload: TargetIn, province: str | None) -> IndicatorDefinition:
    """The target's indicator, once everything the target says fits it (422 otherwise)."""
    definition = CATALOGUE.get(payload.indicator)
    if definition is None:
        reason = f"no indicator {payload.indicator!r} (GET /api/v1/indicators lists them)"
        raise invalid("indicator", reason, code=Code.UNKNOWN_REFERENCE)
    _check_area(payload, definition, province)
    _check_bounds(payload, definition)
    _check_period(payload, definition)
    return definition


def _decimal(value: float | None) -> Decimal | None:
    return None if value is None else Decimal(str(value))


def add(
    session: Session,
    principal: Principal,
    payload: TargetIn,
    *,
    plan_id: int | None = None,
    programme_code: str | None = None,
) -> Target:
    owned = _owned_by(plan_id, programme_code)
    if session.exec(select(func.count()).select_from(Target).where(owned)).one() >= MAX_TARGETS:
        reason = f"at most {MAX_TARGETS} targets"
        raise invalid("indicator", reason, code=Code.TOO_MANY_RECORDS)
    target = Target(
        plan_id=plan_id,
        programme_code=programme_code,
        indicator=payload.indicator,
        area_level=payload.area.level.value,
        area_code=payload.area.code,
        period_from=payload.period_from,
        period_to=payload.period_to,
        minimum=_decimal(payload.minimum),
        maximum=_decimal(payload.maximum),
        parameter=payload.parameter,
        each_year=payload.each_year,
        wording=payload.wording,
        created_by=principal.subject,
    )
    session.add(target)
    session.flush()
    return target


def copy_to(session: Session, source_plan_id: int, plan_id: int) -> None:
    """A revision starts with the targets of the version it copies."""
    for target in targets_of(session, plan_id=source_plan_id):
        copied = Target.model_validate(target.model_dump(exclude={"id", "plan_id"}))
        copied.plan_id = plan_id
        session.add(copied)


def _owned_by(plan_id: int | None, programme_code: str | None) -> ColumnElement[bool]:
    """The targets of a plan version, or else of a programme phase."""
    if plan_id is not None:
        return col(Target.plan_id) == plan_id
    return col(Target.programme_code) == programme_code


def targets_of(
    session: Session, *, plan_id: int | None = None, programme_code: str | None = None
) -> Sequence[Target]:
    owned = _owned_by(plan_id, programme_code)
    return session.exec(select(Target).where(owned).order_by(col(Target.id))).all()


def _number(value: Decimal | None) -> float | None:
    if value is None:
        return None
    return int(value) if value == value.to_integral_value() else float(value)


def public(target: Target) -> TargetPublic:
    assert target.id is not None
    level = Level(target.area_level)
    return TargetPublic(
        id=target.id,
        plan_id=target.plan_id,
        programme_code=target.programme_code,
        indicator=target.indicator,
        unit=CATALOGUE[target.indicator].unit,
        area=AreaPublic(
            level=level, code=target.area_code, name=_area_name(level, target.area_code)
        ),
        period_from=target.period_from,
        period_to=target.period_to,
        minimum=_number(target.minimum),
        maximum=_number(target.maximum),
        parameter=target.parameter,
        each_year=target.each_year,
        wording=target.wording,
        created_by=target.created_by,
        created_at=target.created_at,
    )
