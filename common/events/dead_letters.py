"""Events a consumer could not apply, put aside so the feed goes on, and replayed by an admin.

A page whose handler fails is tried again with a growing pause: most failures pass (a database
restarting, another service not answering). One that keeps failing would stop its consumer for
good, and with it every later event of the source. So after `max_attempts` the consumer reads
that page one event at a time, finds the event that fails, and after `max_attempts` more puts
it aside here (in the same transaction that moves the cursor past it) and goes on. That event
is then applied out of its order: an admin sees it (`GET /api/v1/dead-letters/{component}`),
fixes the cause and replays it (`POST …/{letter_id}/replay`), which applies it with the same
handler, once.

Failures of reaching something (the database, another service, the network) never count: an
outage must not put every event aside.
"""

from collections.abc import Mapping
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import Field
from sqlalchemy import Engine, func, select, update
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool

from common.auth import Principal, Role, require_roles
from common.clock import utcnow
from common.db import reader
from common.events.consumer import ConsumerTables, EventConsumer, FeedEvent, counts, describe
from common.paging import page_of
from common.problem_codes import Code
from common.problems import Conflict, NotFound
from common.schemas import IdPath, OutputModel, Page, PageDep

INTERNAL_PATH = "/internal/dead-letters"


class DeadLetter(OutputModel):
    id: int
    source: str = Field(description="The service whose feed the event came from.")
    event_id: str
    position: int = Field(description="The event's position in its source's feed.")
    type: str
    subject: str = Field(description="The object the event is about (`club:12`).")
    error: str = Field(description="How applying it failed the last time (no values).")
    attempts: int
    failed_at: datetime = Field(description="When it was put aside.")
    replayed_at: datetime | None = None
    replayed_by: str | None = Field(None, description="Who replayed it (a principal's id).")


class DeadLetterCounts(OutputModel):
    waiting: int = Field(description="Put aside and not replayed yet.")
    replayed: int


def letters(engine: Engine, tables: ConsumerTables, waiting: bool, page: Any) -> Page[DeadLetter]:
    table = tables.dead_letters
    query = select(table)
    if waiting:
        query = query.where(table.c.replayed_at.is_(None))
    with Session(reader(engine)) as session:
        paged = page_of(session, query, page, table.c.id.desc())
        names = [column.name for column in table.columns]
        return paged.page([DeadLetter(**dict(zip(names, row, strict=True))) for row in paged.rows])


def letter_counts(engine: Engine, tables: ConsumerTables) -> DeadLetterCounts:
    table = tables.dead_letters
    with reader(engine).connect() as connection:
        waiting, total = connection.execute(
            select(
                func.count().filter(table.c.replayed_at.is_(None)),
                func.count(),
            )
        ).one()
    return DeadLetterCounts(waiting=waiting, replayed=total - waiting)


def replay(
    engine: Engine,
    tables: ConsumerTables,
    consumers: Mapping[str, EventConsumer],
    letter_id: int,
    actor: str,
) -> DeadLetter:
    """Applies a dead letter with its consumer's handler and marks it replayed, in one
    transaction: a replay that fails again writes nothing."""
    table = tables.dead_letters
    with Session(engine) as session, session.begin():
        row = session.execute(
            select(table).where(table.c.id == letter_id).with_for_update()
        ).first()
        if row is None or row.source not in consumers:
            raise NotFound(f"No dead letter {letter_id}.")
        if row.replayed_at is not None:
            raise Conflict(
                f"Dead letter {letter_id} was replayed already.", code=Code.DEAD_LETTER_REPLAYED
            )
        consumer = consumers[row.source]
        try:
            consumer.handle(session, [FeedEvent.of(row.event)])
        except Exception as exc:
            if not counts(exc):
                raise
            raise Conflict(
                f"Applying it failed again: {describe(exc)}",
                code=Code.DEAD_LETTER_STILL_FAILING,
            ) from exc
        session.execute(
            update(table)
            .where(table.c.id == letter_id)
            .values(replayed_at=utcnow(), replayed_by=actor)
        )
        replayed = session.execute(select(table).where(table.c.id == letter_id)).one()
    return DeadLetter.model_validate(replayed._mapping)


def router(tables: ConsumerTables) -> APIRouter:
    """`/internal/dead-letters` of a component that follows feeds (admins, through the
    gateway's `/api/v1/dead-letters/{component}`); its consumers are
    `app.state.event_consumers` (source → consumer)."""
    routes = APIRouter(prefix=INTERNAL_PATH, include_in_schema=False)
    admin = Depends(require_roles(Role.ADMIN))

    @routes.get("", dependencies=[admin])
    async def listed(
        request: Request, page: PageDep, waiting: Annotated[bool, Query()] = True
    ) -> Page[DeadLetter]:
        return await run_in_threadpool(letters, request.app.state.engine, tables, waiting, page)

    @routes.get("/counts", dependencies=[admin])
    async def counted(request: Request) -> DeadLetterCounts:
        return await run_in_threadpool(letter_counts, request.app.state.engine, tables)

    @routes.post("/{letter_id}/replay")
    async def replayed(
        letter_id: IdPath,
        request: Request,
        principal: Annotated[Principal, Depends(require_roles(Role.ADMIN))],
    ) -> DeadLetter:
        state = request.app.state
        return await run_in_threadpool(
            replay, state.engine, tables, state.event_consumers, letter_id, principal.subject
        )

    return routes
