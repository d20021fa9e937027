"""Who read whose personal data: written by the proxy, asked by admins and officers.

The services name, in `X-Personal-Data-Subjects` (`common/personal_data.py`), the members whose
personal data an answer shows; the proxy strips the header and calls `AccessLog.record` before
the answer leaves, so an answer that showed personal data and its entry go together. One
entry per answer (who, role, client, when, method, path without its query, request id,
service) with one row per member: a page of 200 members is two statements, in one
transaction, in a worker thread.
"""

from collections.abc import Sequence
from datetime import date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import Field
from sqlalchemy import Engine, delete, insert, text
from sqlalchemy import select as core_select
from sqlmodel import Session, col, select
from starlette.concurrency import run_in_threadpool

from common import clock
from common.auth import Principal, Role, require_roles
from common.db import SessionDep, id_of, page_of
from common.problems import NotFound, ValidationFailed, field_error
from common.schemas import IdPath, OutputModel, Page, PageDep, ReportDate
from gateway.models import AccessLogEntry, AccessLogMember

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
        """The entry and its members: two statements, whatever the number of members (a
        row per member made by the database from one array), in one transaction."""
        with self.engine.begin() as connection:
            if connection.dialect.name == "postgresql":
                # The answer waits for the entry to be written, not for it to reach the disk:
                # a crash of the database server may lose the last fraction of a second of
                # entries (never corrupt them), and each read saves a disk flush (~5 ms).
                connection.exec_driver_sql("SET LOCAL synchronous_commit = off")
            entry_id = connection.execute(_ADD_ENTRY, entry).scalar_one()
            # The ids as one string: psycopg builds an array parameter slowly, in Python.
            ids = ",".join(map(str, member_ids))
            connection.execute(_MEMBERS[connection.dialect.name], {"entry": entry_id, "ids": ids})


_ADD_ENTRY = insert(AccessLogEntry).returning(col(AccessLogEntry.id))
_MEMBERS = {
    "postgresql": text(
        "INSERT INTO access_log_members (entry_id, member_id)"
        " SELECT :entry, unnest(CAST(string_to_array(:ids, ',') AS integer[]))"
    ),
    "sqlite": text(
        "INSERT INTO access_log_members (entry_id, member_id)"
        " SELECT :entry, value FROM json_each('[' || :ids || ']')"
    ),
}


def prune(engine: Engine, before: datetime) -> int:
    """Drops the entries older than the retention period (their member rows first)."""
    with Session(engine) as session:
        old = select(col(AccessLogEntry.id)).where(col(AccessLogEntry.at) < before)
        session.execute(delete(AccessLogMember).where(col(AccessLogMember.entry_id).in_(old)))
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
    query = (
        select(AccessLogEntry)
        .join(AccessLogMember, col(AccessLogMember.entry_id) == col(AccessLogEntry.id))
        .where(col(AccessLogMember.member_id) == member_id)
    )
    with Session(engine) as session:
        rows, total = page_of(session, query, page, col(AccessLogEntry.id).desc())
        items = [AccessRead.model_validate(row) for row in rows]
    return Page(items=items, total=total, limit=page.limit, offset=page.offset)


def _bounds(start: date | None, end: date | None) -> tuple[datetime | None, datetime | None]:
    """Vietnam's days, inclusive, as instants."""
    if start is not None and end is not None and end < start:
        reason = "is before from"
        raise ValidationFailed(f"to: {reason}", errors=[field_error("to", reason, "query")])
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
        showed = select(col(AccessLogMember.entry_id)).where(
            col(AccessLogMember.member_id) == member_id
        )
        query = query.where(col(AccessLogEntry.id).in_(showed))
    rows, total = page_of(session, query, page, col(AccessLogEntry.id).desc())
    items = with_members(session, rows)
    return Page(items=items, total=total, limit=page.limit, offset=page.offset)


def with_members(session: Session, rows: Sequence[AccessLogEntry]) -> list[AccessLogEntryPublic]:
    """The entries, each with the ids of the members it showed."""
    members: dict[int, list[int]] = {id_of(row): [] for row in rows}
    if members:
        found = session.execute(
            core_select(col(AccessLogMember.entry_id), col(AccessLogMember.member_id))
            .where(col(AccessLogMember.entry_id).in_(list(members)))
            .order_by(col(AccessLogMember.member_id))
        )
        for entry_id, shown_id in found:
            members[entry_id].append(shown_id)
    return [
        AccessLogEntryPublic(
            **AccessRead.model_validate(row).model_dump(), member_ids=members[id_of(row)]
        )
        for row in rows
    ]


def reads_of(engine: Engine, member_ids: Sequence[int]) -> list[AccessLogEntryPublic]:
    """Every entry that showed any of these members, the latest first."""
    showed = select(col(AccessLogMember.entry_id)).where(
        col(AccessLogMember.member_id).in_(member_ids)
    )
    query = select(AccessLogEntry).where(col(AccessLogEntry.id).in_(showed))
    with Session(engine) as session:
        rows = session.exec(query.order_by(col(AccessLogEntry.id).desc())).all()
        return with_members(session, rows)
