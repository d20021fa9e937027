"""What goes over the wire for the bank's loan records: the records as posted (validated by
`reading.py`) and the answers."""

from datetime import date, datetime
from typing import Annotated, Any, NotRequired, Self

from pydantic import ConfigDict, Field, TypeAdapter, model_validator, with_config
from typing_extensions import TypedDict

from common.jobs import Job
from common.problem_codes import Code
from common.problems import FIELD_CODE_DESCRIPTION, rule_error
from common.schemas import NOT_AFTER_TODAY, InputModel, NationalId, OutputModel, Years
from services.loans.bank.models import LOAN_NUMBER_LENGTH
from services.loans.bank.rules import (
    MAX_BATCH_RECORDS,
    MAX_PRINCIPAL,
    MAX_RATE_PERCENT,
    BankLoanStatus,
    BatchMode,
    Outcome,
    Programme,
)

RECORD_FIELD = "record"
"""The field named when a record is not even a JSON object."""


Money = Annotated[int, Field(ge=0, le=MAX_PRINCIPAL, strict=True, description="Whole đồng.")]
EARLIEST_DAY, LATEST_DAY = date(1900, 1, 1), date(2100, 12, 31)
"""No loan of the bank's is dated outside these: a date that is, is a typing mistake."""
Day = Annotated[
    date,
    Field(strict=True, ge=EARLIEST_DAY, le=LATEST_DAY, description="YYYY-MM-DD, 1900 to 2100."),
    Years(EARLIEST_DAY, LATEST_DAY),
]


RECORD_CONFIG = ConfigDict(extra="forbid", str_strip_whitespace=True, use_enum_values=True)
BATCH_CONFIG = ConfigDict(extra="forbid")


@with_config(RECORD_CONFIG)
class BankLoanRecord(TypedDict):
    """One loan as the bank states it on `as_of` (enums validated, kept as their values)."""

    loan_number: Annotated[
        str,
        Field(
            min_length=1,
            max_length=LOAN_NUMBER_LENGTH,
            pattern=r"^[A-Za-z0-9][A-Za-z0-9/._-]*$",
            description="The bank's loan number: unique per bank.",
        ),
    ]
    borrower_national_id: Annotated[
        NationalId, Field(description="The borrower's 12-digit citizen ID (CCCD).")
    ]
    borrower_name: Annotated[str, Field(min_length=1, max_length=200)]
    programme: Programme
    principal: Annotated[
        int,
        Field(
            gt=0,
            le=MAX_PRINCIPAL,
            strict=True,
            description="Whole đồng; at most 100,000,000 for poor households.",
        ),
    ]
    disbursed_on: Day
    maturity_on: Annotated[Day, Field(description="After disbursed_on, by 2100.")]
    annual_interest_rate: Annotated[
        float,
        Field(
            gt=0,
            le=MAX_RATE_PERCENT,
            strict=True,
            allow_inf_nan=False,
            description="Percent a year, at most 2 decimals: 7.92.",
        ),
    ]
    outstanding_principal: Money
    overdue_amount: Money
    status: BankLoanStatus
    as_of: Annotated[
        date,
        Field(strict=True, ge=EARLIEST_DAY, description="The day of these figures: not before "
              "disbursement. " + NOT_AFTER_TODAY),
        Years(EARLIEST_DAY),
    ]  # fmt: skip
    correction: NotRequired[
        Annotated[
            bool,
            Field(
                strict=True,
                description="True when this posting corrects the loan number's borrower, "
                "disbursement day or programme as posted before (which are otherwise refused, "
                "loan_identity_changed); the earlier figures stay in the loan's history.",
            ),
        ]
    ]


@with_config(BATCH_CONFIG)
class BankLoanBatch(TypedDict):
    records: Annotated[
        list[BankLoanRecord],
        Field(min_length=1, max_length=MAX_BATCH_RECORDS, description="Applied in order."),
    ]


RECORD = TypeAdapter(BankLoanRecord)
BATCH = TypeAdapter(BankLoanBatch)


def request_body_schema(adapter: TypeAdapter[Any]) -> dict[str, Any]:
    """The JSON schema of a request body with its definitions inlined, for `openapi_extra`."""
    schema = adapter.json_schema()
    definitions = schema.pop("$defs", {})

    def inline(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref", "")
            if ref.startswith("#/$defs/"):
                return inline(definitions[ref.removeprefix("#/$defs/")])
            return {key: inline(value) for key, value in node.items()}
        if isinstance(node, list):
            return [inline(item) for item in node]
        return node

    return {
        "required": True,
        "content": {"application/json": {"schema": inline(schema)}},
    }


class RecordError(OutputModel):
    field: str
    reason: str
    code: str = Field(description=FIELD_CODE_DESCRIPTION)


class BankLoanPublic(OutputModel):
    id: int
    bank_code: str
    loan_number: str
    borrower_national_id: str
    borrower_name: str
    programme: Programme
    principal: int
    disbursed_on: date
    maturity_on: date
    annual_interest_rate: float = Field(description="Percent a year: 7.92.")
    outstanding_principal: int
    overdue_amount: int
    status: BankLoanStatus
    as_of: date
    matched: bool = Field(description="The borrower was matched to an active club member.")
    member_id: int | None
    club_id: int | None
    province_code: str | None
    commune_code: str | None
    matched_at: datetime | None
    retracted_at: datetime | None = Field(
        description="Set while the bank has retracted the record (posted by mistake): it is "
        "kept, unmatched and out of every figure; see …/retractions for who, when and why."
    )
    created_at: datetime
    updated_at: datetime


class BankLoanRetractionCreate(InputModel):
    reason: Annotated[str, Field(min_length=1, max_length=500)] = Field(
        description="Why the record is taken back (posted by mistake, for the wrong bank…). "
        "Shown to the bank and admins only; write no personal data in it."
    )


class BankLoanRetractionPublic(OutputModel):
    """A retraction of a bank record: who took it back, when and why, and its reinstatement."""

    id: int
    bank_loan_id: int
    reason: str
    member_id: int | None = Field(description="The member the record was matched to then.")
    retracted_by: str
    retracted_at: datetime
    reinstated_by: str | None
    reinstated_at: datetime | None


class BankLoanUnmatchPublic(OutputModel):
    """A match of the loan to a member that was undone: when and why."""

    id: int
    bank_loan_id: int
    member_id: int
    club_id: int
    matched_at: datetime | None
    reason: str
    effective_on: date = Field(description="The day the member withdrew the consent.")
    unmatched_at: datetime


class BankLoanVersionPublic(OutputModel):
    id: int
    bank_loan_id: int
    outcome: Outcome
    applied: bool = Field(description="False for a stale posting: older than the stored one.")
    borrower_national_id: str
    borrower_name: str
    programme: Programme
    principal: int
    disbursed_on: date
    maturity_on: date
    annual_interest_rate: float
    outstanding_principal: int
    overdue_amount: int
    status: BankLoanStatus
    as_of: date
    posted_by: str
    posted_at: datetime


BATCH_ID = Field(
    description="Names the posting: the same in its answer (and a replay of it with the same "
    "Idempotency-Key) and in the bank_loan.posted events it raised."
)


class BankLoanPosted(OutputModel):
    batch_id: str = BATCH_ID
    outcome: Outcome
    matching_available: bool = Field(
        description="False when the clubs service could not be asked; the record is stored "
        "unmatched and matched later."
    )
    bank_loan: BankLoanPublic


class RecordResult(OutputModel):
    index: int
    loan_number: str | None
    outcome: Outcome
    id: int | None = Field(default=None, description="The bank loan (not for rejected records).")
    matched: bool | None = Field(default=None, description="Not for rejected records.")
    errors: list[RecordError] | None = Field(default=None, description="Rejected records only.")


class BatchCounts(OutputModel):
    created: int
    updated: int
    unchanged: int
    stale: int
    rejected: int
    matched: int = Field(
        description="Records created, updated or unchanged whose borrower is matched to a "
        "member (stale records count only as stale)."
    )
    unmatched: int = Field(description="Records created, updated or unchanged, not matched.")


class BatchAnswer(OutputModel):
    batch_id: str = BATCH_ID
    mode: BatchMode
    records: int
    counts: BatchCounts
    matching_available: bool
    results: list[RecordResult]


class MatchingRun(OutputModel):
    examined: int = Field(description="Unmatched loans looked up.")
    matched: int
    unmatched: int
    chunks: int


class MatchingOrder(InputModel):
    """A matching run takes no parameters: it looks up every loan still unmatched."""


class MatchingJob(Job[MatchingRun]):
    """A run of matching unmatched bank loans to members; progress counts loans examined."""


MAX_SEARCH = 1_000
"""Loan numbers or borrowers asked for at once: a bank's reconciliation reads in pages."""
LoanNumber = Annotated[str, Field(min_length=1, max_length=LOAN_NUMBER_LENGTH)]


class BankLoanSearch(InputModel):
    """Which records to read: by loan numbers, by borrowers' citizen IDs, or both (records
    that match either). Citizen IDs travel in a body, never in an address (addresses are
    logged); they are compared by their blind index."""

    loan_numbers: list[LoanNumber] = Field(default_factory=list, max_length=MAX_SEARCH)
    borrower_national_ids: list[NationalId] = Field(default_factory=list, max_length=MAX_SEARCH)

    @model_validator(mode="after")
    def _something_asked(self) -> Self:
        if not self.loan_numbers and not self.borrower_national_ids:
            raise rule_error(Code.MISSING, "give loan_numbers, borrower_national_ids or both")
        return self
