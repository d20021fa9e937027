"""`/api/v1/funded-clubs`: which clubs got money, from whom, how much and when.

Built from the allocations alone (each keeps its club's province and commune), so one indexed
aggregate answers a page; the clubs' names come from the clubs service, and when it cannot
answer the page still comes, naming the fields it lacks.
"""

import asyncio
from collections import defaultdict
from datetime import date
from typing import Annotated, TypedDict

from fastapi import APIRouter, Depends, Query, Response
from sqlalchemy import ColumnElement, Row, ScalarSelect, Select, func, literal
from sqlalchemy import select as core_select
from sqlalchemy.orm import aliased
from sqlmodel import Session, col, select
from starlette.concurrency import run_in_threadpool

from common import cursor, export
from common.auth import CurrentPrincipal, Principal, Role, require_roles
from common.club_directory import ClubDirectoryDep, ClubFacts
from common.cursor import SortKey
from common.db import SessionDep
from common.export import FILE_ANSWERS, Cell, FileFormat
from common.paging import sync_token
from common.problem_codes import Code
from common.problems import ServiceUnavailable, invalid
from common.schemas import Id, PageDep, PageParams, WrittenDay
from common.sync import ChangedSince, Token
from services.funding.catalogue.models import Funder
from services.funding.flows.models import Allocation
from services.funding.plans.schemas import ProvinceCode
from services.funding.reference.schemas import CODE_PATTERN
from services.funding.reports.schemas import FundedClub, FundedClubsPage, FundedSummary, FunderShare
from services.funding.scope import READERS, asked_funder, asked_programme, flow_filter

router = APIRouter(
    prefix="/api/v1/funded-clubs",
    tags=["funded clubs"],
    dependencies=[Depends(require_roles(*READERS))],
)
CLUB_FIELDS = ("items.club_code", "items.club_name", "items.club_status")
MAX_FILE_CLUBS = 30_000
"""Clubs in one file: more than the country has (about 6,500; 25,000 at the benchmarks' scale),
and few enough for one `IN` list of SQLite's."""
FILE_HEADER = [
    "period_from", "period_to", "club_id", "club_code", "club_name", "club_status",
    "province_code", "commune_code", "club_amount", "club_allocations", "other_funders",
    "funder_id", "funder_name", "funder_type", "source", "amount", "allocations",
    "first_allocated_on", "last_allocated_on",
]  # fmt: skip
"""A file's columns: one row per club and funder (long, as pivot tables read it)."""


class Filters(TypedDict):
    """The filters a caller asked for (`allocation_conditions` adds the caller's scope)."""

    funder_id: int | None
    province: str | None
    programme: str | None
    source: str | None
    date_from: date | None
    date_to: date | None


ClubRow = Row[int, str, str, int, int, date, date]
"""A club's allocations: club id, province, commune, amount, count, first and last day."""


def allocation_conditions(
    principal: Principal,
    funder_id: int | None,
    province: str | None,
    programme: str | None,
    source: str | None,
    date_from: date | None,
    date_to: date | None,
    own_only: bool,
) -> list[ColumnElement[bool]]:
    """The filters on allocations; `own_only` adds the caller's scope (a partner's funder)."""
    conditions: list[ColumnElement[bool]] = []
    if own_only:
        conditions.append(
            flow_filter(
                principal,
                col(Allocation.funder_id),
                col(Allocation.province_code),
                col(Allocation.commune_code),
            )
        )
    elif principal.role is Role.OFFICER:
        conditions.append(col(Allocation.province_code).in_(principal.provinces))
    for column, value in (
        (col(Allocation.funder_id), funder_id),
        (col(Allocation.province_code), province),
        (col(Allocation.programme_code), programme),
        (col(Allocation.source), source),
    ):
        if value is not None:
            conditions.append(column == value)
    if date_from is not None:
        conditions.append(col(Allocation.allocated_on) >= date_from)
    if date_to is not None:
        conditions.append(col(Allocation.allocated_on) <= date_to)
    return conditions


def _asked(
    session: Session, principal: Principal, funder_id: int | None, programme: str | None
) -> None:
    asked_funder(session, principal, funder_id)
    asked_programme(session, programme)


def club_totals(
    conditions: list[ColumnElement[bool]],
) -> Select[int, str, str, int, int, date, date]:
    """One `ClubRow` per club of the allocations that meet `conditions`."""
    # SQLAlchemy's own `select`: SQLModel's is typed for at most four columns.
    return (
        core_select(
            col(Allocation.club_id),
            func.min(col(Allocation.province_code)),
            func.min(col(Allocation.commune_code)),
            func.sum(col(Allocation.amount)),
            func.count(),
            func.min(col(Allocation.allocated_on)),
            func.max(col(Allocation.allocated_on)),
        )
        .where(*conditions)
        .group_by(col(Allocation.club_id))
    )


def _changed_since(
    conditions: list[ColumnElement[bool]], since: Token | None
) -> list[ColumnElement[bool]]:
    """With `since`, only the clubs whose allocations changed after it."""
    if since is None:
        return conditions
    changed = select(col(Allocation.club_id)).where(since.changed(col(Allocation.sync_stamp)))
    return [*conditions, col(Allocation.club_id).in_(changed)]


def _page(
    session: Session,
    conditions: list[ColumnElement[bool]],
    page: PageParams,
    since: Token | None = None,
) -> tuple[list[ClubRow], str | None, Token]:
    """One row per club in club order, the cursor of the next page (None on the last) and the
    sync token; with `since`, the clubs whose allocations changed after it."""
    token = sync_token(session, page)
    keys = [SortKey.of(col(Allocation.club_id))]
    if page.cursor is not None:
        conditions = [*conditions, cursor.after(keys, cursor.decode(keys, page.cursor)[0])]
    conditions = _changed_since(conditions, since)
    rows = list(
        session.execute(
            club_totals(conditions)
            .order_by(col(Allocation.club_id))
            .limit(page.limit + 1)
            .offset(page.offset)
        ).all()
    )
    more = len(rows) > page.limit
    rows = rows[: page.limit]
    next_cursor = cursor.encode(keys, (rows[-1][0],), token.encode()) if more else None
    return rows, next_cursor, token


def _every_row(
    session: Session, conditions: list[ColumnElement[bool]], since: Token | None
) -> list[ClubRow]:
    """Every club's row in club order, for a file (422 beyond `MAX_FILE_CLUBS`)."""
    query = club_totals(_changed_since(conditions, since)).order_by(col(Allocation.club_id))
    rows = list(session.execute(query.limit(MAX_FILE_CLUBS + 1)).all())
    if len(rows) > MAX_FILE_CLUBS:
        reason = f"more than {MAX_FILE_CLUBS:,} clubs in one file: ask for one province"
        raise invalid("province", reason, "query", code=Code.TOO_MANY_ROWS)
    return rows


def _summary(
    session: Session, conditions: list[ColumnElement[bool]], other_clubs: ColumnElement[int]
) -> tuple[int, int, int, int]:
    """The visible allocations' clubs, amount and count, and `other_clubs` in the same
    statement (one round trip less)."""
    clubs, amount, count, others = session.exec(
        select(
            func.count(func.distinct(col(Allocation.club_id))),
            func.coalesce(func.sum(col(Allocation.amount)), 0),
            func.count(),
            other_clubs,
        ).where(*conditions)
    ).one()
    return int(clubs), int(amount), int(count), int(others)


def _other_clubs(
    principal: Principal, shared: list[ColumnElement[bool]], filters: Filters
) -> ScalarSelect[int]:
    """Clubs funded (under the same filters, in the same window) only by funders other than
    the partner's, as a scalar subquery.

    The clubs are listed first, then each is probed once for an allocation of the partner's
    funder (index on club and funder). A NOT EXISTS let PostgreSQL hash all of the funder's
    allocations nationwide instead, most of a partner's page for a funder in many provinces.
    """
    clubs = (
        select(col(Allocation.club_id)).where(*shared).group_by(col(Allocation.club_id)).subquery()
    )
    own = aliased(Allocation)
    in_window = []
    if filters["date_from"] is not None:
        in_window.append(col(own.allocated_on) >= filters["date_from"])
    if filters["date_to"] is not None:
        in_window.append(col(own.allocated_on) <= filters["date_to"])
    # A scalar subquery is never turned into a join, so it stays one probe per club.
    own_allocation = (
        select(col(own.club_id))
        .where(
            col(own.club_id) == clubs.c.club_id,
            col(own.funder_id) == principal.funder_id,
            *in_window,
        )
        .limit(1)
        .scalar_subquery()
    )
    return select(func.count()).select_from(clubs).where(own_allocation.is_(None)).scalar_subquery()


def _shares(
    session: Session, conditions: list[ColumnElement[bool]], club_ids: list[int]
) -> dict[int, list[FunderShare]]:
    # SQLAlchemy's own `select`: SQLModel's is typed for at most four columns.
    rows = session.execute(
        core_select(
            col(Allocation.club_id),
            Funder,
            func.sum(col(Allocation.amount)),
            func.count(),
            func.min(col(Allocation.allocated_on)),
            func.max(col(Allocation.allocated_on)),
        )
        .join(Funder, col(Funder.id) == col(Allocation.funder_id))
        .where(*conditions, col(Allocation.club_id).in_(club_ids))
        .group_by(col(Allocation.club_id), col(Funder.id))
        .order_by(col(Allocation.club_id), col(Funder.id))
    )
    shares: dict[int, list[FunderShare]] = defaultdict(list)
    for club_id, funder, amount, count, first, last in rows:
        shares[club_id].append(
            FunderShare(
                funder_id=funder.id,
                funder_name=funder.name,
                funder_type=funder.funder_type,
                source=funder.source,
                amount=int(amount),
                allocations=int(count),
                first_allocated_on=first,
                last_allocated_on=last,
            )
        )
    return shares


def _other_funders(
    session: Session,
    principal: Principal,
    shared: list[ColumnElement[bool]],
    club_ids: list[int],
) -> dict[int, int]:
    rows = session.exec(
        select(col(Allocation.club_id), func.count(func.distinct(col(Allocation.funder_id))))
        .where(
            *shared,
            col(Allocation.club_id).in_(club_ids),
            col(Allocation.funder_id) != principal.funder_id,
        )
        .group_by(col(Allocation.club_id))
    )
    return {club_id: int(count) for club_id, count in rows}


def club_items(
    session: Session,
    principal: Principal,
    filters: Filters,
    visible: list[ColumnElement[bool]],
    rows: list[ClubRow],
) -> list[FundedClub]:
    """The items of these clubs' `rows` (from `_page` or `_every_row`)."""
    club_ids = [row[0] for row in rows]
    shares = _shares(session, visible, club_ids)
    partner = principal.role is Role.PARTNER
    shared = _any_funder(principal, filters)
    others = _other_funders(session, principal, shared, club_ids) if partner else {}
    return [
        FundedClub(
            club_id=club_id,
            club_code=None,
            club_name=None,
            club_status=None,
            province_code=province,
            commune_code=commune,
            amount=int(amount),
            allocations=int(count),
            first_allocated_on=first,
            last_allocated_on=last,
            funders=shares[club_id],
            other_funders=others.get(club_id, 0),
        )
        for club_id, province, commune, amount, count, first, last in rows
    ]


def _any_funder(principal: Principal, filters: Filters) -> list[ColumnElement[bool]]:
    """What a partner may count: the same filters, any funder, but never another funder's
    amounts."""
    any_funder: Filters = {**filters, "funder_id": None}
    return allocation_conditions(principal, **any_funder, own_only=False)


def _summary_of(
    session: Session,
    principal: Principal,
    filters: Filters,
    visible: list[ColumnElement[bool]],
) -> FundedSummary:
    """The clubs, amount and allocations the caller may see, and for a partner the clubs only
    other funders paid for."""
    partner = principal.role is Role.PARTNER
    shared = _any_funder(principal, filters)
    other_clubs = _other_clubs(principal, shared, filters) if partner else literal(0)
    clubs, amount, count, others_only = _summary(session, visible, other_clubs)
    return FundedSummary(clubs=clubs, amount=amount, allocations=count, other_clubs=others_only)


def _page_of_clubs(
    session: Session,
    principal: Principal,
    filters: Filters,
    visible: list[ColumnElement[bool]],
    rows: list[ClubRow],
) -> tuple[list[FundedClub], FundedSummary]:
    items = club_items(session, principal, filters, visible, rows)
    return items, _summary_of(session, principal, filters, visible)


@router.get(
    "",
    response_model=FundedClubsPage,
    responses=FILE_ANSWERS,
    summary="Clubs that received money: from which funders, how much and when",
    description="A page of clubs (JSON), or with `format=csv|xlsx` every club the filters "
    "give as a file for a spreadsheet: one row per club and funder, with the period asked for "
    "(a partner's file holds its own funder's rows, and the count of the other funders).",
)
async def funded_clubs(
    session: SessionDep,
    principal: CurrentPrincipal,
    page: PageDep,
    directory: ClubDirectoryDep,
    funder_id: Id | None = None,
    province: ProvinceCode | None = None,
    programme: Annotated[str | None, Query(max_length=30)] = None,
    funder_type: Annotated[
        str | None,
        Query(
            alias="source",
            pattern=CODE_PATTERN,
            description="The funders' source column: a code of `/api/v1/reference/sources`.",
        ),
    ] = None,
    date_from: Annotated[WrittenDay | None, Query(alias="from")] = None,
    date_to: Annotated[WrittenDay | None, Query(alias="to")] = None,
    since: ChangedSince = None,
    format: FileFormat = "json",
) -> FundedClubsPage | Response:
    if date_from and date_to and date_from > date_to:
        raise invalid("from", "is after 'to'", "query", code=Code.DATE_OUT_OF_ORDER)
    filters: Filters = {
        "funder_id": funder_id,
        "province": province,
        "programme": programme,
        "source": funder_type,
        "date_from": date_from,
        "date_to": date_to,
    }
    await run_in_threadpool(_asked, session, principal, funder_id, programme)
    visible = allocation_conditions(principal, **filters, own_only=True)
    if format != "json":
        every = await run_in_threadpool(_every_row, session, visible, since)
        # The clubs service names the clubs while the database gives their funders' shares.
        items, facts = await asyncio.gather(
            run_in_threadpool(club_items, session, principal, filters, visible, every),
            directory.facts_if_available({row[0] for row in every}),
        )
        if items and not _named(items, facts):
            raise ServiceUnavailable(
                "The clubs service did not answer: the file would lack the clubs' names. "
                "Try again shortly.",
                code=Code.SERVICE_UNAVAILABLE,
            )
        return _file(items, filters, format)
    rows, next_cursor, token = await run_in_threadpool(_page, session, visible, page, since)
    facts = None
    if rows:
        # The clubs service names the page's clubs while the database sums up the rest.
        (items, summary), facts = await asyncio.gather(
            run_in_threadpool(_page_of_clubs, session, principal, filters, visible, rows),
            directory.facts_if_available({row[0] for row in rows}),
        )
    else:
        items, summary = await run_in_threadpool(
            _page_of_clubs, session, principal, filters, visible, rows
        )
    missing = list(CLUB_FIELDS) if items and not _named(items, facts) else []
    return FundedClubsPage(
        items=items,
        total=summary.clubs,
        limit=page.limit,
        offset=page.offset,
        next_cursor=next_cursor,
        sync_token=token.encode(),
        summary=summary,
        missing=missing,
    )


def _named(items: list[FundedClub], facts: dict[int, ClubFacts] | None) -> bool:
    """Gives the items their clubs' code, name and status; False when the clubs service could
    not say (`facts` is None)."""
    if facts is None:
        return False
    for item in items:
        club = facts.get(item.club_id)
        if club is not None:
            item.club_code, item.club_name, item.club_status = club.code, club.name, club.status
    return True


def _file(items: list[FundedClub], filters: Filters, file_format: FileFormat) -> Response:
    """The funded clubs as a file: one row per club and funder, the period asked for first."""
    period = [filters["date_from"], filters["date_to"]]
    rows: list[list[Cell]] = [
        [
            *period, item.club_id, item.club_code, item.club_name, item.club_status,
            item.province_code, item.commune_code, item.amount, item.allocations,
            item.other_funders, share.funder_id, share.funder_name, share.funder_type,
            share.source, share.amount, share.allocations, share.first_allocated_on,
            share.last_allocated_on,
        ]
        for item in items
        for share in item.funders
    ]  # fmt: skip
    asked = f"{filters['date_from'] or 'the start'} to {filters['date_to'] or 'today'}"
    if file_format == "xlsx":
        data = export.to_xlsx(f"Funded clubs, {asked}", "funded clubs", FILE_HEADER, rows)
    else:
        data = export.to_csv(FILE_HEADER, rows)
    return export.file_answer(data, file_format, "funded-clubs")
