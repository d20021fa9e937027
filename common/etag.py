"""Optimistic concurrency with `ETag` / `If-Match` on versioned rows."""

from typing import Annotated, Protocol

from fastapi import Header, Response
from sqlalchemy import update
from sqlalchemy.orm import object_mapper
from sqlmodel import Session

from common.problem_codes import Code
from common.problems import PreconditionFailed

IfMatch = Annotated[
    str | None,
    Header(
        max_length=200, description="The ETag last read; a stale one gets 412 and changes nothing."
    ),
]


def etag(version: int) -> str:
    return f'"v{version}"'


def set_etag(response: Response, version: int) -> None:
    response.headers["ETag"] = etag(version)


def _matches(if_match: str, version: int) -> bool:
    tags = [tag.strip().removeprefix("W/") for tag in if_match.split(",")]
    return "*" in tags or etag(version) in tags


class Versioned(Protocol):
    """A table's row with an id and a version column."""

    id: int | None
    version: int


def claim_version(session: Session, row: Versioned, if_match: str | None) -> None:
    """Checks `If-Match` and bumps the row's version in one conditional UPDATE.

    The UPDATE both validates the version and locks the row, so two writers holding the same
    ETag cannot both succeed: the second finds the version moved on and gets 412.
    """
    current = row.version
    if if_match is not None and not _matches(if_match, current):
        # The version the app's copy conflicts with, in the problem and as the ETag: the app
        # reads the record again to show both (never the record itself: a member's problem
        # would carry personal data).
        raise PreconditionFailed(
            f"The resource has changed (now {etag(current)}); read it again.",
            code=Code.ETAG_STALE,
            headers={"ETag": etag(current)},
            current_etag=etag(current),
        )
    mapper = object_mapper(row)
    result = session.execute(
        update(mapper)
        .where(mapper.c.id == row.id, mapper.c.version == current)
        .values(version=current + 1)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]  # an UPDATE's result has a rowcount
        raise PreconditionFailed(
            "The resource was changed at the same moment; read it again.",
            code=Code.CONCURRENT_CHANGE,
        )
    row.version = current + 1
