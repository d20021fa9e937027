"""The funding service's events: allocations reaching club funds, province plans approved."""

from common.events.catalogue import EventType
from common.events.outbox import Event, Scope
from services.funding.flows.models import Allocation
from services.funding.plans.models import Plan, PlanSeries


def allocation_recorded(allocation: Allocation, fund_id: int, entry_id: int) -> Event:
    data = {
        "allocation_id": allocation.id,
        "funder_id": allocation.funder_id,
        "plan_id": allocation.plan_id,
        "source": allocation.source,
        "programme_code": allocation.programme_code,
        "club_id": allocation.club_id,
        "province_code": allocation.province_code,
        "commune_code": allocation.commune_code,
        "fund_kind": allocation.fund_kind,
        "amount": allocation.amount,
        "allocated_on": allocation.allocated_on.isoformat(),
        "fund_id": fund_id,
        "ledger_entry_id": entry_id,
    }
    scope = Scope(
        province_code=allocation.province_code,
        commune_code=allocation.commune_code,
        club_id=allocation.club_id,
        funder_id=allocation.funder_id,
    )
    return Event(EventType.ALLOCATION_RECORDED, f"allocation:{allocation.id}", data, scope)


def plan_approved(plan: Plan, series: PlanSeries) -> Event:
    data = {
        "plan_id": plan.id,
        "series_id": series.id,
        "version": plan.version,
        "title": plan.title,
        "province_code": series.province_code,
        "programme_code": series.programme_code,
        "start_year": series.start_year,
        "end_year": series.end_year,
        "approved_by": plan.approved_by,
    }
    scope = Scope(province_code=series.province_code)
    return Event(EventType.PLAN_APPROVED, f"plan:{series.id}", data, scope)
