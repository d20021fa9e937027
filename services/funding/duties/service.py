"""Reporting duties against the database: their periods, due dates and statuses, and the
reports sent under them, frozen as sent. Nothing commits.

A period's report is the targets report of the duty's plan (a commune's: the plan's targets
over that commune) or programme phase, as far as the period's last day. It is due `due_days`
after that day; it is `due` until then and `late` after it while unsent, `sent` or
`sent_late` once sent, by Vietnam's calendar.
"""

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import ColumnElement, update
from sqlmodel import Session, col, select

from common import clock, places, scope
from common.auth import Principal, Role
from common.clock import utcnow
from common.problem_codes import Code
from common.problems import Conflict, NotFound, invalid
from common.scope import Kind, Place
from services.funding.catalogue.models import Programme
from services.funding.duties.models import DutyReport, ReportingDuty
from services.funding.duties.schemas import (
    DutyCreate,
    DutyPeriod,
    DutyPublic,
    DutyReportPublic,
    DutyUpdate,
    Frequency,
    PeriodStatus,
    ReportingLevel,
)
from services.funding.plans import service as plans
from services.funding.plans.models import Plan
from services.funding.targets import service as targets
from services.funding.targets.models import Target
from services.funding.targets.schemas import TargetReport

MAX_PERIODS = 120
"""Periods of one duty: sixty years of six-monthly reports."""
RANK = {ReportingLevel.COMMUNE: 0, ReportingLevel.PROVINCE: 1, ReportingLevel.NATIONAL: 2}
SHAPES = {
    Frequency.SIX_MONTHLY: re.compile(r"^(\d{4})-H([12])$"),
    Frequency.ANNUAL: re.compile(r"^(\d{4})$"),
}
FIRST_YEAR, LAST_YEAR = 2000, 2100


@dataclass(frozen=True)
class Period:
    key: str
    start: date
    end: date


def _half(year: int, half: int) -> Period:
    if half == 1:
        return Period(f"{year}-H1", date(year, 1, 1), date(year, 6, 30))
    return Period(f"{year}-H2", date(year, 7, 1), date(year, 12, 31))


def _year(year: int) -> Period:
    return Period(str(year), date(year, 1, 1), date(year, 12, 31))


def _phase(first: int, last: int) -> Period:
    return Period(f"{first}-{last}", date(first, 1, 1), date(last, 12, 31))


def _parse(frequency: Frequency, key: str, field: str) -> Period:
    """The period a key names, if it is one of this frequency (422 on `field` otherwise)."""
    found = SHAPES[frequency].match(key)
    numbers = [int(part) for part in found.groups()] if found else []
    if not numbers or not FIRST_YEAR <= numbers[0] <= LAST_YEAR:
        shape = "2018-H1" if frequency is Frequency.SIX_MONTHLY else "2018"
        reason = f"{key!r} is no period like {shape} within {FIRST_YEAR}–{LAST_YEAR}"
        raise invalid(field, reason, code=Code.INVALID)
    if frequency is Frequency.SIX_MONTHLY:
        return _half(numbers[0], numbers[1])
    return _year(numbers[0])


def _after(frequency: Frequency, period: Period) -> Period:
    if frequency is Frequency.SIX_MONTHLY:
        year = period.start.year
        return _half(year, 2) if period.start.month == 1 else _half(year + 1, 1)
    return _year(period.start.year + 1)


def periods_of(duty: ReportingDuty) -> list[Period]:
    """Every period of the duty, first to last."""
    frequency = Frequency(duty.frequency)
    if frequency is Frequency.END_OF_PHASE:
        first_year, last_year = (int(part) for part in duty.first_period.split("-"))
        return [_phase(first_year, last_year)]
    current = _parse(frequency, duty.first_period, "first_period")
    last = _parse(frequency, duty.last_period, "last_period")
    found = [current]
    while current.end < last.end:
        current = _after(frequency, current)
        found.append(current)
    return found


def due_on(duty: ReportingDuty, period: Period) -> date:
    return period.end + timedelta(days=duty.due_days)


def status(due: date, today: date, report: DutyReport | None) -> PeriodStatus:
    if report is None:
        return PeriodStatus.DUE if today <= due else PeriodStatus.LATE
    return PeriodStatus.SENT_LATE if report.late else PeriodStatus.SENT


# Scope -------------------------------------------------------------------------------------


def _place(duty: ReportingDuty) -> Place:
    return Place(province_code=duty.province_code, commune_code=duty.commune_code)


def visible_duty(session: Session, principal: Principal, duty_id: int) -> ReportingDuty:
    """The duty if the caller reaches its reporter's area (admins every duty); 404 otherwise."""
    duty = session.get(ReportingDuty, duty_id)
    if duty is None or not scope.may_see(principal, Kind.PLAN, _place(duty)):
        raise NotFound(f"No reporting duty {duty_id}.")
    return duty


def duty_filter(principal: Principal) -> ColumnElement[bool]:
    columns = Place(
        province_code=col(ReportingDuty.province_code),
        commune_code=col(ReportingDuty.commune_code),
    )
    return scope.condition(principal, Kind.PLAN, columns)


# Setting a duty ----------------------------------------------------------------------------


def _area(payload: DutyCreate, province: str) -> tuple[str | None, str | None]:
    """The reporter's province and commune, which lie in the plan's province."""
    code = payload.area_code
    if code is None:
        reason = f"a {payload.reporter_level.value} names its code"
        raise invalid("area_code", reason, code=Code.REQUIRED_WITH)
    if payload.reporter_level is ReportingLevel.PROVINCE:
        if code != province:
            reason = f"is not the plan's province {province}"
            raise invalid("area_code", reason, code=Code.INCONSISTENT)
        return code, None
    commune = places.communes().get(code) if len(code) == 5 else None
    if commune is None:
        raise invalid("area_code", f"no commune {code}", code=Code.UNKNOWN_REFERENCE)
    if commune.province_code != province:
        reason = f"{code} is not in the plan's province {province}"
        raise invalid("area_code", reason, code=Code.OUTSIDE_SCOPE)
    return province, code


def _subject(
    session: Session, principal: Principal, payload: DutyCreate
) -> tuple[tuple[int, int], str | None]:
    """The years of what the duty reports on (its plan's or its phase's) and the plan's
    province (none for a phase), once the reporter and what it reports on fit each other."""
    if payload.reporter_level is ReportingLevel.NATIONAL:
        if payload.plan_id is not None or payload.area_code is not None:
            field = "plan_id" if payload.plan_id is not None else "area_code"
            reason = "the national office reports on a programme phase, nationwide"
            raise invalid(field, reason, code=Code.NOT_ALLOWED_WITH)
        if payload.programme_code is None:
            reason = "the national office names the phase it reports on"
            raise invalid("programme_code", reason, code=Code.REQUIRED_WITH)
        phase = session.get(Programme, payload.programme_code)
        if phase is None:
            reason = f"no programme {payload.programme_code!r}"
            raise invalid("programme_code", reason, code=Code.UNKNOWN_REFERENCE)
        return (phase.start_year, phase.end_year), None
    if payload.programme_code is not None or payload.plan_id is None:
        field = "programme_code" if payload.programme_code is not None else "plan_id"
        reason = f"a {payload.reporter_level.value} reports on its plan"
        code = Code.NOT_ALLOWED_WITH if field == "programme_code" else Code.REQUIRED_WITH
        raise invalid(field, reason, code=code)
    try:
        _, series = plans.visible_plan(session, principal, payload.plan_id)
    except NotFound:
        reason = f"no plan {payload.plan_id}"
        raise invalid("plan_id", reason, code=Code.UNKNOWN_REFERENCE) from None
    return (series.start_year, series.end_year), series.province_code


def _periods(payload: DutyCreate, years: tuple[int, int]) -> tuple[str, str]:
    """The first and last periods' keys (an end-of-phase duty's one: its subject's years)."""
    if payload.frequency is Frequency.END_OF_PHASE:
        for field in ("first_period", "last_period"):
            if getattr(payload, field) is not None:
                reason = "an end-of-phase report covers the plan's or phase's years"
                raise invalid(field, reason, code=Code.NOT_ALLOWED_WITH)
        key = _phase(*years).key
        return key, key
    if payload.first_period is None:
        reason = f"a {payload.frequency.value} duty names its first period"
        raise invalid("first_period", reason, code=Code.REQUIRED_WITH)
    first = _parse(payload.frequency, payload.first_period, "first_period")
    default_last = f"{years[1]}-H2" if payload.frequency is Frequency.SIX_MONTHLY else str(years[1])
    last = _parse(payload.frequency, payload.last_period or default_last, "last_period")
    if last.end < first.end:
        raise invalid("last_period", "is before first_period", code=Code.DATE_OUT_OF_ORDER)
    return first.key, last.key


def _check_recipient(reporter: ReportingLevel, recipient: ReportingLevel) -> None:
    if RANK[recipient] < RANK[reporter]:
        reason = f"a {reporter.value} reports to its own level or above"
        raise invalid("recipient_level", reason, code=Code.INCONSISTENT)


def create(session: Session, principal: Principal, payload: DutyCreate) -> ReportingDuty:
    """A new duty, once its reporter lies in the caller's area (422 otherwise)."""
    _check_recipient(payload.reporter_level, payload.recipient_level)
    years, plan_province = _subject(session, principal, payload)
    province, commune = _area(payload, plan_province) if plan_province else (None, None)
    if not _may_place(principal, province, commune):
        raise invalid("reporter_level", "is outside your area", code=Code.OUTSIDE_SCOPE)
    first, last = _periods(payload, years)
    duty = ReportingDuty(
        title=payload.title,
        reporter_level=payload.reporter_level.value,
        province_code=province,
        commune_code=commune,
        recipient=payload.recipient,
        recipient_level=payload.recipient_level.value,
        frequency=payload.frequency.value,
        plan_id=payload.plan_id,
        programme_code=payload.programme_code,
        first_period=first,
        last_period=last,
        due_days=payload.due_days,
        created_by=principal.subject,
    )
    if len(periods_of(duty)) > MAX_PERIODS:
        reason = f"at most {MAX_PERIODS} periods"
        raise invalid("last_period", reason, code=Code.PERIOD_TOO_LONG)
    session.add(duty)
    session.flush()
    return duty


def _may_place(principal: Principal, province: str | None, commune: str | None) -> bool:
    """Officers set the duties of their area; the national office's are the admins'."""
    if province is None:
        return principal.role is Role.ADMIN
    return scope.covers_place(principal, province, commune)


def change(session: Session, duty: ReportingDuty, payload: DutyUpdate) -> ReportingDuty:
    changes = payload.model_dump(exclude_unset=True)
    if "recipient_level" in changes:
        _check_recipient(
            ReportingLevel(duty.reporter_level), ReportingLevel(changes["recipient_level"])
        )
    for name, value in changes.items():
        setattr(duty, name, value)
    duty.updated_at = utcnow()
    session.add(duty)
    session.flush()
    return duty


# Periods and reports -----------------------------------------------------------------------


def reports_of(session: Session, duty: ReportingDuty) -> dict[str, DutyReport]:
    rows = session.exec(select(DutyReport).where(col(DutyReport.duty_id) == duty.id)).all()
    return {row.period: row for row in rows}


def period_list(session: Session, duty: ReportingDuty) -> list[DutyPeriod]:
    sent = reports_of(session, duty)
    today = clock.today()
    found = []
    for period in periods_of(duty):
        report = sent.get(period.key)
        due = report.due_on if report is not None else due_on(duty, period)
        found.append(
            DutyPeriod(
                period=period.key,
                period_from=period.start,
                period_to=period.end,
                due_on=due,
                status=status(due, today, report),
                report_id=None if report is None else report.id,
                sent_at=None if report is None else report.sent_at,
            )
        )
    return found


def _already_sent(session: Session, duty: ReportingDuty, key: str) -> None:
    sent = reports_of(session, duty).get(key)
    if sent is not None:
        raise Conflict(
            f"The report for {key} was sent already; it stays as it was sent.",
            code=Code.REPORT_ALREADY_SENT,
            report_id=sent.id,
        )


def to_send(session: Session, duty: ReportingDuty, key: str) -> Period:
    """The period to report, once it has ended and its report is not sent yet."""
    period = next((p for p in periods_of(duty) if p.key == key), None)
    if period is None:
        reason = f"{key} is not one of the duty's periods ({duty.first_period}–{duty.last_period})"
        raise invalid("period", reason, code=Code.OUT_OF_RANGE)
    if period.end >= clock.today():
        reason = f"{key} ends on {period.end.isoformat()}: its report is sent after it ends"
        raise invalid("period", reason, code=Code.DATE_IN_FUTURE)
    _already_sent(session, duty, key)
    return period


def subject(session: Session, duty: ReportingDuty) -> tuple[Sequence[Target], date, int | None]:
    """The targets the duty's report judges, the day their plan or phase began, and the plan
    version they are of: the plan's current approved version (a revision's targets once it is
    approved; the version named before then). A commune's are its plan's targets over that
    commune."""
    if duty.plan_id is None:
        phase = session.get(Programme, duty.programme_code)
        assert phase is not None
        found = targets.targets_of(session, programme_code=duty.programme_code)
        return found, date(phase.start_year, 1, 1), None
    named = session.get(Plan, duty.plan_id)
    assert named is not None
    plan = plans.current_version(session, named.series_id) or named
    assert plan.id is not None
    start = date(plans.series_of(session, plan).start_year, 1, 1)
    found = targets.targets_of(session, plan_id=plan.id)
    if duty.commune_code is not None:
        found = [t for t in found if t.area_level == "commune" and t.area_code == duty.commune_code]
    return found, start, plan.id


def record(
    session: Session,
    principal: Principal,
    duty: ReportingDuty,
    period: Period,
    report: TargetReport,
) -> DutyReport:
    """Stores the report as sent; two senders of one period: the second gets 409."""
    session.execute(
        update(ReportingDuty)
        .where(col(ReportingDuty.id) == duty.id)
        .values(updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    _already_sent(session, duty, period.key)
    due = due_on(duty, period)
    sent_at = utcnow()
    assert duty.id is not None
    row = DutyReport(
        duty_id=duty.id,
        period=period.key,
        period_from=period.start,
        period_to=period.end,
        due_on=due,
        late=clock.business_date(sent_at) > due,
        content=report.model_dump(mode="json"),
        sent_by=principal.subject,
        sent_at=sent_at,
    )
    session.add(row)
    session.flush()
    return row


def sent_report(session: Session, duty: ReportingDuty, report_id: int) -> DutyReport:
    row = session.get(DutyReport, report_id)
    if row is None or row.duty_id != duty.id:
        raise NotFound(f"No report {report_id} of this duty.")
    return row


def public(duty: ReportingDuty) -> DutyPublic:
    assert duty.id is not None
    return DutyPublic(
        id=duty.id,
        title=duty.title,
        reporter_level=ReportingLevel(duty.reporter_level),
        province_code=duty.province_code,
        commune_code=duty.commune_code,
        area_name=_area_name(duty),
        recipient=duty.recipient,
        recipient_level=ReportingLevel(duty.recipient_level),
        frequency=Frequency(duty.frequency),
        plan_id=duty.plan_id,
        programme_code=duty.programme_code,
        first_period=duty.first_period,
        last_period=duty.last_period,
        due_days=duty.due_days,
        created_by=duty.created_by,
        created_at=duty.created_at,
        updated_at=duty.updated_at,
    )


def _area_name(duty: ReportingDuty) -> str | None:
    if duty.commune_code is not None:
        commune = places.communes().get(duty.commune_code)
        return None if commune is None else commune.name
    if duty.province_code is not None:
        province = places.provinces().get(duty.province_code)
        return None if province is None else province.name
    return None


def report_public(row: DutyReport) -> DutyReportPublic:
    assert row.id is not None
    return DutyReportPublic(
        id=row.id,
        duty_id=row.duty_id,
        period=row.period,
        period_from=row.period_from,
        period_to=row.period_to,
        due_on=row.due_on,
        late=row.late,
        sent_by=row.sent_by,
        sent_at=row.sent_at,
        report=TargetReport.model_validate(row.content),
    )
