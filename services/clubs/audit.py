"""Recording every change to clubs and members: who, when, what (before and after)."""

from dataclasses import dataclass
from datetime import date, datetime
from typing import Annotated, Any, Protocol

from fastapi import Depends, Request
from sqlmodel import Session, SQLModel

from common.auth import CurrentPrincipal, Principal
from common.clock import utcnow
from common.db import id_of
from services.clubs.models import AuditEntry

HIDDEN_FIELDS = frozenset(
    {"created_at", "updated_at", "version", "name_folded", "birth_key", "national_id_blind_index"}
)


def snapshot(row: SQLModel) -> dict[str, Any]:
    """The row's fields as JSON-safe values, without bookkeeping columns."""
    values = {}
    for name, value in row.model_dump().items():
        if name in HIDDEN_FIELDS:
            continue
        values[name] = value.isoformat() if isinstance(value, date | datetime) else value
    return values


@dataclass(frozen=True)
class Actor:
    """Who writes: the principal recorded in the audit, and the request whose id it keeps
    (none for a scheduled job's change)."""

    principal: Principal
    request: Request | None = None


def current_actor(request: Request, principal: CurrentPrincipal) -> Actor:
    return Actor(principal, request)


ActorDep = Annotated[Actor, Depends(current_actor)]


def record(
    session: Session,
    actor: Actor,
    entity: str,
    entity_id: int,
    action: str,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
) -> None:
    """Adds an audit entry to the request's transaction, so it exists iff the change does."""
    if before is not None and after is not None:
        changed = {k for k in after if before.get(k) != after.get(k)}
        before = {k: v for k, v in before.items() if k in changed}
        after = {k: v for k, v in after.items() if k in changed}
    session.add(
        AuditEntry(
            entity=entity,
            entity_id=entity_id,
            action=action,
            actor=actor.principal.subject,
            before=before,
            after=after,
            request_id=None
            if actor.request is None
            else getattr(actor.request.state, "request_id", None),
        )
    )


class Stamped(Protocol):
    """A row that is in the database and keeps when it last changed."""

    @property
    def id(self) -> int | None: ...

    updated_at: datetime


def save(
    session: Session,
    actor: Actor,
    row: Stamped,
    entity: str,
    action: str,
    before: dict[str, Any],
    after: dict[str, Any],
) -> None:
    """Stamps a changed row and audits the change in the same transaction."""
    row.updated_at = utcnow()
    session.add(row)
    record(session, actor, entity, id_of(row), action, before, after)
