"""Club and member facts the loans service needs, asked from the clubs service's API."""

from dataclasses import dataclass
from datetime import date
from typing import Annotated

from fastapi import Depends, Request

from common.problems import ServiceUnavailable
from common.schemas import MAX_PAGE_SIZE
from common.service_client import ServiceClient

DISSOLVED = "dissolved"


@dataclass(frozen=True)
class ClubFacts:
    id: int
    province_code: str
    commune_code: str
    status: str

    @property
    def dissolved(self) -> bool:
        return self.status == DISSOLVED


class ClubDirectory:
    """Looks clubs up with the loans service's own token, which sees every club."""

    def __init__(self, client: ServiceClient) -> None:
        self.client = client

    async def facts(self, ids: set[int]) -> dict[int, ClubFacts]:
        """The clubs among `ids` that exist; a clubs service that is down gives a 503 problem."""
        wanted = sorted(ids)
        found: dict[int, ClubFacts] = {}
        for start in range(0, len(wanted), MAX_PAGE_SIZE):
            batch = wanted[start : start + MAX_PAGE_SIZE]
            page = await self.client.get_json(
                "/api/v1/clubs", params={"ids": batch, "limit": len(batch)}
            )
            for item in page["items"]:
                found[item["id"]] = ClubFacts(
                    id=item["id"],
                    province_code=item["province_code"],
                    commune_code=item["commune_code"],
                    status=item["status"],
                )
        return found


def club_directory(request: Request) -> ClubDirectory:
    return request.app.state.club_directory


ClubDirectoryDep = Annotated[ClubDirectory, Depends(club_directory)]


@dataclass(frozen=True)
class MemberFacts:
    id: int
    club_id: int
    joined_on: date
    left_on: date | None

    @property
    def active(self) -> bool:
        return self.left_on is None


class MemberDirectory:
    """Looks members up with the loans service's own token, which sees every member."""

    def __init__(self, client: ServiceClient) -> None:
        self.client = client

    async def facts(self, member_id: int) -> MemberFacts | None:
        """The member, or None if there is none; a clubs service that is down gives a 503."""
        response = await self.client.request("GET", f"/api/v1/members/{member_id}")
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            raise ServiceUnavailable(
                f"The clubs service answered {response.status_code} for member {member_id}."
            )
        body = response.json()
        left_on = body["left_on"]
        return MemberFacts(
            id=body["id"],
            club_id=body["club_id"],
            joined_on=date.fromisoformat(body["joined_on"]),
            left_on=date.fromisoformat(left_on) if left_on else None,
        )


def member_directory(request: Request) -> MemberDirectory:
    return request.app.state.member_directory


MemberDirectoryDep = Annotated[MemberDirectory, Depends(member_directory)]
