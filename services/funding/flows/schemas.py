"""What goes over the wire for commitments, receipts and allocations."""

from datetime import date, datetime
from typing import Annotated, ClassVar

from pydantic import Field

from common.schemas import Id, InputModel, OutputModel, PastDate
from services.funding.rules import MAX_AMOUNT, FundKind, TransferStatus

Amount = Annotated[
    int, Field(gt=0, le=MAX_AMOUNT, strict=True, description="Whole đồng, more than 0.")
]
Reference = Annotated[str, Field(default="", max_length=200)]


class FlowIn(InputModel):
    funder_id: Id | None = Field(
        default=None, description="Required except for partners, whose funder it always is."
    )
    plan_line_id: Id = Field(description="A line of the plan's current approved version.")
    amount: Amount
    reference: Reference


class CommitmentCreate(FlowIn):
    club_id: Id | None = Field(default=None, description="When the pledge is for one club.")
    committed_on: PastDate


class ReceiptCreate(FlowIn):
    commitment_id: Id | None = Field(
        default=None, description="The pledge this money honours (same funder and line)."
    )
    received_on: PastDate


class AllocationCreate(FlowIn):
    club_id: Id
    fund_kind: FundKind = FundKind.INCOME_GENERATION
    allocated_on: PastDate


class FlowPublic(OutputModel):
    partner_hidden: ClassVar[frozenset[str]] = frozenset({"created_by"})

    id: int
    funder_id: int
    plan_id: int
    plan_line_id: int
    series_id: int
    line_number: int
    source: str = Field(
        description="The funder's source column: a code of `/api/v1/reference/sources`."
    )
    province_code: str
    amount: int
    reference: str
    created_by: str | None = Field(description="Who recorded it; null for partners.")
    created_at: datetime


class CommitmentPublic(FlowPublic):
    partner_hidden: ClassVar[frozenset[str]] = frozenset({"created_by", "withdrawn_by"})

    club_id: int | None
    committed_on: date
    withdrawn_at: datetime | None = Field(
        default=None, description="When the pledge was withdrawn; it then counts nowhere."
    )
    withdrawn_by: str | None = Field(
        default=None, description="Who withdrew it; null for partners."
    )
    withdrawal_reason: str | None = None


class CommitmentWithdrawal(InputModel):
    reason: Annotated[str, Field(min_length=1, max_length=500)] = Field(
        description="Why the pledge is withdrawn (made by mistake, twice, for another line)."
    )


class ReceiptPublic(FlowPublic):
    commitment_id: int | None
    received_on: date


class AllocationPublic(FlowPublic):
    club_id: int
    commune_code: str
    programme_code: str
    fund_kind: FundKind
    allocated_on: date
    status: TransferStatus = Field(
        description="pending: not yet in the club's fund; recorded: capital in the fund (once); "
        "failed: the last try failed (see failure_reason), retried automatically when the "
        "failure can pass, or with POST …/retry."
    )
    failure_reason: str | None
    attempts: int
    next_attempt_at: datetime | None
    fund_id: int | None = Field(description="The loans service's fund that holds it.")
    ledger_entry_id: int | None = Field(description="The loans service's capital-in entry.")
    recorded_at: datetime | None
