"""Every list's paging: one page of a query's rows, its total, the cursor of the next page and,
for the lists a front end keeps offline, the sync token (see `common.sync`)."""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, literal_column
from sqlalchemy.sql import Select as CoreSelect
from sqlmodel import Session, select
from sqlmodel.sql.expression import Select, SelectOfScalar

from common import cursor, sync
from common.cursor import SortKey
from common.problem_codes import Code
from common.problems import invalid
from common.schemas import Page, PageParams, T


@dataclass(frozen=True)
class Synced:
    """A list that syncs: its table's stamp column, what the client saw (`since`, from
    `changed_since`), and where the ids of its deleted rows are kept, if it deletes any."""

    stamp: Any
    since: sync.Token | None
    removed: Callable[[Session, sync.Token], list[int]] | None = None


@dataclass(frozen=True)
class Paged:
    """One page of a query's rows, with what the envelope says about them."""

    rows: list[Any]
    total: int
    params: PageParams
    next_cursor: str | None
    sync_token: str | None = None
    removed: list[int] | None = None

    def page(self, items: list[T]) -> Page[T]:
        """The envelope of this page around `items` (the rows as the list shows them)."""
        return Page(
            items=items,
            total=self.total,
            limit=self.params.limit,
            offset=self.params.offset,
            next_cursor=self.next_cursor,
            sync_token=self.sync_token,
            removed=self.removed,
        )


def page_of(
    session: Session,
    query: Select[*tuple[Any, ...]] | SelectOfScalar[Any] | CoreSelect[Any],
    page: PageParams,
    *order: Any,
    synced: Synced | None = None,
) -> Paged:
    """One page of a query's rows and how many rows the query has: every list's paging.

    `order` ends with a unique column (usually the id), so rows in a tie keep one order, and
    the page's `next_cursor` holds the last row's keys: the next page starts after that row,
    whatever was added or removed before it meanwhile. A synced list reads its token before
    its rows (or takes it from the cursor, for the later pages of one sync)."""
    keys = [SortKey.of(item) for item in order]
    after = cursor.decode(keys, page.cursor)[0] if page.cursor is not None else None
    token = sync_token(session, page) if synced is not None else None
    if synced is not None and synced.since is not None:
        query = query.where(synced.since.changed(synced.stamp))
    total: int = session.exec(
        select(func.count()).select_from(query.order_by(None).subquery())
    ).one()
    width = len(query.column_descriptions)
    paged: Any = query if after is None else query.where(cursor.after(keys, after))
    labelled = [key.expression.label(f"page_key_{index}") for index, key in enumerate(keys)]
    paged = paged.add_columns(*labelled).order_by(*(key.order() for key in keys))
    found = list(session.execute(paged.offset(page.offset).limit(page.limit + 1)).all())
    served = found[: page.limit]
    rows = [row[0] if width == 1 else tuple(row[:width]) for row in served]
    encoded = token.encode() if token is not None else None
    next_cursor = None
    if len(found) > page.limit:
        next_cursor = cursor.encode(keys, tuple(served[-1][width:]), encoded)
    removed = None
    if synced is not None and synced.removed is not None and synced.since is not None:
        removed = synced.removed(session, synced.since) if page.cursor is None else []
    return Paged(rows, total, page, next_cursor, encoded, removed)


def sync_token(session: Session, page: PageParams) -> sync.Token:
    """The token of a synced list, read before its rows (`page_of`, or its caller for
    `page_of_rows`): the one the cursor carries through the pages of one sync, or now."""
    carried = cursor.carried(page.cursor) if page.cursor is not None else None
    return sync.decode(carried, "cursor") if carried else sync.now(session)


def page_of_rows(
    rows: list[Any],
    page: PageParams,
    order: str,
    key: Callable[[Any], Any],
    ident: Callable[[Any], int],
    descending: bool = False,
    token: sync.Token | None = None,
) -> Paged:
    """`page_of` for a short list sorted in memory (by names without diacritics, say) by `key`,
    named `order`. The cursor holds the last row's id, never its sort value (a member's name
    must not travel in an address), and the next page starts after that row. A synced list
    passes the `sync_token` it read before its rows."""
    keys = [SortKey(literal_column(order), descending)]
    ordered = sorted(rows, key=lambda row: (key(row), ident(row)), reverse=descending)
    start = page.offset
    if page.cursor is not None:
        (last,), _ = cursor.decode(keys, page.cursor)
        at = next((i for i, row in enumerate(ordered) if ident(row) == last), None)
        if at is None:
            raise invalid(
                "cursor",
                "the row it follows left this list: read it again from the start",
                "query",
                code=Code.CURSOR_ROW_GONE,
            )
        start = at + 1
    chosen = ordered[start : start + page.limit]
    more = len(ordered) > start + page.limit
    encoded = token.encode() if token is not None else None
    next_cursor = None
    if more and chosen:
        next_cursor = cursor.encode(keys, (ident(chosen[-1]),), encoded)
    return Paged(chosen, len(rows), page, next_cursor, encoded)
