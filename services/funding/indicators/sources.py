"""The clubs' and the money's figures, asked from the clubs and loans services' aggregates.

Each answers for the same clubs: an area (with the caller's own token, so the other service
applies exactly the caller's scope, communes included) or a list of clubs (a funder's, with this
service's token: partners may not read those services). A service that cannot answer, or
does not answer by the report's deadline, gives None, and the report names what is missing.
"""

import asyncio
import time
from dataclasses import dataclass
from datetime import date
from typing import Annotated, Any

from fastapi import Depends, Request

from common.problem_codes import Code
from common.problems import ServiceUnavailable
from common.service_client import ServiceClient


@dataclass(frozen=True)
class Ask:
    """Which clubs, and whose token asks (None: this service's own)."""

    province: str | None
    club_ids: list[int] | None
    token: str | None


class IndicatorSources:
    """The two aggregate calls; `timeout`: how long a report waits for them (seconds from
    `started`), shorter than the gateway's wait for the report so a slow service costs its
    sections, not the whole report."""

    def __init__(self, clubs: ServiceClient, loans: ServiceClient, timeout: float) -> None:
        self.clubs = clubs
        self.loans = loans
        self.timeout = timeout

    def deadline(self, started: float) -> float:
        """The `time.monotonic()` by which a report asked at `started` stops waiting."""
        return started + self.timeout

    async def club_figures(
        self, ask: Ask, start: date, end: date, deadline: float
    ) -> dict[str, Any] | None:
        body = {"from": start.isoformat(), "to": end.isoformat()}
        return await _post(self.clubs, "/api/v1/clubs/indicators", ask, body, deadline)

    async def money_figures(self, ask: Ask, on: date, deadline: float) -> dict[str, Any] | None:
        body = {"on": on.isoformat()}
        return await _post(self.loans, "/api/v1/loans/indicators", ask, body, deadline)


async def _post(
    client: ServiceClient, path: str, ask: Ask, body: dict[str, Any], deadline: float
) -> dict[str, Any] | None:
    if ask.province is not None:
        body["province"] = ask.province
    if ask.club_ids is not None:
        body["club_ids"] = ask.club_ids
    try:
        async with asyncio.timeout(deadline - time.monotonic()):
            response = await client.request("POST", path, on_behalf_of=ask.token, json=body)
        if response.status_code != 200:
            raise ServiceUnavailable(
                f"The {client.name} service answered {response.status_code}.",
                code=Code.SERVICE_ERROR,
            )
        figures: dict[str, Any] = response.json()
        return figures
    except (ServiceUnavailable, ValueError, TimeoutError):
        return None


def indicator_sources(request: Request) -> IndicatorSources:
    sources: IndicatorSources = request.app.state.indicator_sources
    return sources


IndicatorSourcesDep = Annotated[IndicatorSources, Depends(indicator_sources)]
