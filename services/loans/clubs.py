"""Member facts the loans service needs, asked from the clubs service's API (club facts come
from `common.club_directory`)."""

from dataclasses import dataclass
from datetime import date
from typing import Annotated

from fastapi import Depends, Request

from common.problem_codes import Code
from common.problems import ServiceUnavailable
from common.service_client import ServiceClient


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
                f"The clubs service answered {response.status_code} for member {member_id}.",
                code=Code.SERVICE_ERROR,
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
    directory: MemberDirectory = request.app.state.member_directory
    return directory


MemberDirectoryDep = Annotated[MemberDirectory, Depends(member_directory)]
