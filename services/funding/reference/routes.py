"""`/api/v1/reference/{kind}`: the lists of activities, sources and funder types.

Everyone who reads the registry reads them; administrators add items and rename or retire them.
"""

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path
from sqlmodel import col, select

from common.auth import Principal, Role, require_roles
from common.db import SessionDep
from common.idempotency import Idempotency
from common.paging import page_of
from common.schemas import Page, PageDep
from common.scope import Kind, readers
from services.funding.reference import service
from services.funding.reference.models import ReferenceItem
from services.funding.reference.schemas import (
    ReferenceItemCreate,
    ReferenceItemPublic,
    ReferenceItemUpdate,
)
from services.funding.rules import ReferenceKind

router = APIRouter(
    prefix="/api/v1/reference",
    tags=["reference"],
    dependencies=[Depends(require_roles(*readers(Kind.CLUB)))],
)
Admin = Annotated[Principal, Depends(require_roles(Role.ADMIN))]
ItemCode = Annotated[str, Path(max_length=30)]


@router.get(
    "/{kind}",
    response_model=Page[ReferenceItemPublic],
    summary="A reference list: the codes a record may name",
)
def list_items(
    kind: ReferenceKind, session: SessionDep, page: PageDep, retired: bool | None = None
) -> Any:
    query = select(ReferenceItem).where(ReferenceItem.kind == kind.value)
    if retired is not None:
        query = query.where(ReferenceItem.retired == retired)
    paged = page_of(session, query, page, col(ReferenceItem.id))
    return paged.page([ReferenceItemPublic.model_validate(item) for item in paged.rows])


@router.get("/{kind}/{code}", response_model=ReferenceItemPublic, summary="One item of a list")
def get_item(kind: ReferenceKind, code: ItemCode, session: SessionDep) -> Any:
    return ReferenceItemPublic.model_validate(service.item_or_404(session, kind, code))


@router.post(
    "/{kind}",
    response_model=ReferenceItemPublic,
    status_code=201,
    summary="Add an item to a list (admin)",
)
def create_item(
    kind: ReferenceKind,
    payload: ReferenceItemCreate,
    session: SessionDep,
    principal: Admin,
    idem: Idempotency,
) -> Any:
    item = service.create(session, principal, kind, payload)
    return idem.respond(session, ReferenceItemPublic.model_validate(item))


@router.patch(
    "/{kind}/{code}",
    response_model=ReferenceItemPublic,
    summary="Rename or retire an item of a list (admin)",
)
def update_item(
    kind: ReferenceKind,
    code: ItemCode,
    payload: ReferenceItemUpdate,
    session: SessionDep,
    _admin: Admin,
) -> Any:
    item = service.item_or_404(session, kind, code)
    return ReferenceItemPublic.model_validate(service.update(session, item, payload))
