"""Club facts the loans service needs, asked from the clubs service's API in batches."""

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

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
