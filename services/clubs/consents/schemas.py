"""Consents as the API takes and gives them."""

from datetime import date, datetime
from typing import Annotated

from pydantic import Field

from common.schemas import InputModel, OutputModel, PastDate
from services.clubs.domain import ConsentPurpose

FormReference = Annotated[
    str,
    Field(
        min_length=1,
        max_length=100,
        description="How it was given: the paper form's number, or the minutes that record it.",
        examples=["Phiếu đồng ý số 12/2024"],
    ),
]


class ConsentGiven(InputModel):
    purpose: ConsentPurpose
    given_on: PastDate
    form_reference: FormReference


class ConsentWithdrawal(InputModel):
    withdrawn_on: PastDate = Field(description="Not before the consent was given.")
    reference: FormReference


class ConsentPublic(OutputModel):
    id: int
    member_id: int
    purpose: ConsentPurpose
    given_on: date
    form_reference: str
    recorded_by: str
    recorded_at: datetime
    withdrawn_on: date | None
    withdrawal_reference: str | None
    withdrawn_by: str | None
    withdrawn_at: datetime | None
    current: bool = Field(description="Given and not withdrawn.")
