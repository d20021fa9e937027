"""What the reconciliation answers: each check, what it examined and what breaks."""

from datetime import datetime
from enum import StrEnum

from pydantic import Field

from common.jobs import Job
from common.schemas import InputModel, OutputModel

MAX_LISTED = 100
"""Breaks listed per check; every one is counted in `breaks_total`."""


class CheckName(StrEnum):
    ALLOCATIONS = "allocations"
    FUND_LEDGERS = "fund_ledgers"
    BANK_MATCHES = "bank_matches"
    INDICATORS = "indicators"


DESCRIPTIONS = {
    CheckName.ALLOCATIONS: "Every allocation the funding service has as recorded is capital in "
    "exactly one fund entry of the loans service, for the same club, fund and amount, not "
    "reversed; no fund entry names an allocation the funding service does not have.",
    CheckName.FUND_LEDGERS: "Every fund's balance is the sum of its postings: each entry "
    "balances and posts what its type says, reversals mirror their entry, no account leans the "
    "wrong way, no fund's cash ever went below zero, each loan's stored totals and standing "
    "equal its entries, repayments and schedule.",
    CheckName.BANK_MATCHES: "Every bank record matched to a member names a member of the clubs "
    "service who is in that club, in that club's place, with the borrower's national ID.",
    CheckName.INDICATORS: "The national programme indicators equal the sums of the provinces', "
    "shares match their counts, parts stay within their wholes, and plan against actual adds "
    "up by source, activity and province to its totals and to the money flows recorded.",
}


class Break(OutputModel):
    objects: dict[str, int | str | None] = Field(
        description='The objects that disagree, e.g. {"allocation_id": 7, "entry_id": 31}.'
    )
    reason: str


class CheckResult(OutputModel):
    name: CheckName
    description: str
    examined: dict[str, int] = Field(description="What was looked at, counted.")
    breaks: list[Break] = Field(description=f"At most {MAX_LISTED}; see `breaks_total`.")
    breaks_total: int
    missing: list[str] = Field(
        description="What could not be examined, e.g. a service that did not answer; a check "
        "with something missing is not ok."
    )
    ok: bool


class Reconciliation(OutputModel):
    checked_at: datetime
    ok: bool = Field(description="Every check ran completely and found no break.")
    checks: list[CheckResult]


class ReconciliationOrder(InputModel):
    checks: list[CheckName] | None = Field(
        default=None, min_length=1, description="Only these checks; every check by default."
    )


class ReconciliationJob(Job[Reconciliation]):
    """A reconciliation run; progress counts the checks done."""
