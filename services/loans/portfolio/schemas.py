"""What goes over the wire for portfolio figures."""

from datetime import date
from typing import Annotated

from pydantic import Field, StringConstraints

from common.schemas import OutputModel

BORROWING_TARGET_PCT = 50
"""The programme's indicator: at least half of a club's members can borrow (club or bank)."""

ProvinceCode = Annotated[str, StringConstraints(pattern=r"^\d{2}$")]


class ClubLoanFigures(OutputModel):
    """Member loans from the clubs' income-generation funds, on the date."""

    loans_outstanding: int
    outstanding_principal: int = Field(description="Disbursed, not yet repaid nor written off.")
    par30_principal: int = Field(
        description="Outstanding principal of loans with an instalment more than 30 days late."
    )
    par30_pct: float | None = Field(description="par30_principal ÷ outstanding_principal, %.")
    due_to_date: int = Field(description="Principal and interest due on or before the date.")
    repaid_to_date: int = Field(description="Of what was due, what was paid by the date.")
    repayment_rate_pct: float | None = Field(description="repaid_to_date ÷ due_to_date, %.")
    written_off_principal: int
    borrowers: int = Field(description="Members with an outstanding club loan.")


class BankLoanFigures(OutputModel):
    """Social Policy Bank loans of club members, by the bank's figures as of the date."""

    loans_outstanding: int
    outstanding_principal: int
    overdue_amount: int
    borrowers: int = Field(description="Members with an outstanding bank loan.")


class BorrowingFigures(OutputModel):
    """The programme's "≥ 50 % can borrow" indicator."""

    active_members: int | None = Field(
        description="Members of the area's active clubs on the date (from the clubs service); "
        "null when the clubs service cannot be reached."
    )
    members_with_loan: int = Field(
        description="Members with an outstanding loan from their club or the bank (each once)."
    )
    share_pct: float | None
    target_pct: int = BORROWING_TARGET_PCT
    met: bool | None


class Portfolio(OutputModel):
    on: date
    club_id: int | None = None
    province_code: str | None = None
    club_loans: ClubLoanFigures
    bank_loans: BankLoanFigures
    borrowing: BorrowingFigures
    missing: list[str] = Field(
        default_factory=list,
        description="Figures left out because a service they come from did not answer.",
    )
    by_province: list["Portfolio"] | None = None
