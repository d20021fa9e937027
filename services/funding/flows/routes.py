"""`/api/v1/commitments`, `/api/v1/receipts` and `/api/v1/allocations`.

Admins and the plan province's officers record money; partners record their own funder's
commitments and read their own funder's flows (another funder's answer 404 or nothing).
"""

from dataclasses import dataclass
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, BackgroundTasks, Depends, Query, Request
from sqlmodel import Session, col, select
from starlette.concurrency import run_in_threadpool

from common.auth import CurrentPrincipal, Principal, Role, refuse_service_writes, require_roles
from common.club_directory import ClubDirectoryDep
from common.db import SessionDep
from common.export import FILE_ANSWERS, FileFormat
from common.idempotency import Idempotency
from common.paging import Synced, page_of
from common.personal_data import as_seen_by
from common.problem_codes import Code
from common.problems import Conflict, NotFound, invalid
from common.schemas import Id, IdPath, Page, PageDep, PageParams, WrittenDay
from common.sync import ChangedSince, Token
from services.funding.flows import money_file, service
from services.funding.flows.models import Allocation, Commitment, Receipt
from services.funding.flows.schemas import (
    AllocationCreate,
    AllocationPublic,
    CommitmentCreate,
    CommitmentPublic,
    CommitmentWithdrawal,
    ReceiptCreate,
    ReceiptPublic,
)
from services.funding.flows.transfer import transfers
from services.funding.plans.models import Plan
from services.funding.plans.schemas import ProvinceCode
from services.funding.rules import TransferStatus
from services.funding.scope import PLANNERS, READERS, asked_funder, flow_filter, may_see_flow

Recorder = Annotated[Principal, Depends(require_roles(*PLANNERS))]
Pledger = Annotated[Principal, Depends(require_roles(Role.ADMIN, Role.OFFICER, Role.PARTNER))]


def _router(prefix: str, tag: str) -> APIRouter:
    return APIRouter(prefix=prefix, tags=[tag], dependencies=[Depends(require_roles(*READERS))])


commitments = _router("/api/v1/commitments", "commitments")
receipts = _router("/api/v1/receipts", "receipts")
allocations = _router("/api/v1/allocations", "allocations")


def _visible(session: Session, principal: Principal, model: Any, flow_id: int) -> Any:
    flow = session.get(model, flow_id)
    commune = getattr(flow, "commune_code", None)
    if flow is None or not may_see_flow(principal, flow.funder_id, flow.province_code, commune):
        raise NotFound(f"No {model.__tablename__[:-1]} {flow_id}.")
    return flow


MOVED_ON: dict[Any, Any] = {
    Commitment: col(Commitment.committed_on),
    Receipt: col(Receipt.received_on),
    Allocation: col(Allocation.allocated_on),
}
"""The date each kind of flow is listed and filtered by."""


@dataclass(frozen=True)
class FlowQuery:
    """The filters every list of money flows takes."""

    funder_id: int | None
    plan_id: int | None
    province: str | None
    date_from: date | None
    date_to: date | None
    since: Token | None


def flow_query(
    funder_id: Id | None = None,
    plan_id: Id | None = None,
    province: ProvinceCode | None = None,
    date_from: Annotated[WrittenDay | None, Query(alias="from")] = None,
    date_to: Annotated[WrittenDay | None, Query(alias="to")] = None,
    since: ChangedSince = None,
) -> FlowQuery:
    if date_from and date_to and date_from > date_to:
        raise invalid("from", "is after 'to'", "query", code=Code.DATE_OUT_OF_ORDER)
    return FlowQuery(funder_id, plan_id, province, date_from, date_to, since)


FlowQueryDep = Annotated[FlowQuery, Depends(flow_query)]


def _series_of_plan(session: Session, plan_id: int | None) -> int | None:
    """Money of a plan is the money of its series, whatever version it was recorded under."""
    if plan_id is None:
        return None
    plan = session.get(Plan, plan_id)
    return plan.series_id if plan is not None else -1


def _conditions(
    session: Session, principal: Principal, model: Any, query: FlowQuery, **equal: Any
) -> list[Any]:
    """A flow table's rows in the caller's scope that the query asks for."""
    asked_funder(session, principal, query.funder_id)
    moved_on = MOVED_ON[model]
    commune = getattr(model, "commune_code", None)
    conditions = [flow_filter(principal, model.funder_id, model.province_code, commune)]
    equal |= {
        "funder_id": query.funder_id,
        "series_id": _series_of_plan(session, query.plan_id),
        "province_code": query.province,
    }
    conditions += [
        getattr(model, name) == value for name, value in equal.items() if value is not None
    ]
    if query.date_from:
        conditions.append(moved_on >= query.date_from)
    if query.date_to:
        conditions.append(moved_on <= query.date_to)
    return conditions


def _list(
    session: Session,
    principal: Principal,
    model: Any,
    public: Any,
    page: PageParams,
    query: FlowQuery,
    file_format: FileFormat,
    **equal: Any,
) -> Any:
    """One page of a flow table in the caller's scope, newest first; or, as a file, every row
    the query asks for (`format=csv|xlsx`)."""
    conditions = _conditions(session, principal, model, query, **equal)
    newest_first = (MOVED_ON[model].desc(), col(model.id).desc())
    if file_format != "json":
        if query.since is not None:
            conditions.append(query.since.changed(col(model.sync_stamp)))
        rows = money_file.rows_of(session, select(model).where(*conditions).order_by(*newest_first))
        items = [as_seen_by(principal, public.model_validate(row)) for row in rows]
        return money_file.answer(session, public, items, query, file_format)
    paged = page_of(
        session,
        select(model).where(*conditions),
        page,
        *newest_first,
        synced=Synced(col(model.sync_stamp), query.since),
    )
    return as_seen_by(principal, paged.page([public.model_validate(row) for row in paged.rows]))


# Commitments ---------------------------------------------------------------------------------


@commitments.post(
    "", response_model=CommitmentPublic, status_code=201, summary="Record a funder's pledge"
)
async def create_commitment(
    payload: CommitmentCreate,
    session: SessionDep,
    principal: Pledger,
    directory: ClubDirectoryDep,
    idem: Idempotency,
) -> Any:
    found = await run_in_threadpool(service.target, session, principal, payload)
    await run_in_threadpool(service.check_pledge_source, session, principal, found)
    if payload.club_id is not None:
        club = (await directory.facts({payload.club_id})).get(payload.club_id)
        service.check_club(principal, club, payload.club_id, found.series)

    def write() -> Any:
        commitment = service.create_commitment(
            session,
            principal,
            found,
            payload.club_id,
            amount=payload.amount,
            committed_on=payload.committed_on,
            reference=payload.reference,
        )
        return idem.respond(session, CommitmentPublic.model_validate(commitment))

    return await run_in_threadpool(write)


@commitments.get(
    "",
    response_model=Page[CommitmentPublic],
    responses=FILE_ANSWERS,
    summary="List commitments in scope (or all of them as CSV or XLSX)",
)
def list_commitments(
    session: SessionDep,
    principal: CurrentPrincipal,
    page: PageDep,
    query: FlowQueryDep,
    club_id: Id | None = None,
    format: FileFormat = "json",
) -> Any:
    return _list(
        session, principal, Commitment, CommitmentPublic, page, query, format, club_id=club_id
    )


@commitments.get("/{commitment_id}", response_model=CommitmentPublic, summary="A commitment")
def get_commitment(
    commitment_id: IdPath, session: SessionDep, principal: CurrentPrincipal
) -> CommitmentPublic:
    found = _visible(session, principal, Commitment, commitment_id)
    return as_seen_by(principal, CommitmentPublic.model_validate(found))


@commitments.post(
    "/{commitment_id}/withdrawal",
    response_model=CommitmentPublic,
    summary="Withdraw a pledge made by mistake",
    description="The pledge is kept with who withdrew it, when and why, and counts in no plan's "
    "execution from then on. A partner withdraws its own funder's pledges; admins and officers "
    "those in their scope. 409 when it was withdrawn already, or when money was received "
    "against it.",
)
def withdraw_commitment(
    commitment_id: IdPath,
    payload: CommitmentWithdrawal,
    session: SessionDep,
    principal: Pledger,
    idem: Idempotency,
) -> Any:
    refuse_service_writes(principal)
    pledge = _visible(session, principal, Commitment, commitment_id)
    service.withdraw(session, principal, pledge, payload.reason)
    answer = as_seen_by(principal, CommitmentPublic.model_validate(pledge))
    return idem.respond(session, answer, 200)


# Receipts ------------------------------------------------------------------------------------


@receipts.post("", response_model=ReceiptPublic, status_code=201, summary="Record money received")
def create_receipt(
    payload: ReceiptCreate, session: SessionDep, principal: Recorder, idem: Idempotency
) -> Any:
    refuse_service_writes(principal)
    found = service.target(session, principal, payload)
    receipt = service.create_receipt(session, principal, found, payload)
    return idem.respond(session, ReceiptPublic.model_validate(receipt))


@receipts.get(
    "",
    response_model=Page[ReceiptPublic],
    responses=FILE_ANSWERS,
    summary="List receipts in scope (or all of them as CSV or XLSX)",
)
def list_receipts(
    session: SessionDep,
    principal: CurrentPrincipal,
    page: PageDep,
    query: FlowQueryDep,
    format: FileFormat = "json",
) -> Any:
    return _list(session, principal, Receipt, ReceiptPublic, page, query, format)


@receipts.get("/{receipt_id}", response_model=ReceiptPublic, summary="A receipt")
def get_receipt(receipt_id: IdPath, session: SessionDep, principal: CurrentPrincipal) -> Any:
    found = _visible(session, principal, Receipt, receipt_id)
    return as_seen_by(principal, ReceiptPublic.model_validate(found))


# Allocations ---------------------------------------------------------------------------------


@allocations.post(
    "",
    response_model=AllocationPublic,
    status_code=201,
    summary="Allocate received money to a club's fund",
    description="Stored as `pending`, then sent to the loans service, which records it as "
    "capital in the club's fund exactly once; follow `status`. 409 when more than the funder's "
    "money received for this plan would be allocated.",
)
async def create_allocation(
    payload: AllocationCreate,
    request: Request,
    background: BackgroundTasks,
    session: SessionDep,
    principal: Recorder,
    directory: ClubDirectoryDep,
    idem: Idempotency,
) -> Any:
    refuse_service_writes(principal)
    found = await run_in_threadpool(service.target, session, principal, payload)
    club = service.check_club(
        principal,
        (await directory.facts({payload.club_id})).get(payload.club_id),
        payload.club_id,
        found.series,
    )
    if club.dissolved:
        raise invalid("club_id", f"club {club.id} is dissolved", code=Code.CLUB_DISSOLVED)

    def write() -> Any:
        allocation = service.create_allocation(session, principal, found, club, payload)
        return idem.respond(session, AllocationPublic.model_validate(allocation))

    answer = await run_in_threadpool(write)
    # Runs after the answer is sent, so after the commit: the relay then sees the allocation.
    background.add_task(transfers(request.app).wake)
    return answer


@allocations.get(
    "",
    response_model=Page[AllocationPublic],
    responses=FILE_ANSWERS,
    summary="List allocations in scope (or all of them as CSV or XLSX)",
)
def list_allocations(
    session: SessionDep,
    principal: CurrentPrincipal,
    page: PageDep,
    query: FlowQueryDep,
    club_id: Id | None = None,
    status: TransferStatus | None = None,
    format: FileFormat = "json",
) -> Any:
    return _list(
        session,
        principal,
        Allocation,
        AllocationPublic,
        page,
        query,
        format,
        club_id=club_id,
        status=status.value if status else None,
    )


@allocations.get("/{allocation_id}", response_model=AllocationPublic, summary="An allocation")
def get_allocation(allocation_id: IdPath, session: SessionDep, principal: CurrentPrincipal) -> Any:
    found = _visible(session, principal, Allocation, allocation_id)
    return as_seen_by(principal, AllocationPublic.model_validate(found))


@allocations.post(
    "/{allocation_id}/retry",
    response_model=AllocationPublic,
    summary="Send a failed or pending allocation to the club's fund now",
)
async def retry_allocation(
    allocation_id: IdPath, request: Request, session: SessionDep, principal: Recorder
) -> Any:
    refuse_service_writes(principal)
    allocation = await run_in_threadpool(_visible, session, principal, Allocation, allocation_id)
    if allocation.status == TransferStatus.RECORDED.value:
        raise Conflict(
            f"The allocation {allocation_id} is recorded already.",
            code=Code.ALLOCATION_ALREADY_RECORDED,
            transfer_status="recorded",
        )
    # The relay writes in transactions of its own: this request's must not hold the database
    # meanwhile (on SQLite its write lock would make the relay wait for it, and it for the relay).
    await run_in_threadpool(session.commit)
    relay = transfers(request.app)
    await relay.send(allocation_id)
    return AllocationPublic.model_validate(await run_in_threadpool(relay.load, allocation_id))
