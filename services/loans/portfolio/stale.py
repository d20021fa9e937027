"""Writes mark the portfolio's running balances they make stale (`models.PortfolioStale`).

Every write that changes a club loan's or a bank record's figures calls `mark_stale` in its
transaction, with the member and the earliest day whose figures it changes; the balances of
that member's shard then answer only for earlier days until the worker rebuilds the shard
(`balances.py`).
"""

from collections.abc import Iterable
from datetime import date
from typing import Any

from sqlalchemy import ColumnElement, func, insert
from sqlmodel import Session

from common.clock import utcnow
from services.loans.portfolio.models import SHARDS, PortfolioStale

EVERY_DAY = date.min
"""The day to give when a write changes a record's figures of all its life (a match made or
undone, a retraction)."""


def shard_of(member_id: Any) -> ColumnElement[int]:
    """A member's shard, as SQL (records matched to no member are in shard 0)."""
    return func.coalesce(member_id % SHARDS, 0)


def _shard(member_id: int | None) -> int:
    return member_id % SHARDS if member_id is not None else 0


def mark_stale(session: Session, changes: Iterable[tuple[int | None, date]]) -> None:
    """The balances of these members' shards are stale from these days on."""
    earliest: dict[int, date] = {}
    for member_id, day in changes:
        shard = _shard(member_id)
        if shard not in earliest or day < earliest[shard]:
            earliest[shard] = day
    if earliest:
        now = utcnow()
        session.execute(
            insert(PortfolioStale),
            [{"shard": s, "from_day": day, "marked_at": now} for s, day in earliest.items()],
        )
