"""The login page (`/oauth/authorize`), logout, revocation and the server's metadata.

An app sends the person's browser to `/oauth/authorize` with its `client_id`, a registered
`redirect_uri` (matched exactly), `response_type=code`, a PKCE `code_challenge` with
`code_challenge_method=S256` and a `state`; the person logs in on the page (or is known by the
page's session) and the browser comes back to the app with a one-minute, single-use `code`
and the `state`; the app exchanges the code and its `code_verifier` at `POST /auth/token`.
Errors the page cannot send back (an unknown app, a redirect URI not registered) are shown on
the page itself, never sent to an address nobody registered (RFC 6749 §4.1.2.1).
"""

import secrets
from datetime import timedelta
from typing import Annotated, Any
from urllib.parse import urlencode, urlsplit, urlunsplit

from fastapi import APIRouter, Cookie, Form, Header, Query, Request, Response
from fastapi.responses import JSONResponse, RedirectResponse
from sqlmodel import Session

from common.clock import utcnow
from common.db import SessionDep, WritingSessionDep
from common.problems import TooManyRequests, Unauthorized
from gateway import identity
from gateway.models import User
from gateway.oauth import grants, pages
from gateway.oauth.models import AppClient, LoginSession
from gateway.oauth.schemas import Authorize, LoginForm
from gateway.settings import GatewaySettings

router = APIRouter(tags=["auth"])
SESSION_COOKIE = "ishc_login"
CSRF_COOKIE = "ishc_login_form"
COOKIE_PATH = "/oauth"
Text = Annotated[str | None, Query(max_length=2000)]


def _settings(request: Request) -> GatewaySettings:
    settings: GatewaySettings = request.app.state.settings
    return settings


def _with_query(uri: str, params: dict[str, str | None]) -> str:
    """The redirect URI with these parameters added to its own query."""
    parts = urlsplit(uri)
    added = urlencode({name: value for name, value in params.items() if value is not None})
    query = f"{parts.query}&{added}" if parts.query else added
    return urlunsplit(parts._replace(query=query))


def _back_to_app(uri: str, **params: str | None) -> RedirectResponse:
    # 303: the browser follows with a GET, whatever the login form was sent with.
    return RedirectResponse(_with_query(uri, params), status_code=303)


class AskedFor:
    """The app's request, checked in the order RFC 6749 §4.1.2.1 asks: the client and the
    redirect URI first (their errors are shown, not sent), then the rest (sent back)."""

    def __init__(self, session: Session, fields: dict[str, str | None], lang: str) -> None:
        self.fields = fields
        self.lang = lang
        self.client: AppClient | None = grants.app_client(session, fields["client_id"])
        self.shown_error: str | None = None
        self.sent_error: tuple[str, str] | None = None
        if self.client is None:
            self.shown_error = f"No app {fields['client_id']!r} is registered here."
        elif fields["redirect_uri"] not in self.client.redirect_uris:
            self.shown_error = "The app's redirect_uri is not one it registered."
        elif fields["response_type"] != "code":
            self.sent_error = ("unsupported_response_type", "response_type must be code")
        elif fields["code_challenge_method"] != "S256":
            self.sent_error = ("invalid_request", "code_challenge_method must be S256 (PKCE)")
        elif not grants.CHALLENGE.match(fields["code_challenge"] or ""):
            self.sent_error = ("invalid_request", "code_challenge: the S256 of a code_verifier")

    def refusal(self) -> Response | None:
        if self.shown_error is not None:
            return pages.error_page(self.lang, self.shown_error)
        if self.sent_error is not None:
            error, description = self.sent_error
            return _back_to_app(
                self.fields["redirect_uri"] or "",
                error=error,
                error_description=description,
                state=self.fields["state"],
            )
        return None

    def code_for(self, session: Session, settings: GatewaySettings, user: User) -> Response:
        assert self.client is not None
        redirect_uri = self.fields["redirect_uri"] or ""
        code = grants.issue_code(
            session, settings, self.client, user, redirect_uri, self.fields["code_challenge"] or ""
        )
        return _back_to_app(redirect_uri, code=code, state=self.fields["state"])


def _session_user(session: Session, cookie: str | None) -> User | None:
    if not cookie:
        return None
    found = session.get(LoginSession, grants.digest(cookie))
    if found is None or found.expires_at <= utcnow():
        return None
    user = session.get(User, found.user_id)
    return user if user is not None and user.active else None


def _form(asked: AskedFor, message: str | None = None, status: int = 200) -> Response:
    """The login form, with a fresh token against forged logins (double-submitted: in a cookie
    and in the form)."""
    token = secrets.token_urlsafe(24)
    assert asked.client is not None
    fields = {**asked.fields, "csrf": token}
    answer = pages.login_form(asked.lang, asked.client.name, fields, message, status)
    answer.set_cookie(
        CSRF_COOKIE, token, path=COOKIE_PATH, httponly=True, samesite="strict", max_age=3600
    )
    return answer


@router.get("/oauth/authorize", include_in_schema=False)
def authorize(
    request: Request,
    session: WritingSessionDep,
    asking: Annotated[Authorize, Query()],
    accept_language: Annotated[str | None, Header()] = None,
    login: Annotated[str | None, Cookie(alias=SESSION_COOKIE)] = None,
) -> Response:
    """The login page: a code at once for a person the page's session knows (unless the app
    asks `prompt=login`), else the form."""
    lang = pages.language(asking.ui_locales, accept_language)
    asked = AskedFor(session, asking.fields(), lang)
    if (refused := asked.refusal()) is not None:
        return refused
    user = None if asking.prompt == "login" else _session_user(session, login)
    if user is not None:
        return asked.code_for(session, _settings(request), user)
    return _form(asked)


@router.post("/oauth/authorize", include_in_schema=False)
def log_in(
    request: Request,
    session: SessionDep,
    form: Annotated[LoginForm, Form()],
    form_token: Annotated[str | None, Cookie(alias=CSRF_COOKIE)] = None,
) -> Response:
    lang = pages.language(form.ui_locales, None)
    asked = AskedFor(session, form.fields(), lang)
    if (refused := asked.refusal()) is not None:
        return refused
    if form.action != "login":  # the language switch
        return _form(asked)
    csrf = form.csrf
    if not csrf or not form_token or not secrets.compare_digest(csrf, form_token):
        return _form(asked, pages.TEXT[lang]["stale"], 400)
    settings = _settings(request)
    address = request.client.host if request.client else "unknown"
    throttle = identity.LoginThrottle(settings, address)
    try:
        user = identity.authenticate_user(
            session, throttle, form.username or "", form.password or ""
        )
    except TooManyRequests as exc:
        wait = exc.headers.get("Retry-After", "60") if exc.headers else "60"
        answer = _form(asked, pages.TEXT[lang]["throttled"].format(wait=wait), 429)
        answer.headers["Retry-After"] = wait
        return answer
    except Unauthorized:
        return _form(asked, pages.TEXT[lang]["wrong"], 401)
    answer = asked.code_for(session, settings, user)
    _remember(session, settings, answer, user, secure=request.url.scheme == "https")
    answer.delete_cookie(CSRF_COOKIE, path=COOKIE_PATH)
    return answer


def _remember(
    session: Session, settings: GatewaySettings, answer: Response, user: User, secure: bool
) -> None:
    """The page's session: the next app's login needs no password until logout or expiry."""
    token = secrets.token_urlsafe(32)
    lifetime = timedelta(hours=settings.login_session_hours)
    assert user.id is not None
    session.add(
        LoginSession(id_hash=grants.digest(token), user_id=user.id, expires_at=utcnow() + lifetime)
    )
    answer.set_cookie(
        SESSION_COOKIE,
        token,
        path=COOKIE_PATH,
        httponly=True,
        samesite="lax",  # sent on the app's top-level navigation to the page
        secure=secure or settings.environment == "production",
        max_age=int(lifetime.total_seconds()),
    )


@router.get("/oauth/logout", include_in_schema=False)
def log_out(
    session: WritingSessionDep,
    client_id: Text = None,
    post_logout_redirect_uri: Text = None,
    state: Text = None,
    ui_locales: Text = None,
    accept_language: Annotated[str | None, Header()] = None,
    login: Annotated[str | None, Cookie(alias=SESSION_COOKIE)] = None,
) -> Response:
    """Ends the login page's session; back to the app if it names a URI it registered (as a
    redirect URI), else a page that says so. The app revokes its refresh token itself
    (`POST /auth/revoke`)."""
    if login:
        found = session.get(LoginSession, grants.digest(login))
        if found is not None:
            session.delete(found)
    client = grants.app_client(session, client_id)
    answer: Response
    if client is not None and post_logout_redirect_uri in client.redirect_uris:
        answer = _back_to_app(post_logout_redirect_uri or "", state=state)
    else:
        answer = pages.logged_out(pages.language(ui_locales, accept_language))
    answer.delete_cookie(SESSION_COOKIE, path=COOKIE_PATH)
    return answer


@router.post(
    "/auth/revoke",
    summary="Revoke a refresh token and every token of its login (RFC 7009)",
    description="Form fields `token`, optional `token_type_hint`, and `client_id` (the app's). "
    "A refresh token revokes its whole family; an unknown token, or an access token (they "
    "expire within minutes; disabling the account stops them at once), is answered the same "
    "200, as RFC 7009 asks.",
    responses={
        200: {"description": "Revoked, or nothing to revoke: an empty JSON object"},
        401: {"description": "Unknown app client (`invalid_client`)"},
    },
)
def revoke(
    session: SessionDep,
    token: Annotated[str, Form(min_length=1, max_length=2000)],
    client_id: Annotated[str, Form(min_length=1, max_length=64)],
    token_type_hint: Annotated[str | None, Form(max_length=40)] = None,
) -> Response:
    grants.require_app_client(session, client_id)
    grants.revoke(session, token, client_id)
    return JSONResponse({}, headers={"Cache-Control": "no-store"})


@router.get(
    "/.well-known/oauth-authorization-server",
    summary="The authorization server's metadata (RFC 8414)",
)
def metadata(request: Request) -> dict[str, Any]:
    settings = _settings(request)
    base = (settings.public_url or str(request.base_url)).rstrip("/")
    grant_types = ["authorization_code", "refresh_token", "client_credentials"]
    if settings.password_grant:
        grant_types.append("password")
    return {
        "issuer": base,
        "authorization_endpoint": f"{base}/oauth/authorize",
        "token_endpoint": f"{base}/auth/token",
        "revocation_endpoint": f"{base}/auth/revoke",
        "jwks_uri": f"{base}/.well-known/jwks.json",
        "end_session_endpoint": f"{base}/oauth/logout",
        "response_types_supported": ["code"],
        "grant_types_supported": grant_types,
        "code_challenge_methods_supported": ["S256"],
        "token_endpoint_auth_methods_supported": [
            "none",
            "client_secret_basic",
            "client_secret_post",
        ],
        "revocation_endpoint_auth_methods_supported": ["none"],
        "ui_locales_supported": ["vi", "en"],
        "service_documentation": f"{base}/docs",
    }
