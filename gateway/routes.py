"""The gateway's own endpoints: tokens, signing keys, people and API clients."""

import base64
import binascii
import secrets
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Header, Query, Request, Response
from sqlalchemy import ColumnElement, func
from sqlmodel import Session, col, select

from common.auth import CurrentPrincipal, Role, require_roles
from common.clock import utcnow
from common.db import SessionDep
from common.idempotency import Idempotency
from common.paging import page_of
from common.problem_codes import Code
from common.problems import BadRequest, Conflict, NotFound, Unauthorized, invalid
from common.schemas import IdPath, Page, PageDep
from gateway import identity
from gateway.keys import KeyStore
from gateway.models import ApiClient, User
from gateway.oauth import grants
from gateway.schemas import (
    ClientCreate,
    ClientPublic,
    ClientUpdate,
    ClientWithSecret,
    Me,
    TokenResponse,
    UserCreate,
    UserPublic,
    UserUpdate,
    check_scope,
)
from gateway.settings import GatewaySettings

auth_router = APIRouter(tags=["auth"])
GRANT_TYPES = ("authorization_code", "refresh_token", "client_credentials", "password")
admin_router = APIRouter(
    prefix="/api/v1", tags=["identity"], dependencies=[Depends(require_roles(Role.ADMIN))]
)


def _keys(request: Request) -> KeyStore:
    keys: KeyStore = request.app.state.keys
    return keys


def _settings(request: Request) -> GatewaySettings:
    settings: GatewaySettings = request.app.state.settings
    return settings


def _basic_credentials(authorization: str | None) -> tuple[str, str] | None:
    """Client id and secret from HTTP Basic, the way RFC 6749 §2.3.1 lets clients send them."""
    if not authorization or not authorization.lower().startswith("basic "):
        return None
    try:
        decoded = base64.b64decode(authorization[6:].strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError) as exc:
        raise Unauthorized(
            "Malformed Basic credentials.",
            code=Code.MALFORMED_BASIC_CREDENTIALS,
            error="invalid_client",
        ) from exc
    client_id, sep, secret = decoded.partition(":")
    if not sep:
        raise Unauthorized(
            "Malformed Basic credentials.",
            code=Code.MALFORMED_BASIC_CREDENTIALS,
            error="invalid_client",
        )
    return client_id, secret


@auth_router.post(
    "/auth/token",
    response_model=TokenResponse,
    response_model_exclude_none=True,
    summary="Get tokens: an app's code or refresh token, a machine's client credentials",
    description="`authorization_code` (an app, after the login page: `code`, `redirect_uri`, "
    "`client_id`, `code_verifier`) and `refresh_token` (`refresh_token`, `client_id`) answer "
    "an access token and a new refresh token (the one sent is used up; sending it again "
    "revokes the login). `client_credentials` (a machine client's id and secret, in the form "
    "or as HTTP Basic) answers an access token. `password` is the legacy grant for "
    "first-party tools and tests, off where GATEWAY_PASSWORD_GRANT is false.",
    responses={
        400: {"description": "An unknown grant type, or a code or refresh token refused"},
        401: {"description": "Unknown user or client, or a wrong password or secret"},
        429: {"description": "Too many failed logins: wait the Retry-After seconds"},
    },
)
def token(
    request: Request,
    response: Response,
    session: SessionDep,
    grant_type: Annotated[
        str,
        # an unknown grant is answered as OAuth 2.0 says (400 unsupported_grant_type)
        Form(max_length=40, json_schema_extra={"enum": list(GRANT_TYPES)}),
    ],
    username: Annotated[str | None, Form(max_length=64)] = None,
    password: Annotated[str | None, Form(max_length=128)] = None,
    client_id: Annotated[str | None, Form(max_length=64)] = None,
    client_secret: Annotated[str | None, Form(max_length=200)] = None,
    code: Annotated[str | None, Form(max_length=200)] = None,
    redirect_uri: Annotated[str | None, Form(max_length=2000)] = None,
    code_verifier: Annotated[str | None, Form(max_length=128)] = None,
    refresh_token: Annotated[str | None, Form(max_length=200)] = None,
    scope: Annotated[
        str | None, Form(max_length=200, description="Ignored: the scope comes from the account.")
    ] = None,
    authorization: Annotated[str | None, Header(include_in_schema=False)] = None,
) -> TokenResponse:
    settings, keys = _settings(request), _keys(request)
    address = request.client.host if request.client else "unknown"
    throttle = identity.LoginThrottle(settings, address)
    response.headers["Cache-Control"] = "no-store"  # RFC 6749 §5.1: tokens are never cached
    if grant_type in ("authorization_code", "refresh_token"):
        app = grants.require_app_client(session, client_id)
        if grant_type == "authorization_code":
            if not code:
                raise invalid("code", "required for this grant", code=Code.MISSING)
            user, redeemed = grants.redeem_code(session, app, code, redirect_uri, code_verifier)
            renewal = grants.start_family(session, settings, app, user, redeemed)
        else:
            if not refresh_token:
                raise invalid("refresh_token", "required for this grant", code=Code.MISSING)
            issued = grants.rotate(session, settings, app, refresh_token)
            user, renewal = issued.user, issued.token
        access, lifetime = identity.issue_token(
            keys, settings, identity.user_subject(user), user, settings.person_token_minutes
        )
        return TokenResponse(access_token=access, expires_in=lifetime, refresh_token=renewal)
    if grant_type == "password":
        if not settings.password_grant:
            raise BadRequest(
                "The password grant is turned off; log in through /oauth/authorize.",
                code=Code.PASSWORD_GRANT_DISABLED,
                error="unsupported_grant_type",
            )
        if not username or not password:
            missing = "username" if not username else "password"
            raise invalid(missing, "required for this grant", code=Code.MISSING)
        user = identity.authenticate_user(session, throttle, username, password)
        access, lifetime = identity.issue_token(
            keys, settings, identity.user_subject(user), user, settings.person_token_minutes
        )
    elif grant_type == "client_credentials":
        given_id, given_secret = _basic_credentials(authorization) or (client_id, client_secret)
        if not given_id or not given_secret:
            raise invalid(
                "client_id" if not given_id else "client_secret",
                "required for this grant (in the form or as HTTP Basic)",
                code=Code.MISSING,
            )
        client = identity.authenticate_client(session, throttle, given_id, given_secret)
        access, lifetime = identity.issue_token(
            keys, settings, identity.client_subject(client), client, settings.client_token_minutes
        )
    else:
        raise BadRequest(
            f"Unsupported grant_type {grant_type!r}; use one of {', '.join(GRANT_TYPES)}.",
            code=Code.UNSUPPORTED_GRANT_TYPE,
            error="unsupported_grant_type",
        )
    return TokenResponse(access_token=access, expires_in=lifetime)


@auth_router.get("/.well-known/jwks.json", summary="Public keys that verify access tokens")
def jwks(request: Request) -> dict[str, Any]:
    return {"keys": _keys(request).public_keys()}


@auth_router.get("/auth/me", response_model=Me, summary="Who the token says you are")
def me(principal: CurrentPrincipal) -> Me:
    return Me(
        subject=principal.subject,
        role=principal.role,
        provinces=list(principal.provinces),
        communes=list(principal.communes),
        clubs=list(principal.clubs),
        funder_id=principal.funder_id,
        bank_code=principal.bank_code,
        expires_at=principal.expires_at,
    )


@admin_router.get("/users", response_model=Page[UserPublic], summary="List people")
def list_users(
    session: SessionDep,
    page: PageDep,
    role: Role | None = None,
    active: bool | None = None,
    q: Annotated[str | None, Query(max_length=64, description="Part of the username")] = None,
) -> Page[UserPublic]:
    filters: list[ColumnElement[bool]] = []
    if role is not None:
        filters.append(col(User.role) == role.value)
    if active is not None:
        filters.append(col(User.active) == active)
    if q:
        filters.append(col(User.username).contains(q.lower()))
    paged = page_of(session, select(User).where(*filters), page, col(User.id))
    return paged.page([UserPublic.model_validate(row) for row in paged.rows])


@admin_router.post("/users", response_model=UserPublic, status_code=201, summary="Create a person")
def create_user(payload: UserCreate, session: SessionDep, idem: Idempotency) -> Any:
    username = payload.username.lower()
    if session.exec(select(User).where(User.username == username)).first():
        raise Conflict(f"The username {username!r} is taken.", code=Code.ALREADY_EXISTS)
    user = User(
        **payload.model_dump(exclude={"password", "username", "role"}),
        username=username,
        role=payload.role.value,
        password_hash=identity.hash_secret(payload.password),
    )
    session.add(user)
    session.flush()
    return idem.respond(session, UserPublic.model_validate(user))


def _user(session: Session, user_id: int) -> User:
    user = session.get(User, user_id)
    if user is None:
        raise NotFound(f"No user {user_id}.")
    return user


@admin_router.get("/users/{user_id}", response_model=UserPublic, summary="One person")
def get_user(user_id: IdPath, session: SessionDep) -> User:
    return _user(session, user_id)


def _would_remove_last_admin(session: Session, user: User, changes: dict[str, Any]) -> bool:
    if user.role != Role.ADMIN.value or not user.active:
        return False
    demoted = changes.get("role", Role.ADMIN) != Role.ADMIN or changes.get("active") is False
    others = session.exec(
        select(func.count())
        .select_from(User)
        .where(User.role == Role.ADMIN.value, User.active, User.id != user.id)
    ).one()
    return demoted and others == 0


@admin_router.patch("/users/{user_id}", response_model=UserPublic, summary="Change a person")
def update_user(user_id: IdPath, payload: UserUpdate, session: SessionDep) -> User:
    user = _user(session, user_id)
    changes = payload.model_dump(exclude_unset=True)
    if _would_remove_last_admin(session, user, changes):
        raise Conflict(
            "This is the last active admin; create another admin first.", code=Code.LAST_ADMIN
        )
    if changes.get("role") == Role.SERVICE:
        raise invalid("role", "service is for API clients only", code=Code.ROLE_NOT_FOR_PEOPLE)
    password = changes.pop("password", None)
    if password:
        user.password_hash = identity.hash_secret(password)
    for name, value in changes.items():
        setattr(user, name, value.value if isinstance(value, Role) else value)
    check_scope(
        Role(user.role), user.provinces, user.communes, user.clubs, user.funder_id, user.bank_code
    )
    user.updated_at = utcnow()
    session.add(user)
    return user


@admin_router.get("/clients", response_model=Page[ClientPublic], summary="List API clients")
def list_clients(
    session: SessionDep, page: PageDep, role: Role | None = None, active: bool | None = None
) -> Page[ClientPublic]:
    filters: list[ColumnElement[bool]] = []
    if role is not None:
        filters.append(col(ApiClient.role) == role.value)
    if active is not None:
        filters.append(col(ApiClient.active) == active)
    paged = page_of(session, select(ApiClient).where(*filters), page, col(ApiClient.id))
    return paged.page([ClientPublic.model_validate(row) for row in paged.rows])


@admin_router.post(
    "/clients",
    response_model=ClientWithSecret,
    status_code=201,
    summary="Register an API client; its secret is shown once",
)
def create_client(payload: ClientCreate, session: SessionDep, idem: Idempotency) -> Any:
    client_id = identity.free_client_id(session, payload.client_id, "cli")
    secret = secrets.token_urlsafe(32)
    client = ApiClient(
        **payload.model_dump(exclude={"client_id", "role"}),
        client_id=client_id,
        role=payload.role.value,
        secret_hash=identity.hash_secret(secret),
    )
    session.add(client)
    session.flush()
    public = ClientPublic.model_validate(client).model_dump()
    return idem.respond_once(
        session, ClientWithSecret(**public, client_secret=secret), 201, _shown_once(client_id)
    )


def _shown_once(client_id: str) -> Conflict:
    """What a retry of a request that issued a secret gets: the secret is never stored, not
    even in the answer kept for retries."""
    return Conflict(
        f"This request was carried out already: the API client {client_id!r} got a new secret, "
        "shown once in that answer. If it was lost, replace it with "
        f"POST /api/v1/clients/{client_id}/secret.",
        code=Code.SECRET_SHOWN_ONCE,
        client_id=client_id,
    )


def _client(session: Session, client_id: str) -> ApiClient:
    client = session.exec(select(ApiClient).where(ApiClient.client_id == client_id)).first()
    if client is None:
        raise NotFound(f"No API client {client_id!r}.")
    return client


@admin_router.get("/clients/{client_id}", response_model=ClientPublic, summary="One API client")
def get_client(client_id: str, session: SessionDep) -> ApiClient:
    return _client(session, client_id)


@admin_router.patch(
    "/clients/{client_id}",
    response_model=ClientPublic,
    summary="Rename, enable or disable an API client",
)
def update_client(client_id: str, payload: ClientUpdate, session: SessionDep) -> ApiClient:
    client = _client(session, client_id)
    identity.update_client(session, client, payload)
    return client


@admin_router.post(
    "/clients/{client_id}/secret",
    response_model=ClientWithSecret,
    summary="Replace an API client's secret; the new one is shown once",
    description="The replaced secret keeps working for GATEWAY_CLIENT_SECRET_OVERLAP_HOURS (48 by "
    "default; `previous_secret_expires_at` says until when), so a bank's nightly run or a "
    "partner's pull goes on while its operators deploy the new one. Replacing again ends the "
    "older secret at once.",
)
def rotate_client_secret(
    client_id: str, request: Request, session: SessionDep, idem: Idempotency
) -> Any:
    client = _client(session, client_id)
    if client.role == Role.SERVICE.value:
        raise Conflict(
            "Platform service clients take their secret from the gateway settings.",
            code=Code.SERVICE_CLIENT_SECRET,
        )
    secret = identity.replace_secret(client, _settings(request))
    session.add(client)
    session.flush()
    public = ClientPublic.model_validate(client).model_dump()
    return idem.respond_once(
        session, ClientWithSecret(**public, client_secret=secret), 200, _shown_once(client_id)
    )
