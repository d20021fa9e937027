"""What goes over the wire for loan rules, loans, schedules and repayments."""

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Literal, Self

from pydantic import ConfigDict, Field, PlainSerializer, WithJsonSchema, model_validator
from pydantic.config import JsonDict

from common.problem_codes import Code
from common.problems import rule_error
from common.schemas import Id, InputModel, OutputModel, PastDate
from services.loans.ledger.schemas import Amount, Reference
from services.loans.lending.rules import (
    MAX_MONTHLY_RATE_PERCENT,
    MAX_TERM_MONTHS,
    RATE_DECIMAL_PLACES,
    InterestMethod,
    LoanForm,
    LoanStatus,
    RepaymentFrequency,
    term_fits_frequency,
)

MonthlyRate = Annotated[
    Decimal,
    Field(
        ge=0,
        le=MAX_MONTHLY_RATE_PERCENT,
        decimal_places=RATE_DECIMAL_PLACES,
        allow_inf_nan=False,
        description="Percent per month, 0 to 5, at most 4 decimal places (0.65 is 0.65 %).",
    ),
    # a JSON number; the decimal places are checked on its digits, not stated as `multipleOf`,
    # which validators computing in floats get wrong (0.65 / 0.0001)
    WithJsonSchema({"type": "number", "minimum": 0, "maximum": MAX_MONTHLY_RATE_PERCENT}),
]
TermMonths = Annotated[int, Field(ge=1, le=MAX_TERM_MONTHS, strict=True)]
# Rates go out as JSON numbers: they are exact in at most four decimals below 5.
RateOut = Annotated[Decimal, PlainSerializer(float, return_type=float, when_used="json")]
Reason = Annotated[str, Field(min_length=1, max_length=500)]
LoanSort = Literal["id", "-id"]


class LoanRulesUpdate(InputModel):
    monthly_interest_rate: MonthlyRate
    interest_method: InterestMethod
    repayment_frequency: RepaymentFrequency
    max_term_months: TermMonths = Field(description="The longest term a loan may run, months.")
    max_amount: Amount = Field(description="The largest principal a member may borrow, đồng.")

    @model_validator(mode="after")
    def _quarterly_terms_are_whole_quarters(self) -> Self:
        if not term_fits_frequency(self.repayment_frequency, self.max_term_months):
            raise rule_error(
                Code.TERM_NOT_WHOLE_QUARTERS,
                "max_term_months must be a multiple of 3 for quarterly repayment",
            )
        return self


class LoanRulesPublic(OutputModel):
    fund_id: int
    club_id: int
    monthly_interest_rate: RateOut
    interest_method: InterestMethod
    repayment_frequency: RepaymentFrequency
    max_term_months: int
    max_amount: int
    set_by: str
    set_at: datetime


IN_KIND_IS_DESCRIBED: JsonDict = {
    "allOf": [
        {
            "if": {"properties": {"form": {"const": LoanForm.IN_KIND.value}}},
            "then": {
                "required": ["in_kind_description"],
                "properties": {"in_kind_description": {"type": "string"}},
            },
            "else": {"properties": {"in_kind_description": {"type": "null"}}},
        }
    ]
}
"""What `_in_kind_is_described` checks, as the document states it."""


class LoanApplication(InputModel):
    model_config = ConfigDict(json_schema_extra=IN_KIND_IS_DESCRIBED)

    club_id: Id
    member_id: Id
    amount: Amount = Field(description="The principal; for a loan in kind, its valuation.")
    applied_on: PastDate
    purpose: Reason
    form: LoanForm
    in_kind_description: Annotated[str | None, Field(min_length=1, max_length=500)] = None
    term_months: TermMonths | None = Field(default=None, description="Default: the rules' max.")
    monthly_interest_rate: MonthlyRate | None = Field(
        default=None, description="Default: the rules' rate; never above it."
    )

    @model_validator(mode="after")
    def _in_kind_is_described(self) -> Self:
        if self.form is LoanForm.IN_KIND and not self.in_kind_description:
            raise rule_error(Code.REQUIRED_WITH, "a loan in kind needs in_kind_description")
        if self.form is LoanForm.CASH and self.in_kind_description:
            raise rule_error(Code.NOT_ALLOWED_WITH, "in_kind_description is only for loans in kind")
        return self


class Rejection(InputModel):
    reason: Reason


class Disbursement(InputModel):
    disbursed_on: PastDate


class WriteOff(InputModel):
    written_off_on: PastDate
    reason: Reason


class RepaymentCreate(InputModel):
    amount: Amount
    paid_on: PastDate
    reference: Reference


class LoanPublic(OutputModel):
    """A loan, its terms copied from the rules, its life cycle and today's totals."""

    id: int
    club_id: int
    member_id: int
    fund_id: int
    province_code: str
    commune_code: str
    status: LoanStatus
    form: LoanForm
    in_kind_description: str | None
    purpose: str
    amount: int = Field(description="The principal lent, đồng.")
    term_months: int
    monthly_interest_rate: RateOut
    interest_method: InterestMethod
    repayment_frequency: RepaymentFrequency
    applied_on: date
    applied_by: str
    applied_at: datetime
    decided_by: str | None = Field(description="Who approved or rejected it.")
    decided_at: datetime | None
    rejection_reason: str | None
    disbursed_on: date | None
    matures_on: date | None = Field(description="The due date of the last instalment.")
    disbursed_by: str | None
    disbursed_at: datetime | None
    closed_on: date | None
    written_off_on: date | None
    written_off_principal: int | None
    write_off_reason: str | None
    written_off_by: str | None
    written_off_at: datetime | None
    principal_repaid: int
    interest_paid: int
    outstanding_principal: int = Field(description="0 once closed or written off.")


class LoanDetail(LoanPublic):
    """A loan with its figures at the end of the day `on`, counting payments made by then."""

    on: date
    arrears_principal: int = Field(description="Principal due on or before `on`, unpaid by it.")
    arrears_interest: int = Field(description="Interest due on or before `on`, unpaid by it.")
    days_past_due: int = Field(
        description="Days since the due date of the earliest instalment not fully paid."
    )


class InstalmentPublic(OutputModel):
    number: int
    due_on: date
    principal: int
    interest: int
    cumulative_principal: int
    cumulative_interest: int


class SchedulePublic(OutputModel):
    loan_id: int
    disbursed_on: date
    total_principal: int
    total_interest: int
    instalments: list[InstalmentPublic]


class RepaymentPublic(OutputModel):
    id: int
    loan_id: int
    paid_on: date
    amount: int
    interest: int = Field(description="The part that paid interest (paid first).")
    principal: int = Field(description="The part that paid principal.")
    cumulative_principal: int = Field(description="Principal repaid through this repayment.")
    cumulative_interest: int = Field(description="Interest paid through this repayment.")
    outstanding_principal: int = Field(description="Principal still owed after it.")
    reference: str
    recorded_by: str
    created_at: datetime
