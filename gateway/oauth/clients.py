"""`/api/v1/app-clients`: the public clients (browser and mobile apps) an admin registers.

Apart from the machine clients of `/api/v1/clients`: an app holds no secret and no role or
scope of its own (the person who logs in through it brings theirs), only redirect URIs.
"""

from typing import Any

from fastapi import APIRouter, Depends
from sqlmodel import Session, col, select

from common.auth import Role, require_roles
from common.db import SessionDep
from common.idempotency import Idempotency
from common.paging import page_of
from common.problems import NotFound
from common.schemas import Page, PageDep
from gateway import identity
from gateway.oauth.models import AppClient
from gateway.oauth.schemas import AppClientCreate, AppClientPublic, AppClientUpdate

router = APIRouter(
    prefix="/api/v1/app-clients",
    tags=["identity"],
    dependencies=[Depends(require_roles(Role.ADMIN))],
)


def _client(session: Session, client_id: str) -> AppClient:
    client = session.exec(select(AppClient).where(AppClient.client_id == client_id)).first()
    if client is None:
        raise NotFound(f"No app client {client_id!r}.")
    return client


@router.get("", response_model=Page[AppClientPublic], summary="List the apps (public clients)")
def list_app_clients(session: SessionDep, page: PageDep) -> Page[AppClientPublic]:
    paged = page_of(session, select(AppClient), page, col(AppClient.id))
    return paged.page([AppClientPublic.model_validate(row) for row in paged.rows])


@router.post(
    "",
    response_model=AppClientPublic,
    status_code=201,
    summary="Register an app that logs people in through the login page (no secret)",
)
def create_app_client(payload: AppClientCreate, session: SessionDep, idem: Idempotency) -> Any:
    client_id = identity.free_client_id(session, payload.client_id, "app")
    client = AppClient(name=payload.name, client_id=client_id, redirect_uris=payload.redirect_uris)
    session.add(client)
    session.flush()
    return idem.respond(session, AppClientPublic.model_validate(client))


@router.get("/{client_id}", response_model=AppClientPublic, summary="One app")
def get_app_client(client_id: str, session: SessionDep) -> AppClient:
    return _client(session, client_id)


@router.patch(
    "/{client_id}",
    response_model=AppClientPublic,
    summary="Rename an app, change its redirect URIs, or disable it",
    description="A disabled app can log nobody in and its refresh tokens are refused (its "
    "people's access tokens expire within minutes).",
)
def update_app_client(client_id: str, payload: AppClientUpdate, session: SessionDep) -> AppClient:
    client = _client(session, client_id)
    identity.update_client(session, client, payload)
    return client
