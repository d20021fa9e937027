"""The clubs' and the money's figures, asked from the clubs and loans services' aggregates.

Each answers for the same clubs: an area (with the caller's own token, so the other service
applies exactly the caller's scope, communes included) or a list of clubs (a funder's, with this
service's token: partners may not read those services). A service that cannot answer gives
None, and the report names what is missing.
"""

from dataclasses import dataclass
from datetime import date
from typing import Annotated, Any

from fastapi import Depends, Request

from common.problems import ServiceUnavailable
from common.service_client import ServiceClient


@dataclass(frozen=True)
class Ask:
    """Which clubs, and whose token asks (None: this service's own)."""

    province: str | None
    club_ids: list[int] | None
    token: str | None


class IndicatorSources:
    def __init__(self, clubs: ServiceClient, loans: ServiceClient) -> None:
        self.clubs = clubs
        self.loans = loans

    async def club_figures(self, ask: Ask, start: date, end: date) -> dict[str, Any] | None:
        body = {"from": start.isoformat(), "to": end.isoformat()}
        return await _post(self.clubs, "/api/v1/clubs/indicators", ask, body)

    async def money_figures(self, ask: Ask, on: date) -> dict[str, Any] | None:
        return await _post(self.loans, "/api/v1/loans/indicators", ask, {"on": on.isoformat()})


async def _post(
    client: ServiceClient, path: str, ask: Ask, body: dict[str, Any]
) -> dict[str, Any] | None:
    if ask.province is not None:
        body["province"] = ask.province
    if ask.club_ids is not None:
        body["club_ids"] = ask.club_ids
    try:
        response = await client.request("POST", path, on_behalf_of=ask.token, json=body)
        if response.status_code != 200:
            raise ServiceUnavailable(f"The {client.name} service answered {response.status_code}.")
        return response.json()
    except (ServiceUnavailable, ValueError):
        return None


def indicator_sources(request: Request) -> IndicatorSources:
    return request.app.state.indicator_sources


IndicatorSourcesDep = Annotated[IndicatorSources, Depends(indicator_sources)]
