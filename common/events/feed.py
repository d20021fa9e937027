"""`GET /internal/events`: a service's event feed, for the platform's own components only.

Not routed by the gateway and not in the public API document: partners follow events through
webhooks, which the gateway filters by what each client may see.
"""

from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import Field
from sqlalchemy import Engine, select
from starlette.concurrency import run_in_threadpool

from common.auth import Principal, Role, require_roles
from common.db import reader
from common.events.consumer import DATA_PATH, ConsumerTables
from common.events.outbox import Outbox
from common.schemas import InputModel

MAX_PAGE = 1_000


class EventIds(InputModel):
    ids: Annotated[list[Annotated[str, Field(max_length=36)]], Field(max_length=MAX_PAGE)]


def feed_router(outbox: Outbox) -> APIRouter:
    router = APIRouter(prefix="/internal/events", include_in_schema=False)
    services_only = Depends(require_roles(Role.SERVICE))

    def page(
        engine: Engine, after: int, limit: int, types: set[str] | None, max_bytes: int
    ) -> bytes:
        outbox.sequence(engine)
        with reader(engine).connect() as connection:
            # Positions up to `last` are given and never change: a page read below it sees
            # every event it skips, so the reader may move past them.
            last = outbox.last_position(connection)
            first = outbox.first_position(connection)
            events = outbox.read(connection, after, limit, last, types)
        encoded = within(events, max_bytes)
        full = len(encoded) < len(events) or len(events) == limit
        through = events[len(encoded) - 1]["position"] if full else max(last, after)
        body = {
            "events": [orjson.Fragment(event) for event in encoded],
            "through": through,
            "first_position": first,
            "last_position": last,
        }
        return orjson.dumps(body)

    @router.get("")
    async def events(
        request: Request,
        _principal: Annotated[Principal, services_only],
        after: Annotated[int, Query(ge=0)] = 0,
        limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 500,
        types: Annotated[str | None, Query(max_length=1000)] = None,
    ) -> Response:
        """The events after position `after`, oldest first, only of `types` (comma-separated)
        if given, at most `limit` and `<SERVICE>_EVENT_PAGE_MAX_BYTES` of them; `through`: the
        position the reader has now examined (skipped types included), `first_position` /
        `last_position`: what the feed still holds."""
        wanted = {t for t in types.split(",") if t} if types is not None else None
        max_bytes = request.app.state.settings.event_page_max_bytes
        body = await run_in_threadpool(
            page, request.app.state.engine, after, limit, wanted, max_bytes
        )
        return Response(body, media_type="application/json")

    def data_of(engine: Engine, ids: list[str]) -> bytes:
        with reader(engine).connect() as connection:
            return orjson.dumps({"data": outbox.data_of(connection, ids)})

    @router.post(DATA_PATH.removeprefix("/internal/events"))
    async def event_data(
        request: Request,
        _principal: Annotated[Principal, services_only],
        asked: EventIds,
    ) -> Response:
        """The data of these events as kept now: what the NATS stream does not carry (the
        parts a member's erasure empties), asked for by its readers (`JetStreamFeed`)."""
        body = await run_in_threadpool(data_of, request.app.state.engine, asked.ids)
        return Response(body, media_type="application/json")

    return router


def within(events: list[dict[str, Any]], max_bytes: int) -> list[bytes]:
    """The events encoded, as many of the first as fit in `max_bytes` (the first always: a
    reader must be able to move on)."""
    encoded: list[bytes] = []
    size = 0
    for event in events:
        one = orjson.dumps(event)
        size += len(one) + 1
        if encoded and size > max_bytes:
            break
        encoded.append(one)
    return encoded


def cursors_router(tables: ConsumerTables) -> APIRouter:
    """`GET /internal/event-cursors`: how far this component has applied each source's feed
    (compare with the source's `last_position` to see the lag)."""
    router = APIRouter(prefix="/internal/event-cursors", include_in_schema=False)

    def read(engine: Engine) -> dict[str, int]:
        with reader(engine).connect() as connection:
            rows = connection.execute(select(tables.cursors.c.source, tables.cursors.c.position))
            return {source: int(position) for source, position in rows}

    @router.get("")
    async def cursors(
        request: Request,
        _principal: Annotated[Principal, Depends(require_roles(Role.SERVICE))],
    ) -> dict[str, int]:
        return await run_in_threadpool(read, request.app.state.engine)

    return router
