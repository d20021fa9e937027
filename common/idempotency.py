"""`Idempotency-Key` for POSTs: a retry returns the first answer and writes nothing again.

How it holds:
1. The key is claimed (a row unique on client + key) in the request's own transaction, the one
   that makes the business change and stores the answer (`IdempotentRequest.respond`). So the
   key, the change and the answer are committed together or not at all: a request that is
   refused (4xx), fails (5xx), times out or is killed leaves nothing behind, and its key is free
   for the retry at once. Nothing can stay "in progress" for ever, since nothing in progress is
   ever committed. A refusal is not stored: the retry is judged afresh.
2. A second request with the same key while the first is running waits for the first's
   transaction (PostgreSQL's unique index; SQLite's single write lock), then finds its answer
   (replayed, `Idempotent-Replayed: true`) or, if the first rolled back, runs itself.
3. The same key with another request → 422 of type `idempotency-key-reused`, saying what became
   of the first. "The same request" is the same method, path, query (pairs in any order) and
   body as parsed (JSON in any key order or spacing), not the same bytes.
"""

import contextlib
import hashlib
import random
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Annotated, Any, TypeVar
from urllib.parse import parse_qsl

import orjson
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
from sqlalchemy.engine import Row
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool

from common.auth import CurrentPrincipal
from common.clock import utcnow
from common.db import SessionDep, UTCDateTime, prefer_lz4
from common.json_body import CANONICAL_IN_SCOPE, canonical, is_json, media_type_of
from common.openapi import REQUIRED_MARK
from common.problem_codes import Code
from common.problems import (
    PROBLEM_MEDIA_TYPE,
    BadRequest,
    Problem,
    field_error,
    problem_response,
)
from common.sealing import SealedText

IN_PROGRESS = "in_progress"
COMPLETED = "completed"
RETENTION = timedelta(days=7)
REPLAY_HEADER = "Idempotent-Replayed"
MAX_KEY_LENGTH = 255
ResponseT = TypeVar("ResponseT", bound=Response)
COMPRESSED_FROM = 2_000
"""Bytes from which PostgreSQL compresses a stored answer (its TOAST threshold, about 2 kB)."""


def idempotency_table(metadata: MetaData, *, sealed: bool = False) -> Table:
    """The table of claimed keys; each component declares it in its own metadata. A
    component whose answers hold citizen IDs or phone numbers keeps them `sealed`."""
    return Table(
        "idempotency_keys",
        metadata,
        Column("id", Integer, primary_key=True),
        Column("client", String(200), nullable=False),
        Column("key", String(MAX_KEY_LENGTH), nullable=False),
        Column("request_hash", String(64), nullable=False),
        Column("state", String(20), nullable=False),
        Column("status_code", Integer),
        Column("response_body", SealedText("idempotency_keys.response_body") if sealed else Text),
        Column("response_location", String(500)),
        Column("created_at", UTCDateTime, nullable=False),
        UniqueConstraint("client", "key"),
    )


class IdempotentReplay(Exception):
    """Raised to short-circuit a retried request with the answer stored the first time."""

    def __init__(self, status_code: int, body: str, location: str | None = None) -> None:
        headers = {REPLAY_HEADER: "true"}
        if location is not None:  # where the first answer sent the client (a new object)
            headers["Location"] = location
        self.response = Response(
            body,
            status_code=status_code,
            media_type=PROBLEM_MEDIA_TYPE if status_code >= 400 else "application/json",
            headers=headers,
        )


class IdempotencyKeyReused(Problem):
    slug = "idempotency-key-reused"


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

    def respond_once(
        self, session: Session, content: Any, status_code: int, retried: Problem
    ) -> JSONResponse:
        """An answer shown once and never stored, because it holds a secret: a retry with the
        same key gets `retried`, a problem that says what the first request did."""
        self.remember(session, problem_response(retried))
        return JSONResponse(jsonable_encoder(content), status_code=status_code)

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
                    response_location=response.headers.get("location"),
                )
            )
        return response


def _claim(session: Session, table: Table, client: str, key: str, request_hash: str) -> int:
    """Claims the key in the request's transaction; raises the replay or the refusal."""
    if random.random() < 0.01:
        session.execute(delete(table).where(table.c.created_at < utcnow() - RETENTION))
    try:
        with session.begin_nested():
            claimed: int = session.execute(
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
            return claimed
    except IntegrityError:
        pass  # the key's first request committed meanwhile (this one waited for it)
    row = session.execute(select(table).where(table.c.client == client, table.c.key == key)).one()
    if row.request_hash != request_hash:
        raise _reused(row)
    if row.state == COMPLETED:
        raise IdempotentReplay(row.status_code, row.response_body, row.response_location)
    # Claims committed before their answer were left by an earlier version of this code, whose
    # requests are long gone: the key is free.
    session.execute(update(table).where(table.c.id == row.id).values(created_at=utcnow()))
    return int(row.id)


def _reused(row: Row[Any]) -> IdempotencyKeyReused:
    """The key names another request: say what became of that one."""
    if row.state == COMPLETED:
        first = {"state": "stored", "status": row.status_code}
        detail = (
            f"This Idempotency-Key was used for another request, which was stored (status "
            f"{row.status_code}); that request sent again with this key returns its answer. "
            "Use a new key for a new request."
        )
    else:
        first = {"state": "not_stored", "status": None}
        detail = (
            "This Idempotency-Key was used for another request, which did not finish; use a "
            "new key for a new request."
        )
    return IdempotencyKeyReused(
        detail,
        errors=[
            field_error(
                "Idempotency-Key",
                "was used for a different request",
                "header",
                code=Code.IDEMPOTENCY_KEY_REUSED,
            )
        ],
        first_request=first,
    )


async def request_fingerprint(request: Request) -> str:
    """What makes two requests the same: method, path, the query's pairs in any order, and the
    body as parsed when it is JSON (any key order, any spacing), else its bytes."""
    digest = hashlib.sha256()
    query = sorted(parse_qsl(request.url.query, keep_blank_values=True))
    digest.update(f"{request.method} {request.url.path}?{query}\n".encode())
    body = request.scope.get(CANONICAL_IN_SCOPE)  # made by the strict reader on its way
    if body is None:
        body = await request.body()
        if body and is_json(media_type_of(request.headers.get("content-type"))):
            # Not JSON: the route refuses it, and its bytes identify it meanwhile.
            with contextlib.suppress(orjson.JSONDecodeError):
                body = canonical(orjson.loads(body)) or body
    digest.update(body)
    return digest.hexdigest()


def _claiming(*, required: bool) -> Any:
    """A route dependency: claims the request's `Idempotency-Key` (required or optional) in
    the app's own table (`app.state.idempotency_keys`)."""

    async def dependency(
        request: Request,
        principal: CurrentPrincipal,
        session: SessionDep,
        idempotency_key: Annotated[
            str | None,
            Header(
                min_length=1,  # an empty key is refused (422), not taken as no key
                max_length=MAX_KEY_LENGTH,
                description="Makes retries safe: the same key and body return the first answer.",
                # The code answers 400 without it, so the document says it is required.
                json_schema_extra={REQUIRED_MARK: True} if required else None,
            ),
        ] = None,
    ) -> AsyncIterator[IdempotentRequest]:
        table: Table = request.app.state.idempotency_keys
        if not idempotency_key:
            if required:
                required_code = Code.IDEMPOTENCY_KEY_REQUIRED
                raise BadRequest(
                    "This operation requires an Idempotency-Key header.",
                    code=required_code,
                    errors=[
                        field_error("Idempotency-Key", "required", "header", code=required_code)
                    ],
                )
            yield IdempotentRequest(table, None)
            return
        fingerprint = await request_fingerprint(request)
        row_id = await run_in_threadpool(
            _claim, session, table, principal.subject, idempotency_key, fingerprint
        )
        yield IdempotentRequest(table, row_id)

    return Depends(dependency, scope="function")


Idempotency = Annotated[IdempotentRequest, _claiming(required=False)]
"""A write that takes an optional `Idempotency-Key`."""
RequiredIdempotency = Annotated[IdempotentRequest, _claiming(required=True)]
"""A write that requires an `Idempotency-Key` (400 without one, as the IETF's Idempotency-Key
draft has it): the bank's postings."""


async def on_replay(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, IdempotentReplay)
    return exc.response
