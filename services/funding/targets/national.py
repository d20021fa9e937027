"""The national office's view of a programme phase: its own targets' results, the provinces'
targets added up beside them, and the provinces listed by how far they are from theirs."""

from collections import defaultdict
from dataclasses import dataclass
from datetime import date

from sqlmodel import Session

from common import places
from common.auth import Principal
from services.funding.plans import execution
from services.funding.plans import service as plans
from services.funding.targets import report, service
from services.funding.targets.catalogue import CATALOGUE, Unit
from services.funding.targets.models import Target
from services.funding.targets.schemas import (
    ProvinceStanding,
    ProvincesTarget,
    TargetResult,
    Verdict,
)

SUMMED_LEVELS = frozenset({"province", "former_province"})
"""A province's plan's targets that add up to a national one: those over a whole province."""


@dataclass(frozen=True)
class ProvincePlan:
    plan_id: int
    province_code: str
    start: date
    targets: list[Target]


def province_plans(session: Session, principal: Principal, programme: str) -> list[ProvincePlan]:
    """The current approved plans of the phase, with their targets."""
    found = []
    for plan_id, _, province in execution.current_plans(session, principal, None, programme, None):
        plan, series = plans.visible_plan(session, principal, plan_id)
        targets = list(service.targets_of(session, plan_id=plan.id))
        found.append(ProvincePlan(plan_id, province, date(series.start_year, 1, 1), targets))
    return found


def added_up(province_plans: list[ProvincePlan], phase: list[Target]) -> list[ProvincesTarget]:
    """The provinces' minimums of each count, beside the phase's own national minimum."""
    sums: dict[str, float] = defaultdict(float)
    provinces: dict[str, set[str]] = defaultdict(set)
    for plan in province_plans:
        for target in plan.targets:
            summable = CATALOGUE[target.indicator].unit is not Unit.SHARE
            if summable and target.area_level in SUMMED_LEVELS and target.minimum is not None:
                sums[target.indicator] += float(target.minimum)
                provinces[target.indicator].add(plan.province_code)
    own = {
        t.indicator: float(t.minimum)
        for t in phase
        if t.area_level == "nation" and t.minimum is not None
    }
    return [
        ProvincesTarget(
            indicator=indicator,
            provinces_minimum=total,
            provinces=len(provinces[indicator]),
            programme_minimum=own.get(indicator),
        )
        for indicator, total in sorted(sums.items())
    ]


def _distance(results: list[TargetResult]) -> float:
    """The mean gap, as a share of its bound, over the targets counted (0: all met)."""
    shares = []
    for item in results:
        if item.verdict not in (Verdict.MET, Verdict.NOT_MET) or item.gap is None:
            continue
        bound = item.target.minimum if item.target.minimum is not None else item.target.maximum
        shares.append(item.gap / bound if bound else float(item.gap > 0))
    return round(sum(shares) / len(shares), 4) if shares else 0.0


async def standings(
    province_plans: list[ProvincePlan], on: date, figures: report.Figures
) -> list[ProvinceStanding]:
    """Each province's results over its plans' targets, furthest from them first."""
    by_province: dict[str, list[TargetResult]] = defaultdict(list)
    plan_count: dict[str, int] = defaultdict(int)
    asked = [(plan, target) for plan in province_plans for target in plan.targets]
    judged = await report.results([(t, plan.start) for plan, t in asked], on, figures)
    for plan in province_plans:
        plan_count[plan.province_code] += 1
    for (plan, _), judgement in zip(asked, judged, strict=True):
        by_province[plan.province_code].append(judgement)
    found = []
    for province, results in by_province.items():
        verdicts = [item.verdict for item in results]
        unit = places.provinces().get(province)
        found.append(
            ProvinceStanding(
                province_code=province,
                province_name=unit.name if unit else "",
                plans=plan_count[province],
                met=verdicts.count(Verdict.MET),
                not_met=verdicts.count(Verdict.NOT_MET),
                not_counted=verdicts.count(Verdict.NOT_COUNTED),
                distance=_distance(results),
            )
        )
    return sorted(found, key=lambda item: (-item.distance, item.province_code))
