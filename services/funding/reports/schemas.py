"""What goes over the wire for the funded-clubs report."""

from datetime import date

from pydantic import Field

from common.schemas import OutputModel, Page
from services.funding.rules import FunderType, Source


class FunderShare(OutputModel):
    funder_id: int
    funder_name: str
    funder_type: FunderType
    source: Source
    amount: int
    allocations: int
    first_allocated_on: date
    last_allocated_on: date


class FundedClub(OutputModel):
    club_id: int
    club_code: str | None = Field(description="None when the clubs service did not answer.")
    club_name: str | None = Field(description="None when the clubs service did not answer.")
    club_status: str | None
    province_code: str
    commune_code: str
    amount: int = Field(description="Allocated to the club by the funders shown, in đồng.")
    allocations: int
    first_allocated_on: date
    last_allocated_on: date
    funders: list[FunderShare]
    other_funders: int = Field(
        description="For partners: how many other funders also gave to this club (amounts "
        "are not shown). 0 for everyone else, who sees every funder."
    )


class FundedSummary(OutputModel):
    clubs: int = Field(description="Clubs matching the filters whose funding you may see.")
    amount: int
    allocations: int
    other_clubs: int = Field(
        description="For partners: clubs matching the filters funded only by other funders "
        "(a count: nothing more of them is shown)."
    )


class FundedClubsPage(Page[FundedClub]):
    summary: FundedSummary
    missing: list[str] = Field(
        description="Fields left empty because the service that knows them did not answer, "
        'e.g. ["items.club_name", "items.club_code", "items.club_status"].'
    )
