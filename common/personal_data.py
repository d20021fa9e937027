"""Telling the gateway which members' personal data an answer shows, for its access log.

A service route that answers with members' personal fields (one member, a member list, the
board, a lookup by ID, the bank records of matched borrowers…) names those members in the
`X-Personal-Data-Subjects` header (their ids). The gateway, the only public entry, removes the
header and writes one access-log entry: who asked, as which role and client, when, on which
route, in which request, and these members (gateway/access_log.py). Our services' direct calls
to each other do not pass the gateway and carry no citizen ID (they match by blind index).
"""

from collections.abc import Iterable

from starlette.responses import Response

SUBJECTS_HEADER = "X-Personal-Data-Subjects"


def shown(response: Response, member_ids: Iterable[int | None]) -> None:
    """Names the members whose personal data this answer shows (none: no header)."""
    ids = sorted({member_id for member_id in member_ids if member_id is not None})
    if ids:
        response.headers[SUBJECTS_HEADER] = ",".join(map(str, ids))


def subjects(header: bytes) -> list[int]:
    """The member ids of the header as a service wrote it (anything else is left out)."""
    return [int(part) for part in header.split(b",") if part.strip().isdigit()]
