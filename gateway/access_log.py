"""Who read whose personal data: written by the proxy, asked by admins and officers.

The services name, in `X-Personal-Data-Subjects` (`common/personal_data.py`), the members whose
personal data an answer shows; the proxy strips the header and calls `AccessLog.record` before
the answer leaves, so an answer that showed personal data and its entry go together. One
entry per answer (who, role, client, when, method, path without its query, request id,
service, and the ids of the members it showed): one statement, in a worker thread.
"""

from collections.abc import Sequence
from datetime import date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import Field
from sqlalchemy import (
    ColumnElement,
    Engine,
    Integer,
    Select,
    bindparam,
    cast,
    delete,
    exists,
    func,
    literal_column,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlmodel import Session, col, select
from starlette.concurrency import run_in_threadpool

from common import clock
from common.auth import Principal, Role, require_roles
from common.db import SessionDep, UTCDateTime
from common.paging import page_of
from common.problem_codes import Code
from common.problems import NotFound, ValidationFailed, field_error
from common.schemas import IdPath, OutputModel, Page, PageDep, ReportDate
from gateway.models import AccessLogEntry

CLIENT_PREFIX = "client:"


class AccessLog:
    """Writes the entries (the proxy's side)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    async def record(
        self, request: Request, principal: Principal, service: str, member_ids: Sequence[int]
    ) -> None:
        subject = principal.subject
        entry = {
            "at": clock.utcnow(),
            "principal": subject,
            "role": principal.role.value,
            "client": subject[len(CLIENT_PREFIX) :] if subject.startswith(CLIENT_PREFIX) else None,
            "method": request.method,
            "path": request.url.path[:500],
            "request_id": getattr(request.state, "request_id", None),
            "service": service,
            "members": len(member_ids),
        }
        await run_in_threadpool(self.write, entry, member_ids)

    def write(self, entry: dict[str, Any], member_ids: Sequence[int]) -> None:
        """The entry with its members, one row whatever their number."""
        # The ids as one string: psycopg builds an array parameter slowly, in Python.
        ids = ",".join(map(str, member_ids))
        with self.engine.begin() as connection:
            if connection.dialect.name == "postgresql":
                # The answer waits for the entry to be written, not for it to reach the disk:
                # a crash of the database server may lose the last fraction of a second of
                # entries (never corrupt them), and each read saves a disk flush (~5 ms).
                connection.exec_driver_sql("SET LOCAL synchronous_commit = off")
            connection.execute(_ADD_ENTRY[connection.dialect.name], {**entry, "ids": ids})


_COLUMNS = "at, principal, role, client, method, path, request_id, service, members"
_VALUES = ":at, :principal, :role, :client, :method, :path, :request_id, :service, :members"
_ADD_ENTRY = {
    "postgresql": text(
        f"INSERT INTO access_log ({_COLUMNS}, member_ids)"
        f" VALUES ({_VALUES}, CAST(string_to_array(:ids, ',') AS integer[]))"
    ).bindparams(bindparam("at", type_=UTCDateTime)),
    "sqlite": text(
        f"INSERT INTO access_log ({_COLUMNS}, member_ids) VALUES ({_VALUES}, '[' || :ids || ']')"
    ).bindparams(bindparam("at", type_=UTCDateTime)),
}


def showed_any(dialect: str, member_ids: Sequence[int]) -> ColumnElement[bool]:
    """Entries that showed any of these members: by the GIN index on PostgreSQL."""
    column = col(AccessLogEntry.member_ids)
    if dialect == "postgresql":
        return column.op("&&")(cast(list(member_ids), ARRAY(Integer)))
    listed: Select[Any] = select(literal_column("value")).select_from(func.json_each(column))
    return exists(listed.where(literal_column("value").in_(list(member_ids))))


def prune(engine: Engine, before: datetime) -> int:
    """Drops the entries older than the retention period."""
    with Session(engine) as session:
        dropped = session.execute(delete(AccessLogEntry).where(col(AccessLogEntry.at) < before))
        session.commit()
        return int(dropped.rowcount or 0)  # type: ignore[attr-defined]  # a CursorResult


# --- reading -----------------------------------------------------------------------------------


class AccessRead(OutputModel):
    """One answer that showed this member's personal data."""

    id: int
    at: datetime
    principal: str = Field(description="`user:<username>` or `client:<client id>`.")
    role: Role
    client: str | None = Field(description="The API client, for a system's token.")
    method: str
    path: str = Field(description="The route asked, without its query.")
    request_id: str | None = Field(description="The request's `X-Request-Id`.")
    service: str
    members: int = Field(description="How many members the answer showed (this one among them).")


class AccessLogEntryPublic(AccessRead):
    member_ids: list[int] = Field(description="The members whose personal data it showed.")


router = APIRouter(tags=["personal data"])


@router.get(
    "/api/v1/members/{member_id}/access-log",
    response_model=Page[AccessRead],
    dependencies=[Depends(require_roles(Role.ADMIN, Role.OFFICER))],
    summary="Who read this member's personal data (admins; officers in their area)",
    description="Every answer that showed the member's personal fields, the latest first.",
)
async def member_access_log(member_id: IdPath, request: Request, page: PageDep) -> Page[AccessRead]:
    # The clubs service says whether the member exists and is in the caller's area.
    if not await request.app.state.forwarder.may_read(
        request, "clubs", f"/api/v1/members/{member_id}/consents"
    ):
        raise NotFound(f"No member {member_id}.")
    return await run_in_threadpool(_member_reads, request.app.state.engine, member_id, page)


def _member_reads(engine: Engine, member_id: int, page: Any) -> Page[AccessRead]:
    query = select(AccessLogEntry).where(showed_any(engine.dialect.name, [member_id]))
    with Session(engine) as session:
        paged = page_of(session, query, page, col(AccessLogEntry.id).desc())
        return paged.page([AccessRead.model_validate(row) for row in paged.rows])


def _bounds(start: date | None, end: date | None) -> tuple[datetime | None, datetime | None]:
    """Vietnam's days, inclusive, as instants."""
    if start is not None and end is not None and end < start:
        reason = "is before from"
        raise ValidationFailed(
            f"to: {reason}",
            errors=[field_error("to", reason, "query", code=Code.DATE_OUT_OF_ORDER)],
        )
    after = clock.start_of(start) if start is not None else None
    before = clock.start_of(end.fromordinal(end.toordinal() + 1)) if end is not None else None
    return after, before


@router.get(
    "/api/v1/personal-data/access-log",
    response_model=Page[AccessLogEntryPublic],
    dependencies=[Depends(require_roles(Role.ADMIN))],
    summary="Whose personal data a principal read in a window (admins)",
    description="What a breach investigation asks first: the answers that showed members' "
    "personal data, the latest first, with the members each showed.",
)
def access_log(
    session: SessionDep,
    page: PageDep,
    principal: Annotated[
        str | None,
        Query(max_length=200, description="`user:<username>` or `client:<client id>`."),
    ] = None,
    member_id: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
    start: Annotated[
        ReportDate | None, Query(alias="from", description="First day (Vietnam), inclusive.")
    ] = None,
    end: Annotated[
        ReportDate | None, Query(alias="to", description="Last day (Vietnam), inclusive.")
    ] = None,
) -> Page[AccessLogEntryPublic]:
    after, before = _bounds(start, end)
    query = select(AccessLogEntry)
    if principal is not None:
        query = query.where(col(AccessLogEntry.principal) == principal)
    if after is not None:
        query = query.where(col(AccessLogEntry.at) >= after)
    if before is not None:
        query = query.where(col(AccessLogEntry.at) < before)
    if member_id is not None:
        query = query.where(showed_any(session.get_bind().dialect.name, [member_id]))
    paged = page_of(session, query, page, col(AccessLogEntry.id).desc())
    return paged.page([AccessLogEntryPublic.model_validate(row) for row in paged.rows])


def reads_of(engine: Engine, member_ids: Sequence[int]) -> list[AccessLogEntryPublic]:
    """Every entry that showed any of these members, the latest first."""
    query = select(AccessLogEntry).where(showed_any(engine.dialect.name, member_ids))
    with Session(engine) as session:
        rows = session.exec(query.order_by(col(AccessLogEntry.id).desc())).all()
        return [AccessLogEntryPublic.model_validate(row) for row in rows]
