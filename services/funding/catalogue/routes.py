"""`/api/v1/funders` and `/api/v1/programmes`."""

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query
from sqlmodel import Session, col, select

from common.auth import Principal, Role, require_roles
from common.db import SessionDep, id_of
from common.idempotency import Idempotency
from common.paging import page_of, page_of_rows
from common.problem_codes import Code
from common.problems import Conflict, NotFound
from common.schemas import IdPath, Page, PageDep
from common.text import fold
from services.funding.catalogue.models import Funder, Programme
from services.funding.catalogue.schemas import (
    FunderCreate,
    FunderPublic,
    FunderUpdate,
    ProgrammePublic,
)
from services.funding.reference import service as reference
from services.funding.reference.schemas import FunderTypeCode, SourceCode
from services.funding.rules import ReferenceKind
from services.funding.scope import READERS

funders = APIRouter(
    prefix="/api/v1/funders", tags=["funders"], dependencies=[Depends(require_roles(*READERS))]
)
programmes = APIRouter(
    prefix="/api/v1/programmes",
    tags=["programmes"],
    # Club boards read the programme targets too; the bank has no business here.
    dependencies=[Depends(require_roles(*READERS, Role.CLUB_MANAGER))],
)
FunderRegistrar = Annotated[Principal, Depends(require_roles(Role.ADMIN, Role.OFFICER))]


def funder_or_404(session: Session, funder_id: int) -> Funder:
    funder = session.get(Funder, funder_id)
    if funder is None:
        raise NotFound(f"No funder {funder_id}.")
    return funder


def _refuse_taken_name(session: Session, name: str, funder_id: int | None = None) -> None:
    taken = session.exec(select(Funder.id).where(Funder.name == name)).first()
    if taken is not None and taken != funder_id:
        raise Conflict(
            f"A funder named {name!r} exists already.", code=Code.ALREADY_EXISTS, funder_id=taken
        )


@funders.post("", response_model=FunderPublic, status_code=201, summary="Register a funder")
def create_funder(
    payload: FunderCreate, session: SessionDep, principal: FunderRegistrar, idem: Idempotency
) -> Any:
    _refuse_taken_name(session, payload.name)
    wanted = {"funder_type": (ReferenceKind.FUNDER_TYPES, payload.funder_type)}
    funder_type = reference.check(session, wanted)["funder_type"]
    assert funder_type.source is not None  # every funder type has one (reference.service)
    funder = Funder(**payload.model_dump(), source=funder_type.source, created_by=principal.subject)
    session.add(funder)
    session.flush()
    return idem.respond(session, FunderPublic.model_validate(funder))


@funders.get("", response_model=Page[FunderPublic], summary="List funders")
def list_funders(
    session: SessionDep,
    page: PageDep,
    funder_type: FunderTypeCode | None = None,
    source: SourceCode | None = None,
    q: Annotated[str | None, Query(max_length=100, description="Part of the name.")] = None,
) -> Page[FunderPublic]:
    query = select(Funder).order_by(col(Funder.id))
    if funder_type is not None:
        query = query.where(Funder.funder_type == funder_type)
    if source is not None:
        query = query.where(Funder.source == source)
    # Funders are a few hundred organisations; names are matched without diacritics in Python.
    rows = list(session.exec(query).all())
    if q:
        needle = fold(q)
        rows = [row for row in rows if needle in fold(row.name)]
    paged = page_of_rows(rows, page, "funder id", id_of, id_of)
    return paged.page([FunderPublic.model_validate(row) for row in paged.rows])


@funders.get("/{funder_id}", response_model=FunderPublic, summary="A funder")
def get_funder(funder_id: IdPath, session: SessionDep) -> FunderPublic:
    return FunderPublic.model_validate(funder_or_404(session, funder_id))


@funders.patch("/{funder_id}", response_model=FunderPublic, summary="Correct a funder (admin)")
def update_funder(
    funder_id: IdPath,
    payload: FunderUpdate,
    session: SessionDep,
    _admin: Annotated[Principal, Depends(require_roles(Role.ADMIN))],
) -> FunderPublic:
    funder = funder_or_404(session, funder_id)
    changes = payload.model_dump(exclude_unset=True)
    if "name" in changes:
        _refuse_taken_name(session, changes["name"], funder_id)
    for name, value in changes.items():
        setattr(funder, name, value)
    session.add(funder)
    session.flush()
    return FunderPublic.model_validate(funder)


@programmes.get("", response_model=Page[ProgrammePublic], summary="The programme phases")
def list_programmes(session: SessionDep, page: PageDep) -> Any:
    paged = page_of(
        session, select(Programme), page, col(Programme.start_year), col(Programme.code)
    )
    return paged.page([ProgrammePublic.model_validate(row) for row in paged.rows])


@programmes.get("/{code}", response_model=ProgrammePublic, summary="One programme phase")
def get_programme(
    code: Annotated[str, Path(max_length=30)], session: SessionDep
) -> ProgrammePublic:
    programme = session.get(Programme, code)
    if programme is None:
        raise NotFound(f"No programme {code!r}.")
    return ProgrammePublic.model_validate(programme)
