"""Club facts other services need, asked from the clubs service's API.

Services never read the clubs database; they ask `GET /api/v1/clubs?ids=…` (batched, with their
own service token, which sees every club) and keep what they need of each club.
"""

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request

from common.problem_codes import Code
from common.problems import ServiceUnavailable
from common.schemas import MAX_IDS, MAX_PAGE_SIZE
from common.service_client import ServiceClient

DISSOLVED = "dissolved"


@dataclass(frozen=True)
class ClubFacts:
    id: int
    code: str
    name: str
    province_code: str
    commune_code: str
    status: str
    former_province_code: str | None = None
    """Where it was before the 2025 merger (plans written before it count by it)."""
    former_district_code: str | None = None

    @property
    def dissolved(self) -> bool:
        return self.status == DISSOLVED

    @classmethod
    def of(cls, item: dict[str, Any], id_key: str = "id") -> "ClubFacts":
        """From the clubs service's club (`id`) or one of its club events (`club_id`)."""
        return cls(
            id=item[id_key],
            code=item["code"],
            name=item["name"],
            province_code=item["province_code"],
            commune_code=item["commune_code"],
            status=item["status"],
            former_province_code=item.get("former_province_code"),
            former_district_code=item.get("former_district_code"),
        )


class ClubDirectory:
    """Clubs and provinces as the clubs service knows them."""

    def __init__(self, client: ServiceClient) -> None:
        self.client = client
        self._provinces: dict[str, str] = {}

    async def facts(self, ids: set[int]) -> dict[int, ClubFacts]:
        """The clubs among `ids` that exist; a clubs service that is down gives a 503 problem."""
        wanted = sorted(ids)
        found: dict[int, ClubFacts] = {}
        for start in range(0, len(wanted), MAX_IDS):
            batch = wanted[start : start + MAX_IDS]
            page = await self.client.get_json(
                "/api/v1/clubs", params={"ids": batch, "limit": len(batch)}
            )
            found.update((item["id"], ClubFacts.of(item)) for item in page["items"])
        return found

    async def ids_of(self, **filters: str) -> list[int]:
        """The ids of every club the clubs service's list gives for these filters (e.g. a
        former district's: `former_district="082"`)."""
        ids: list[int] = []
        cursor: str | None = None
        while True:
            params: dict[str, str | int] = {**filters, "limit": MAX_PAGE_SIZE}
            if cursor:
                params["cursor"] = cursor
            page = await self.client.get_json("/api/v1/clubs", params=params)
            ids += [item["id"] for item in page["items"]]
            cursor = page.get("next_cursor")
            if not cursor:
                return ids

    async def facts_if_available(self, ids: set[int]) -> dict[int, ClubFacts] | None:
        """Like `facts`, but None when the clubs service cannot answer."""
        try:
            return await self.facts(ids)
        except (ServiceUnavailable, KeyError, ValueError):
            return None

    async def province_name(self, code: str) -> str | None:
        """The province's name, or None if there is no such province (kept once known)."""
        if code not in self._provinces:
            response = await self.client.request("GET", f"/api/v1/locations/provinces/{code}")
            if response.status_code == 404:
                return None
            if response.status_code != 200:
                raise ServiceUnavailable(
                    f"The clubs service answered {response.status_code}.",
                    code=Code.SERVICE_ERROR,
                )
            self._provinces[code] = response.json()["name"]
        return self._provinces[code]


def club_directory(request: Request) -> ClubDirectory:
    directory: ClubDirectory = request.app.state.club_directory
    return directory


ClubDirectoryDep = Annotated[ClubDirectory, Depends(club_directory)]
