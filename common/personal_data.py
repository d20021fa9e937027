"""Telling the gateway which members' personal data an answer shows, for its access log.

A service route that answers with members' personal fields (one member, a member list, the
board, a lookup by ID, the bank records of matched borrowers…) names those members in the
`X-Personal-Data-Subjects` header (their ids). The gateway, the only public entry, removes the
header and writes one access-log entry: who asked, as which role and client, when, on which
route, in which request, and these members (gateway/access_log.py). Our services' direct calls
to each other do not pass the gateway and carry no citizen ID (they match by blind index).
"""

from collections.abc import Iterable
from typing import TypeVar

from pydantic import BaseModel
from starlette.responses import Response

from common.auth import Principal, Role
from common.schemas import Page

SUBJECTS_HEADER = "X-Personal-Data-Subjects"


def shown(response: Response, member_ids: Iterable[int | None]) -> None:
    """Names the members whose personal data this answer shows (none: no header)."""
    ids = sorted({member_id for member_id in member_ids if member_id is not None})
    if ids:
        response.headers[SUBJECTS_HEADER] = ",".join(map(str, ids))


def subjects(header: bytes) -> list[int]:
    """The member ids of the header as a service wrote it (anything else is left out)."""
    return [int(part) for part in header.split(b",") if part.strip().isdigit()]


Answer = TypeVar("Answer", bound=BaseModel)


def as_seen_by(principal: Principal, answer: Answer) -> Answer:
    """An answer as `principal` may see it: a partner gets the fields its model lists in
    `partner_hidden` as null (free text that may name members, staff usernames), in the model
    and in each item of a page."""
    if principal.role is not Role.PARTNER:
        return answer
    if isinstance(answer, Page):
        items = [as_seen_by(principal, item) for item in answer.items]
        return answer.model_copy(update={"items": items})
    hidden: frozenset[str] = getattr(type(answer), "partner_hidden", frozenset())
    return answer.model_copy(update=dict.fromkeys(hidden)) if hidden else answer
