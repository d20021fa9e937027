"""`Idempotency-Key` for POSTs: a retry returns the first answer and writes nothing again.

How it holds:
1. The key is claimed in a short transaction of its own (unique on client + key), so a second
   request with the same key sees the claim at once: same body and finished → the stored answer;
   same body and still running → 409; another body → 422.
2. The route's write and the stored answer are committed in the *same* transaction as the
   business change (`IdempotentRequest.respond`), so an answer is stored if and only if the
   change is.
3. If the route fails, the claim is released, so the client may retry the same key.
"""

import hashlib
import random
from collections.abc import Iterator
from datetime import timedelta
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Header, Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse, Response
from sqlalchemy import (
    Column,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    delete,
    insert,
    select,
    update,
)
from sqlalchemy.engine import Connection, Engine, Row
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool

from common.auth import CurrentPrincipal
from common.db import SessionDep, UTCDateTime, prefer_lz4, utcnow
from common.problems import Conflict, PreconditionRequired, ValidationFailed, field_error

IN_PROGRESS = "in_progress"
COMPLETED = "completed"
ABANDONED_AFTER = timedelta(minutes=5)
RETENTION = timedelta(days=7)
REPLAY_HEADER = "Idempotent-Replayed"
MAX_KEY_LENGTH = 255
ResponseT = TypeVar("ResponseT", bound=Response)
COMPRESSED_FROM = 2_000
"""Bytes from which PostgreSQL compresses a stored answer (its TOAST threshold, about 2 kB)."""


def idempotency_table(metadata: MetaData) -> Table:
    """The table of claimed keys; each component declares it in its own metadata."""
    return Table(
        "idempotency_keys",
        metadata,
        Column("id", Integer, primary_key=True),
        Column("client", String(200), nullable=False),
        Column("key", String(MAX_KEY_LENGTH), nullable=False),
        Column("request_hash", String(64), nullable=False),
        Column("state", String(20), nullable=False),
        Column("status_code", Integer),
        Column("response_body", Text),
        Column("created_at", UTCDateTime, nullable=False),
        UniqueConstraint("client", "key"),
    )


class IdempotentReplay(Exception):
    """Raised to short-circuit a retried request with the answer stored the first time."""

    def __init__(self, status_code: int, body: str) -> None:
        self.response = Response(
            body,
            status_code=status_code,
            media_type="application/json",
            headers={REPLAY_HEADER: "true"},
        )


class IdempotentRequest:
    """A claimed key; the route ends with `respond()` to store its answer with its change."""

    def __init__(self, table: Table, row_id: int | None) -> None:
        self.table = table
        self.row_id = row_id

    def respond(
        self,
        session: Session,
        content: Any,
        status_code: int = 201,
        headers: dict[str, str] | None = None,
    ) -> JSONResponse:
        response = JSONResponse(jsonable_encoder(content), status_code=status_code, headers=headers)
        return self.remember(session, response)

    def remember(self, session: Session, response: ResponseT) -> ResponseT:
        """Stores a JSON answer the route encoded itself (large bodies skip `jsonable_encoder`)."""
        if self.row_id is not None:
            if len(response.body) >= COMPRESSED_FROM:
                prefer_lz4(session)
            session.execute(
                update(self.table)
                .where(self.table.c.id == self.row_id)
                .values(
                    state=COMPLETED,
                    status_code=response.status_code,
                    response_body=bytes(response.body).decode(),
                )
            )
        return response


def _claim(engine: Engine, table: Table, client: str, key: str, request_hash: str) -> int:
    with engine.begin() as connection:
        if random.random() < 0.01:
            connection.execute(delete(table).where(table.c.created_at < utcnow() - RETENTION))
        # Twice at most: a claim that conflicted may be released (its request failed) before
        # this one reads it, and then the key is free again.
        for _ in range(2):
            try:
                with connection.begin_nested():
                    return connection.execute(
                        insert(table)
                        .values(
                            client=client,
                            key=key,
                            request_hash=request_hash,
                            state=IN_PROGRESS,
                            created_at=utcnow(),
                        )
                        .returning(table.c.id)
                    ).scalar_one()
            except IntegrityError:
                pass
            row = connection.execute(
                select(table).where(table.c.client == client, table.c.key == key).with_for_update()
            ).one_or_none()
            if row is not None:
                return _existing_claim(connection, table, row, request_hash)
        raise Conflict(
            "A request with this Idempotency-Key is being processed; retry later.",
            headers={"Retry-After": "1"},
        )


def _existing_claim(connection: Connection, table: Table, row: Row, request_hash: str) -> int:
    """Takes over an abandoned claim, or says why this request cannot run now."""
    if row.request_hash != request_hash:
        raise ValidationFailed(
            "This Idempotency-Key was already used with a different request.",
            errors=[field_error("Idempotency-Key", "reused with a different body", "header")],
        )
    if row.state == COMPLETED:
        raise IdempotentReplay(row.status_code, row.response_body)
    if utcnow() - row.created_at < ABANDONED_AFTER:
        raise Conflict(
            "A request with this Idempotency-Key is still being processed; retry later.",
            headers={"Retry-After": "1"},
        )
    connection.execute(update(table).where(table.c.id == row.id).values(created_at=utcnow()))
    return row.id


def _release(engine: Engine, table: Table, row_id: int) -> None:
    with engine.begin() as connection:
        connection.execute(delete(table).where(table.c.id == row_id, table.c.state == IN_PROGRESS))


def idempotency(table: Table, *, required: bool):
    """A route dependency: claims the request's `Idempotency-Key` (required or optional)."""

    async def dependency(
        request: Request,
        principal: CurrentPrincipal,
        session: SessionDep,
        idempotency_key: Annotated[
            str | None,
            Header(
                max_length=MAX_KEY_LENGTH,
                description="Makes retries safe: the same key and body return the first answer.",
            ),
        ] = None,
    ) -> Iterator[IdempotentRequest]:
        if not idempotency_key:
            if required:
                raise PreconditionRequired(
                    "This operation requires an Idempotency-Key header.",
                    errors=[field_error("Idempotency-Key", "required", "header")],
                )
            yield IdempotentRequest(table, None)
            return
        digest = hashlib.sha256()
        digest.update(f"{request.method} {request.url.path}?{request.url.query}\n".encode())
        digest.update(await request.body())
        engine: Engine = request.app.state.engine
        row_id = await run_in_threadpool(
            _claim, engine, table, principal.subject, idempotency_key, digest.hexdigest()
        )
        try:
            yield IdempotentRequest(table, row_id)
            # Commit here, not in the session's own teardown (which runs after this one), so
            # that a failed commit still releases the claim.
            await run_in_threadpool(session.commit)
        except BaseException:
            await run_in_threadpool(_release, engine, table, row_id)
            raise

    return Depends(dependency, scope="function")


async def on_replay(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, IdempotentReplay)
    return exc.response
