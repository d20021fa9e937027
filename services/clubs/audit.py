"""Recording every change to clubs and members: who, when, what (before and after)."""

from datetime import date, datetime
from typing import Any

from fastapi import Request
from sqlmodel import Session, SQLModel

from common.auth import Principal
from services.clubs.models import AuditEntry

HIDDEN_FIELDS = frozenset({"created_at", "updated_at", "version", "name_folded", "birth_key"})


def snapshot(row: SQLModel) -> dict[str, Any]:
    """The row's fields as JSON-safe values, without bookkeeping columns."""
    values = {}
    for name, value in row.model_dump().items():
        if name in HIDDEN_FIELDS:
            continue
        values[name] = value.isoformat() if isinstance(value, date | datetime) else value
    return values


def record(
    session: Session,
    request: Request,
    principal: Principal,
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
            actor=principal.subject,
            before=before,
            after=after,
            request_id=getattr(request.state, "request_id", None),
        )
    )
