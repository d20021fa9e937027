"""The reference lists against the database, and the one check every record's codes pass.

Nothing here commits: the request does.
"""

from collections.abc import Mapping

from sqlmodel import Session, col, select

from common.auth import Principal
from common.problem_codes import Code
from common.problems import Conflict, NotFound, ValidationFailed, field_error, invalid
from services.funding.reference.models import ReferenceItem
from services.funding.reference.schemas import ReferenceItemCreate, ReferenceItemUpdate
from services.funding.rules import ReferenceKind

ITEM_NAME = {
    ReferenceKind.ACTIVITIES: "activity",
    ReferenceKind.SOURCES: "source",
    ReferenceKind.FUNDER_TYPES: "funder type",
}


def check(
    session: Session, wanted: Mapping[str, tuple[ReferenceKind, str]], location: str = "body"
) -> dict[str, ReferenceItem]:
    """The items a record names, by field (`{"funder_type": (FUNDER_TYPES, "ngo")}`), when
    each is in its list and not retired; otherwise one 422 naming every failing field and
    where the valid codes are listed. Every record that takes an activity, a source or a
    funder type passes here."""
    if not wanted:
        return {}
    keys = {(kind.value, code) for kind, code in wanted.values()}
    rows = session.exec(
        select(ReferenceItem).where(
            col(ReferenceItem.kind).in_({kind for kind, _ in keys}),
            col(ReferenceItem.code).in_({code for _, code in keys}),
        )
    )
    known = {(item.kind, item.code): item for item in rows}
    found: dict[str, ReferenceItem] = {}
    errors = []
    for field, (kind, code) in wanted.items():
        item = known.get((kind.value, code))
        listed = f"the valid codes are listed at GET /api/v1/reference/{kind.value}"
        if item is None:
            reason = f"{code!r} is no {ITEM_NAME[kind]} known; {listed}"
            errors.append(field_error(field, reason, location, code=Code.UNKNOWN_REFERENCE))
        elif item.retired:
            reason = f"the {ITEM_NAME[kind]} {code!r} is retired; {listed}"
            errors.append(field_error(field, reason, location, code=Code.RETIRED_REFERENCE))
        else:
            found[field] = item
    if errors:
        summary = "; ".join(f"{error.field}: {error.reason}" for error in errors[:3])
        more = f" (and {len(errors) - 3} more)" if len(errors) > 3 else ""
        raise ValidationFailed(summary + more, errors=errors)
    return found


def items(session: Session, kind: ReferenceKind) -> list[ReferenceItem]:
    """The list of `kind`, retired items included, in the order the items were added."""
    query = select(ReferenceItem).where(ReferenceItem.kind == kind.value)
    return list(session.exec(query.order_by(col(ReferenceItem.id))).all())


def labels(session: Session, kind: ReferenceKind) -> dict[str, str]:
    """Code → Vietnamese name, in the list's order: the labels exports show."""
    return {item.code: item.name_vi for item in items(session, kind)}


def order_of(session: Session, kind: ReferenceKind) -> dict[str, int]:
    """Code → its position in the list, for putting sources and activities in order."""
    return {code: position for position, code in enumerate(labels(session, kind))}


def item_or_404(session: Session, kind: ReferenceKind, code: str) -> ReferenceItem:
    item = session.exec(
        select(ReferenceItem).where(ReferenceItem.kind == kind.value, ReferenceItem.code == code)
    ).first()
    if item is None:
        raise NotFound(f"No {ITEM_NAME[kind]} {code!r}.")
    return item


def create(
    session: Session, principal: Principal, kind: ReferenceKind, payload: ReferenceItemCreate
) -> ReferenceItem:
    """A new item; 409 when the code is taken (retired items keep theirs), 422 for a funder
    type without a known source or a source given to another kind."""
    taken = session.exec(
        select(ReferenceItem.id).where(
            ReferenceItem.kind == kind.value, ReferenceItem.code == payload.code
        )
    ).first()
    if taken is not None:
        raise Conflict(
            f"The {ITEM_NAME[kind]} {payload.code!r} exists already.",
            code=Code.ALREADY_EXISTS,
            reference_code=payload.code,
        )
    if kind is ReferenceKind.FUNDER_TYPES:
        if payload.source is None:
            raise invalid("source", "is required for a funder type", code=Code.MISSING)
        check(session, {"source": (ReferenceKind.SOURCES, payload.source)})
    elif payload.source is not None:
        raise invalid("source", "is for funder types only", code=Code.NOT_ALLOWED_WITH)
    item = ReferenceItem(kind=kind.value, **payload.model_dump(), created_by=principal.subject)
    session.add(item)
    session.flush()
    return item


def update(session: Session, item: ReferenceItem, payload: ReferenceItemUpdate) -> ReferenceItem:
    for name, value in payload.model_dump(exclude_unset=True).items():
        setattr(item, name, value)
    session.add(item)
    session.flush()
    return item
