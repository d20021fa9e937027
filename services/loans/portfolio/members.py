"""Active members of an area on a date, from the clubs service's composition figures.

Asked with the caller's own token, so the clubs service counts exactly the clubs the caller may
see (an officer narrowed to some communes gets those communes, not the whole province).
"""

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from common.problems import ServiceUnavailable
from common.service_client import ServiceClient


@dataclass
class MemberCounts:
    """Active members in total and per province; `None` when the clubs service did not answer."""

    total: int | None
    by_province: dict[str, int] = field(default_factory=dict)


async def _get(client: ServiceClient, path: str, token: str, on: date, **params: Any) -> Any:
    return await client.get_json(path, on_behalf_of=token, params={"on": on.isoformat(), **params})


async def member_counts(
    client: ServiceClient,
    token: str,
    on: date,
    club_ids: list[int] | None = None,
    province: str | None = None,
) -> MemberCounts:
    """Members of the given clubs, or of the active clubs of a province or the caller's area."""
    try:
        if club_ids is not None:
            total = 0
            for club_id in club_ids:
                composition = await _get(client, f"/api/v1/clubs/{club_id}/composition", token, on)
                total += int(composition["counts"]["members"])
            return MemberCounts(total)
        params = {"province": province} if province else {}
        summary = await _get(client, "/api/v1/clubs/composition", token, on, **params)
    except (ServiceUnavailable, KeyError, ValueError):
        return MemberCounts(None)
    by_province = {
        item["province_code"]: int(item["counts"]["members"])
        for item in summary.get("by_province") or []
    }
    if province:
        by_province[province] = int(summary["counts"]["members"])
    return MemberCounts(int(summary["counts"]["members"]), by_province)
