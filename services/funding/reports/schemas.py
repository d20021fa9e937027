"""What goes over the wire for the funded-clubs report."""

from datetime import date

from pydantic import Field

from common.schemas import OutputModel, Page


class FunderShare(OutputModel):
    funder_id: int
    funder_name: str
    funder_type: str = Field(description="A code of `/api/v1/reference/funder-types`.")
    source: str = Field(description="A code of `/api/v1/reference/sources`.")
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


class ClubMembers(OutputModel):
    """The club's active members on the day (while the club is active), as counts and shares."""

    members: int
    women: int
    older: int = Field(description="Older by the club's quota profile's age threshold.")
    younger: int
    priority: int = Field(description="Poor, near-poor or disadvantaged.")
    home_care_volunteers: int
    women_pct: float | None
    older_pct: float | None
    younger_pct: float | None
    priority_pct: float | None


class ClubBorrowing(OutputModel):
    """Members with a loan outstanding on the day: counts only, never an amount."""

    members_with_club_loan: int = Field(description="From the club's revolving fund.")
    members_with_bank_loan: int = Field(description="From the Social Policy Bank.")
    members_with_loan: int = Field(description="From either (each member once).")
    share_pct: float | None = Field(description="Of the club's members on the day, %.")


class ClubActivities(OutputModel):
    by_area: dict[str, int] = Field(description="Activities held in the period, by area.")
    held: int
    all_eight_areas: bool = Field(description="Activities in every one of the eight areas.")
    meetings_held: int


class FundedClubProfile(OutputModel):
    club: FundedClub = Field(description="The club and the money you may see that it got.")
    on: date
    period_from: date = Field(description="The activities counted are from this day to `on`.")
    members: ClubMembers | None
    meets_profile: bool | None = Field(
        description="The club's composition meets its quota profile on the day."
    )
    borrowing: ClubBorrowing | None
    activities: ClubActivities | None
    missing: list[str] = Field(
        description='Sections left empty because a service did not answer, e.g. ["members", '
        '"activities"] without the clubs service, ["borrowing"] without the loans service.'
    )
