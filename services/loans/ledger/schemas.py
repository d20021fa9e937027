"""What goes over the wire for funds and their ledger."""

from datetime import date, datetime
from typing import Annotated, Self

from pydantic import Field, model_validator

from common.problem_codes import Code
from common.problems import rule_error
from common.schemas import Id, InputModel, OutputModel, PastDate
from services.loans.ledger.rules import MAX_AMOUNT, Account, CapitalOrigin, EntryType, FundKind

Amount = Annotated[
    int,
    Field(gt=0, le=MAX_AMOUNT, strict=True, description="Whole đồng, 1 to 10^12."),
]
Reference = Annotated[str, Field(default="", max_length=200)]


class FundCreate(InputModel):
    club_id: Id
    kind: FundKind


class FundPublic(OutputModel):
    id: int
    club_id: int
    kind: FundKind
    province_code: str
    commune_code: str
    created_at: datetime
    balance: int = Field(description="Cash held: the sum of the fund's cash postings, in đồng.")


class CapitalIn(InputModel):
    amount: Amount
    occurred_on: PastDate
    origin: CapitalOrigin
    allocation_id: Id | None = Field(
        default=None, description="The funder's allocation; recorded once across all funds."
    )
    reference: Reference

    @model_validator(mode="after")
    def _allocation_only_for_allocations(self) -> Self:
        if self.allocation_id is not None and self.origin is not CapitalOrigin.ALLOCATION:
            raise rule_error(Code.NOT_ALLOWED_WITH, "allocation_id is only for origin 'allocation'")
        return self


class AllocationCapital(InputModel):
    """A funder's allocation to a club's fund, sent by the funding service."""

    allocation_id: Id = Field(description="The funding service's allocation; recorded once.")
    club_id: Id
    kind: FundKind
    amount: Amount
    occurred_on: PastDate
    reference: Reference


class ExpenseCreate(InputModel):
    amount: Amount
    occurred_on: PastDate
    reference: Annotated[str, Field(min_length=1, max_length=200)]


class ReversalCreate(InputModel):
    occurred_on: PastDate
    reference: Annotated[str, Field(min_length=1, max_length=200, description="Why.")]


class PostingPublic(OutputModel):
    account: Account
    amount: int = Field(description="Debit positive, credit negative.")


class EntryPublic(OutputModel):
    id: int
    fund_id: int
    entry_type: EntryType
    occurred_on: date
    amount: int
    reference: str
    origin: CapitalOrigin | None
    allocation_id: int | None
    reverses_entry_id: int | None
    loan_id: int | None = Field(description="The member loan this entry is for, if any.")
    recorded_by: str
    created_at: datetime
    postings: list[PostingPublic]


class StatementLine(EntryPublic):
    cash_change: int
    running_balance: int = Field(description="Cash after this entry, in date then entry order.")
