"""Keyset cursors: a page continues after the last row of the one before, by its sort keys.

An offset counts rows, so a row added or removed before it between two calls makes the next page
skip or repeat one; a cursor names the place instead (the sort keys of the last row served), so
pages neither skip nor repeat whatever changes meanwhile, and a late page costs what the first
does. The cursor is opaque to clients: base64url of the sort's name and the last row's keys.
"""

import base64
import binascii
import hashlib
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import orjson
from sqlalchemy import and_, false, or_, true
from sqlalchemy.sql import operators
from sqlalchemy.sql.elements import ColumnElement, UnaryExpression

from common.problem_codes import Code
from common.problems import invalid

_TAGS: dict[str, Any] = {"d": date.fromisoformat, "t": datetime.fromisoformat}


@dataclass(frozen=True)
class SortKey:
    """One expression of a list's order, ascending or descending; NULLs come last either way,
    on both databases, so that the order and the cursor's comparisons agree."""

    expression: ColumnElement[Any]
    descending: bool

    @classmethod
    def of(cls, item: Any) -> "SortKey":
        if isinstance(item, UnaryExpression) and item.modifier in (
            operators.desc_op,
            operators.asc_op,
        ):
            return cls(item.element, item.modifier is operators.desc_op)
        return cls(item, False)

    @property
    def name(self) -> str:
        return str(getattr(self.expression, "key", None) or getattr(self.expression, "name", "?"))

    def order(self) -> Any:
        ordered = self.expression.desc() if self.descending else self.expression.asc()
        return ordered.nulls_last()

    def after(self, value: Any) -> ColumnElement[bool]:
        """The rows strictly after `value` in this key's order."""
        if value is None:
            return false()  # NULLs come last: nothing follows them
        beyond = self.expression < value if self.descending else self.expression > value
        return or_(beyond, self.expression.is_(None))

    def equal(self, value: Any) -> ColumnElement[bool]:
        return self.expression.is_(None) if value is None else self.expression == value


def fingerprint(keys: list[SortKey]) -> str:
    """Names the order a cursor belongs to, so a cursor of another list or sort is refused."""
    spelled = ",".join(f"{key.name}{'-' if key.descending else '+'}" for key in keys)
    return hashlib.blake2s(spelled.encode(), digest_size=4).hexdigest()


def encode(keys: list[SortKey], values: tuple[Any, ...], sync_token: str | None = None) -> str:
    """The cursor after a row with these keys; a sync's token rides along to its last page."""
    body: dict[str, Any] = {"o": fingerprint(keys), "k": [_tag(value) for value in values]}
    if sync_token is not None:
        body["s"] = sync_token
    return base64.urlsafe_b64encode(orjson.dumps(body)).decode().rstrip("=")


def decode(keys: list[SortKey], cursor: str) -> tuple[list[Any], str | None]:
    """The last row's keys a cursor holds, and the sync token it carries; 422 on the `cursor`
    parameter when it is not one of this list's cursors in this order."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        body = orjson.loads(raw)
        if body["o"] != fingerprint(keys) or len(body["k"]) != len(keys):
            raise ValueError("another order")
        carried = body.get("s")
        if carried is not None and not isinstance(carried, str):
            raise ValueError("not a token")
        return [_untag(item) for item in body["k"]], carried
    except (ValueError, TypeError, KeyError, binascii.Error, orjson.JSONDecodeError):
        raise invalid(
            "cursor",
            "is not a cursor of this list in this order: pass next_cursor from the previous page "
            "with the same sort",
            "query",
            code=Code.INVALID_CURSOR,
        ) from None


def carried(cursor: str) -> str | None:
    """The sync token a cursor carries, if it reads as one (`decode` judges the rest)."""
    try:
        body = orjson.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (ValueError, binascii.Error, orjson.JSONDecodeError):
        return None
    found = body.get("s") if isinstance(body, dict) else None
    return found if isinstance(found, str) else None


def after(keys: list[SortKey], values: list[Any]) -> ColumnElement[bool]:
    """The rows after the row whose keys are `values`: the first key beyond it, or equal on
    the first and beyond on the second, and so on."""
    branches = []
    for index, key in enumerate(keys):
        equal_before = [keys[i].equal(values[i]) for i in range(index)]
        branches.append(and_(true(), *equal_before, key.after(values[index])))
    return or_(false(), *branches)


def _tag(value: Any) -> Any:
    if isinstance(value, datetime):
        return ["t", value.isoformat()]
    if isinstance(value, date):
        return ["d", value.isoformat()]
    if value is None or isinstance(value, bool | int | float | str):
        return value
    raise TypeError(f"a sort key of type {type(value).__name__} has no cursor form")


def _untag(item: Any) -> Any:
    if isinstance(item, list):
        tag, text = item
        return _TAGS[tag](text)
    if item is None or isinstance(item, bool | int | float | str):
        return item
    raise ValueError("not a key")
