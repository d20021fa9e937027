"""A target report as far as a day: what `GET /api/v1/reports/targets` answers, and what a
reporting duty freezes when its report is sent."""

from collections.abc import Sequence
from datetime import date

from services.funding.targets import report
from services.funding.targets.models import Target
from services.funding.targets.schemas import TargetReport, Verdict


async def target_report(
    targets: Sequence[Target],
    start: date,
    on: date,
    figures: report.Figures,
    *,
    plan_id: int | None = None,
    programme_code: str | None = None,
) -> TargetReport:
    """The targets (of one plan version or phase, which began on `start`) judged as far as
    `on`, with how many are met, not met and not counted."""
    results = await report.results([(target, start) for target in targets], on, figures)
    verdicts = [item.verdict for item in results]
    return TargetReport(
        plan_id=plan_id,
        programme_code=programme_code,
        on=on,
        met=verdicts.count(Verdict.MET),
        not_met=verdicts.count(Verdict.NOT_MET),
        not_counted=verdicts.count(Verdict.NOT_COUNTED),
        results=results,
    )
