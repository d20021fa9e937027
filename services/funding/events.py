"""The funding service's events: allocations reaching club funds, province plans approved."""

from common.events.catalogue import EventType
from common.events.outbox import Event, Scope
from services.funding.flows.models import Allocation, Commitment, Receipt
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


def _flow(flow: Commitment | Receipt) -> dict[str, object]:
    return {
        "funder_id": flow.funder_id,
        "plan_id": flow.plan_id,
        "plan_line_id": flow.plan_line_id,
        "source": flow.source,
        "province_code": flow.province_code,
        "amount": flow.amount,
    }


def commitment_recorded(commitment: Commitment, withdrawn: bool = False) -> Event:
    data = {
        "commitment_id": commitment.id,
        **_flow(commitment),
        "club_id": commitment.club_id,
        "committed_on": commitment.committed_on.isoformat(),
    }
    kind = EventType.COMMITMENT_WITHDRAWN if withdrawn else EventType.COMMITMENT_RECORDED
    if withdrawn:
        data["withdrawal_reason"] = commitment.withdrawal_reason
    scope = Scope(province_code=commitment.province_code, funder_id=commitment.funder_id)
    return Event(kind, f"commitment:{commitment.id}", data, scope)


def receipt_recorded(receipt: Receipt) -> Event:
    data = {
        "receipt_id": receipt.id,
        **_flow(receipt),
        "commitment_id": receipt.commitment_id,
        "received_on": receipt.received_on.isoformat(),
    }
    scope = Scope(province_code=receipt.province_code, funder_id=receipt.funder_id)
    return Event(EventType.RECEIPT_RECORDED, f"receipt:{receipt.id}", data, scope)


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
