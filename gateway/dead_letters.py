"""The platform's dead letters, for admins: events a component could not apply, and their replay.

Each component that follows other services' feeds keeps its own (`common/events/dead_letters.py`
says how an event gets there): the gateway, whose webhooks follow every service, and the loans
service, which follows the clubs service. They are read and replayed here, by component; the
loans service's are asked of it with the admin's own token.
"""

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from starlette.concurrency import run_in_threadpool

from common.auth import Principal, Role, require_roles
from common.events.dead_letters import (
    INTERNAL_PATH,
    DeadLetter,
    DeadLetterCounts,
    letter_counts,
    letters,
    replay,
)
from common.problem_codes import Code
from common.problems import PROBLEM_MEDIA_TYPE, ServiceUnavailable
from common.schemas import IdPath, Page, PageDep
from gateway.webhooks.models import consumer_tables

Keeper = Literal["gateway", "loans"]
"""The components that follow other services' feeds, and so keep dead letters."""
KEEPERS: tuple[Keeper, ...] = ("gateway", "loans")
ComponentPath = Annotated[Keeper, Path(description="The component that could not apply them.")]
Admin = Annotated[Principal, Depends(require_roles(Role.ADMIN))]

router = APIRouter(prefix="/api/v1/dead-letters", tags=["events"])


def _relayed(status: int, body: bytes) -> Response:
    media_type = "application/json" if status < 400 else PROBLEM_MEDIA_TYPE
    return Response(body, status_code=status, media_type=media_type)


@router.get(
    "",
    summary="How many events each component put aside (admins)",
    description="Per component that follows other services' events: those waiting for a "
    "replay, and those replayed.",
)
async def counted(request: Request, _admin: Admin) -> dict[str, DeadLetterCounts]:
    engine = request.app.state.engine
    found = {"gateway": await run_in_threadpool(letter_counts, engine, consumer_tables)}
    forwarder = request.app.state.forwarder
    status, body = await forwarder.ask(request, "loans", INTERNAL_PATH + "/counts")
    if status != 200:
        raise ServiceUnavailable(
            f"The loans service answered {status} for its dead letters.", code=Code.SERVICE_ERROR
        )
    found["loans"] = DeadLetterCounts.model_validate_json(body)
    return found


@router.get(
    "/{component}",
    response_model=Page[DeadLetter],
    summary="Events a component put aside (admins)",
    description="Events that failed to apply `GATEWAY_EVENT_MAX_ATTEMPTS` / "
    "`LOANS_EVENT_MAX_ATTEMPTS` times and were put aside so the feed went on: the latest first, "
    "with how they failed (no values). `waiting=false` lists the replayed ones too.",
)
async def listed(
    component: ComponentPath,
    request: Request,
    page: PageDep,
    _admin: Admin,
    waiting: Annotated[bool, Query(description="Only those not replayed yet.")] = True,
) -> Any:
    if component == "gateway":
        engine = request.app.state.engine
        return await run_in_threadpool(letters, engine, consumer_tables, waiting, page)
    params = [("waiting", str(waiting).lower()), ("limit", page.limit), ("offset", page.offset)]
    if page.cursor is not None:
        params.append(("cursor", page.cursor))
    forwarder = request.app.state.forwarder
    return _relayed(*await forwarder.ask(request, component, INTERNAL_PATH, params))


@router.post(
    "/{component}/{letter_id}/replay",
    response_model=DeadLetter,
    summary="Apply an event put aside, once (admins)",
    description="Applies the event with the handler that failed on it, in one transaction: "
    "409 `dead_letter_still_failing` (nothing written) if it fails again, 409 "
    "`dead_letter_replayed` if it was replayed already. It is then applied out of its order: "
    "fix the cause first.",
)
async def replayed(
    component: ComponentPath, letter_id: IdPath, request: Request, admin: Admin
) -> Any:
    if component == "gateway":
        state = request.app.state
        return await run_in_threadpool(
            replay, state.engine, consumer_tables, state.event_consumers, letter_id, admin.subject
        )
    path = f"{INTERNAL_PATH}/{letter_id}/replay"
    forwarder = request.app.state.forwarder
    return _relayed(*await forwarder.ask(request, component, path, method="POST"))
