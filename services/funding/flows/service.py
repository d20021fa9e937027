"""The rules of money flows against the database. Nothing here commits: the request does."""

from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, update
from sqlmodel import Session, col, select

from common.auth import Principal, Role
from common.clock import utcnow
from common.club_directory import ClubFacts
from common.problem_codes import Code
from common.problems import Conflict, invalid
from services.funding import events
from services.funding.catalogue.models import Funder
from services.funding.flows.models import Allocation, Commitment, Receipt
from services.funding.flows.schemas import AllocationCreate, FlowIn, ReceiptCreate
from services.funding.models import outbox
from services.funding.plans import service as plans
from services.funding.plans.models import Plan, PlanLine, PlanLineAmount, PlanSeries
from services.funding.rules import PlanStatus, TransferStatus


@dataclass(frozen=True)
class Target:
    """Whose money, and the plan line it is recorded against."""

    funder: Funder
    plan: Plan
    series: PlanSeries
    line: PlanLine

    def columns(self) -> dict[str, Any]:
        """The columns every flow table takes from its funder and plan line."""
        return {
            "funder_id": self.funder.id,
            "plan_id": self.plan.id,
            "plan_line_id": self.line.id,
            "series_id": self.series.id,
            "line_number": self.line.number,
            "source": self.funder.source,
            "province_code": self.series.province_code,
        }


def funder_id_of(principal: Principal, payload: FlowIn) -> int:
    """A partner's flows are always its own funder's; everyone else names the funder."""
    if principal.role is Role.PARTNER:
        if principal.funder_id is None:
            reason = "your API client is bound to no funder"
            raise invalid("funder_id", reason, code=Code.FUNDER_MISSING)
        if payload.funder_id not in (None, principal.funder_id):
            reason = "a partner records only its own funder's money"
            raise invalid("funder_id", reason, code=Code.OUTSIDE_SCOPE)
        return principal.funder_id
    if payload.funder_id is None:
        raise invalid("funder_id", "is required", code=Code.MISSING)
    return payload.funder_id


def target(session: Session, principal: Principal, payload: FlowIn) -> Target:
    """The funder and the plan line, checked: both exist, the line is in a plan the caller
    may record money for, and that plan is the current approved version."""
    funder = session.get(Funder, funder_id_of(principal, payload))
    if funder is None:
        raise invalid("funder_id", f"no funder {payload.funder_id}", code=Code.UNKNOWN_REFERENCE)
    line = session.get(PlanLine, payload.plan_line_id)
    plan = session.get(Plan, line.plan_id) if line is not None else None
    series = plans.series_of(session, plan) if plan is not None else None
    if (
        line is None
        or plan is None
        or series is None
        or not plans.may_read(principal, series, plan)
    ):
        reason = f"no plan line {payload.plan_line_id}"
        raise invalid("plan_line_id", reason, code=Code.UNKNOWN_REFERENCE)
    if plan.status != PlanStatus.APPROVED.value:
        raise Conflict(
            f"The plan {plan.id} is a draft; money is recorded once it is approved.",
            code=Code.PLAN_NOT_APPROVED,
        )
    current = plans.current_version(session, plan.series_id)
    if current is None or current.id != plan.id:
        raise Conflict(
            f"The plan {plan.id} has a newer approved version; record money against its lines.",
            code=Code.PLAN_SUPERSEDED,
            current_plan_id=current.id if current else None,
        )
    return Target(funder, plan, series, line)


def check_pledge_source(session: Session, principal: Principal, found: Target) -> None:
    """A partner pledges only to a line that expects money from its funder's source."""
    if principal.role is not Role.PARTNER:
        return
    expected = session.exec(
        select(PlanLineAmount.id).where(
            PlanLineAmount.line_id == found.line.id, PlanLineAmount.source == found.funder.source
        )
    ).first()
    if expected is None:
        reason = f"expects no money from the source {found.funder.source} of the partner's funder"
        raise invalid("plan_line_id", reason, code=Code.SOURCE_NOT_IN_LINE)


def withdraw(session: Session, principal: Principal, pledge: Commitment, reason: str) -> None:
    """A pledge made by mistake is withdrawn (kept, with who, when and why): it then counts in
    no plan's execution. One that money was received against is kept."""
    if pledge.withdrawn_at is not None:
        raise Conflict(
            f"The commitment {pledge.id} was withdrawn on {pledge.withdrawn_at.date()}.",
            code=Code.COMMITMENT_WITHDRAWN,
        )
    received = session.exec(select(Receipt.id).where(Receipt.commitment_id == pledge.id)).first()
    if received is not None:
        raise Conflict(
            f"Money was received against the commitment {pledge.id} (receipt {received}).",
            code=Code.COMMITMENT_RECEIVED,
        )
    pledge.withdrawn_at, pledge.withdrawn_by = utcnow(), principal.subject
    pledge.withdrawal_reason = reason
    session.add(pledge)
    outbox.emit(session, events.commitment_recorded(pledge, withdrawn=True))


def check_club(
    principal: Principal, club: ClubFacts | None, club_id: int, series: PlanSeries
) -> ClubFacts:
    """A club the money may go to: it exists, is in the plan's province and, for an officer
    narrowed to some communes, in one of them."""
    if club is None:
        raise invalid("club_id", f"no club {club_id}", code=Code.UNKNOWN_REFERENCE)
    if club.province_code != series.province_code:
        reason = f"is in province {club.province_code}, not the plan's"
        raise invalid("club_id", reason, code=Code.INCONSISTENT)
    narrowed = principal.role is Role.OFFICER and principal.communes
    if narrowed and club.commune_code not in principal.communes:
        raise invalid("club_id", "is outside your communes", code=Code.OUTSIDE_SCOPE)
    return club


def create_commitment(
    session: Session, principal: Principal, found: Target, club_id: int | None, **values: Any
) -> Commitment:
    commitment = Commitment(
        **found.columns(), club_id=club_id, created_by=principal.subject, **values
    )
    session.add(commitment)
    session.flush()  # its id, for the event
    outbox.emit(session, events.commitment_recorded(commitment))
    return commitment


def create_receipt(
    session: Session, principal: Principal, found: Target, payload: ReceiptCreate
) -> Receipt:
    if payload.commitment_id is not None:
        pledge = session.get(Commitment, payload.commitment_id)
        if pledge is None or (pledge.funder_id, pledge.series_id, pledge.line_number) != (
            found.funder.id,
            found.series.id,
            found.line.number,
        ):
            reason = "is no commitment of this funder to this plan line"
            raise invalid("commitment_id", reason, code=Code.UNKNOWN_REFERENCE)
        if pledge.withdrawn_at is not None:
            raise Conflict(
                f"The commitment {pledge.id} was withdrawn; it takes no receipt.",
                code=Code.COMMITMENT_WITHDRAWN,
            )
    receipt = Receipt(
        **found.columns(),
        commitment_id=payload.commitment_id,
        amount=payload.amount,
        received_on=payload.received_on,
        reference=payload.reference,
        created_by=principal.subject,
    )
    session.add(receipt)
    session.flush()  # its id, for the event
    outbox.emit(session, events.receipt_recorded(receipt))
    return receipt


def _lock_funder(session: Session, funder: Funder) -> None:
    """Serialises allocations of one funder's money (the UPDATE takes the row lock first)."""
    session.execute(
        update(Funder)
        .where(col(Funder.id) == funder.id)
        .values(version=Funder.version + 1)
        .execution_options(synchronize_session=False)
    )


def _sum(session: Session, model: Any, funder_id: int, series_id: int) -> int:
    total = session.exec(
        select(func.coalesce(func.sum(model.amount), 0)).where(
            model.funder_id == funder_id, model.series_id == series_id
        )
    ).one()
    return int(total)


def create_allocation(
    session: Session,
    principal: Principal,
    found: Target,
    club: ClubFacts,
    payload: AllocationCreate,
) -> Allocation:
    """A pending allocation; 409 when the funder's money received for this plan cannot
    cover it, also when several are made at the same moment."""
    assert found.funder.id is not None and found.series.id is not None
    _lock_funder(session, found.funder)
    received = _sum(session, Receipt, found.funder.id, found.series.id)
    allocated = _sum(session, Allocation, found.funder.id, found.series.id)
    if allocated + payload.amount > received:
        raise Conflict(
            f"The funder's money received for this plan is {received} đồng, of which "
            f"{allocated} is allocated; {payload.amount} more does not fit.",
            code=Code.ALLOCATION_EXCEEDS_RECEIPTS,
            received=received,
            allocated=allocated,
            available=received - allocated,
            requested=payload.amount,
        )
    allocation = Allocation(
        **found.columns(),
        programme_code=found.series.programme_code,
        commune_code=club.commune_code,
        club_id=club.id,
        fund_kind=payload.fund_kind.value,
        amount=payload.amount,
        allocated_on=payload.allocated_on,
        reference=payload.reference,
        status=TransferStatus.PENDING.value,
        created_by=principal.subject,
    )
    session.add(allocation)
    session.flush()
    return allocation
