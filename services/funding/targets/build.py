"""A target report as far as a day: what `GET /api/v1/reports/targets` answers, and what a
reporting duty freezes when its report is sent."""

from collections.abc import Sequence
from datetime import date

from sqlmodel import Session

from common import places
from services.funding.catalogue.models import Programme
from services.funding.plans.models import Plan, PlanSeries
from services.funding.targets import report
from services.funding.targets.models import Target
from services.funding.targets.schemas import TargetReport, Verdict


def _years(start: int, end: int) -> str:
    return str(start) if start == end else f"{start}–{end}"


def heading(session: Session, plan_id: int | None, programme_code: str | None) -> str | None:
    """What the report is of, as a document to the People's Committee names it: the plan's
    title, its province and years, or the programme phase's name, decision and years."""
    if plan_id is not None:
        plan = session.get(Plan, plan_id)
        series = None if plan is None else session.get(PlanSeries, plan.series_id)
        if plan is None or series is None:
            return None
        province = places.provinces().get(series.province_code)
        where = province.name if province else series.province_code
        return f"{plan.title} ({where}, {_years(series.start_year, series.end_year)})"
    phase = None if programme_code is None else session.get(Programme, programme_code)
    if phase is None:
        return None
    return f"{phase.name} ({phase.decision}, {_years(phase.start_year, phase.end_year)})"


async def target_report(
    targets: Sequence[Target],
    start: date,
    on: date,
    figures: report.Figures,
    *,
    plan_id: int | None = None,
    programme_code: str | None = None,
    heading: str | None = None,
) -> TargetReport:
    """The targets (of one plan version or phase, which began on `start`) judged as far as
    `on`, with how many are met, not met and not counted."""
    results = await report.results([(target, start) for target in targets], on, figures)
    verdicts = [item.verdict for item in results]
    return TargetReport(
        plan_id=plan_id,
        programme_code=programme_code,
        heading=heading,
        on=on,
        met=verdicts.count(Verdict.MET),
        not_met=verdicts.count(Verdict.NOT_MET),
        not_counted=verdicts.count(Verdict.NOT_COUNTED),
        results=results,
    )
