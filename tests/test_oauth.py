"""Apps log people in with the authorization code and PKCE through the gateway's login page,
keep them logged in with rotating refresh tokens, and log them out."""

from collections.abc import Callable
from datetime import timedelta

import httpx
import pytest
from sqlmodel import Session

from common import clock
from common.db import make_engine, normalise_url
from gateway.oauth.grants import prune_expired
from gateway.oauth.models import LoginSession
from tests.oauth_flow import REDIRECT, AppLogin, query_of, register_app
from tests.support import Api, assert_problem
from tools.stack import Stack, free_port


@pytest.fixture(scope="module")
def app_id(admin: httpx.Client) -> str:
    return register_app(admin, REDIRECT, "vn.ishc.sotay:/callback")


@pytest.fixture()
def person(api: Api) -> tuple[str, str]:
    return api.create_user("officer", provinces=["15"])


def me(base_url: str, token: str) -> httpx.Response:
    return httpx.get(f"{base_url}/auth/me", headers={"Authorization": f"Bearer {token}"})


def test_a_person_logs_in_through_the_page_and_the_app_gets_tokens(
    api: Api, app_id: str, person: tuple[str, str]
) -> None:
    login = AppLogin(api.base_url, app_id)
    page = login.authorize()
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert (
        "<script" not in page.text
        and "http" not in page.text.split("<body>")[1].split('action="')[0]
    )  # nothing loaded from elsewhere
    assert "Đăng nhập" in page.text and "Sổ tay CLB" in page.text
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    exchanged = login.exchange(login.log_in(*person))
    assert exchanged.headers["cache-control"] == "no-store"
    tokens = exchanged.json()
    assert tokens["token_type"] == "bearer" and tokens["refresh_token"]
    assert me(api.base_url, tokens["access_token"]).json()["subject"] == f"user:{person[0]}"


def test_the_page_speaks_english_when_asked(api: Api, app_id: str) -> None:
    login = AppLogin(api.base_url, app_id)
    assert "Log in" in login.authorize(ui_locales="en").text
    english = login.browser.get("/oauth/authorize", headers={"Accept-Language": "en-GB,en"})
    assert english.status_code == 400  # no app request: an error page, in English
    assert "Cannot log in" in english.text


def test_a_code_works_once_within_its_client_redirect_and_verifier(
    api: Api, app_id: str, person: tuple[str, str]
) -> None:
    login = AppLogin(api.base_url, app_id)
    code = login.log_in(*person)
    wrong_verifier = login.exchange(code, verifier="x" * 43)
    assert assert_problem(wrong_verifier, 400)["error"] == "invalid_grant"
    elsewhere = AppLogin(api.base_url, app_id, redirect_uri="vn.ishc.sotay:/callback")
    elsewhere.verifier = login.verifier
    assert assert_problem(elsewhere.exchange(code), 400)["code"] == "invalid_grant"
    first = login.exchange(code)
    assert first.status_code == 200, first.text
    again = login.exchange(code)
    assert assert_problem(again, 400)["code"] == "invalid_grant"
    # The code came twice: the tokens it gave are revoked.
    refreshed = login.refresh(first.json()["refresh_token"])
    assert assert_problem(refreshed, 400)["error"] == "invalid_grant"


def test_refresh_tokens_rotate_and_a_reused_one_revokes_its_login(
    api: Api, app_id: str, person: tuple[str, str]
) -> None:
    login = AppLogin(api.base_url, app_id)
    first = login.tokens(*person)
    second = login.refresh(first["refresh_token"])
    assert second.status_code == 200, second.text
    rotated = second.json()
    assert rotated["refresh_token"] != first["refresh_token"]
    assert me(api.base_url, rotated["access_token"]).status_code == 200
    stolen = login.refresh(first["refresh_token"])
    assert assert_problem(stolen, 400)["code"] == "refresh_token_reused"
    assert assert_problem(login.refresh(rotated["refresh_token"]), 400)["error"] == "invalid_grant"
    other_app = register_app(api.client(api.admin_token), REDIRECT)
    fresh = login.tokens(*person)
    foreign = AppLogin(api.base_url, other_app).refresh(fresh["refresh_token"])
    assert assert_problem(foreign, 400)["code"] == "invalid_grant"


def test_revocation_and_logout(api: Api, app_id: str, person: tuple[str, str]) -> None:
    login = AppLogin(api.base_url, app_id)
    tokens = login.tokens(*person)
    revoke = {"token": tokens["refresh_token"], "client_id": app_id}
    assert httpx.post(f"{api.base_url}/auth/revoke", data=revoke).status_code == 200
    assert httpx.post(f"{api.base_url}/auth/revoke", data=revoke).status_code == 200  # again
    unknown = {"token": "never-issued", "client_id": app_id}
    assert httpx.post(f"{api.base_url}/auth/revoke", data=unknown).status_code == 200
    stranger = {"token": "x", "client_id": 'ứng-dụng "lạ"'}  # quoted back in a header: no 500
    refused = httpx.post(f"{api.base_url}/auth/revoke", data=stranger)
    assert assert_problem(refused, 401)["error"] == "invalid_client"
    assert refused.headers["www-authenticate"].isascii()
    assert assert_problem(login.refresh(tokens["refresh_token"]), 400)["error"] == "invalid_grant"
    # The page remembers the person: the next login needs no password ...
    quick = login.authorize()
    assert quick.status_code == 303 and "code" in query_of(quick.headers["location"])
    assert login.authorize(prompt="login").status_code == 200  # unless the app asks
    # ... until they log out, and back to the app if it names its own address.
    out = login.browser.get(
        "/oauth/logout",
        params={"client_id": app_id, "post_logout_redirect_uri": REDIRECT, "state": "s1"},
    )
    assert out.status_code == 303 and out.headers["location"] == f"{REDIRECT}?state=s1"
    assert login.authorize().status_code == 200  # the form again
    stray = login.browser.get(
        "/oauth/logout", params={"client_id": app_id, "post_logout_redirect_uri": "https://x.io"}
    )
    assert stray.status_code == 200 and "đăng xuất" in stray.text


def test_requests_the_page_refuses(api: Api, app_id: str) -> None:
    login = AppLogin(api.base_url, app_id)
    unknown = AppLogin(api.base_url, "no-such-app").authorize()
    assert unknown.status_code == 400 and "location" not in unknown.headers
    mismatch = AppLogin(api.base_url, app_id, redirect_uri=REDIRECT + "/").authorize()
    assert mismatch.status_code == 400 and "location" not in mismatch.headers  # never sent there
    plain = login.authorize(code_challenge_method="plain")
    assert plain.status_code == 303
    sent = query_of(plain.headers["location"])
    assert sent["error"] == "invalid_request" and sent["state"] == login.state
    token = login.authorize(response_type="token")
    assert query_of(token.headers["location"])["error"] == "unsupported_response_type"
    without = login.browser.get(
        "/oauth/authorize",
        params={"response_type": "code", "client_id": app_id, "redirect_uri": REDIRECT},
    )
    assert query_of(without.headers["location"])["error"] == "invalid_request"  # PKCE required


def test_a_wrong_password_or_a_forged_form_logs_nobody_in(
    api: Api, app_id: str, person: tuple[str, str]
) -> None:
    login = AppLogin(api.base_url, app_id)
    page = login.authorize()
    wrong = login.submit(page, person[0], "not-the-password")
    assert wrong.status_code == 401 and "Sai tên đăng nhập" in wrong.text
    forged = AppLogin(api.base_url, app_id)  # another browser: no form cookie of its own
    forged.browser.cookies.clear()
    answer = forged.submit(login.authorize(), *person)
    assert answer.status_code == 400 and "location" not in answer.headers


def test_a_disabled_person_cannot_refresh(
    api: Api, admin: httpx.Client, app_id: str, person: tuple[str, str]
) -> None:
    login = AppLogin(api.base_url, app_id)
    tokens = login.tokens(*person)
    users = admin.get("/api/v1/users", params={"q": person[0]}).json()["items"]
    disabled = admin.patch(f"/api/v1/users/{users[0]['id']}", json={"active": False})
    assert disabled.status_code == 200, disabled.text
    assert assert_problem(login.refresh(tokens["refresh_token"]), 400)["error"] == "invalid_grant"


def test_the_server_publishes_its_metadata(api: Api) -> None:
    meta = httpx.get(f"{api.base_url}/.well-known/oauth-authorization-server").json()
    assert meta["issuer"] == api.base_url
    assert meta["authorization_endpoint"] == f"{api.base_url}/oauth/authorize"
    assert meta["token_endpoint"] == f"{api.base_url}/auth/token"
    assert meta["revocation_endpoint"] == f"{api.base_url}/auth/revoke"
    assert meta["code_challenge_methods_supported"] == ["S256"]
    assert {"authorization_code", "refresh_token"} <= set(meta["grant_types_supported"])
    assert httpx.get(meta["jwks_uri"]).json()["keys"]


def test_admins_register_apps_with_exact_redirect_uris(
    admin: httpx.Client, as_role: Callable[..., httpx.Client]
) -> None:
    for uri in ("http://evil.example/cb", "https://app.example/cb#frag", "javascript:alert(1)"):
        body = {"name": "x", "redirect_uris": [uri]}
        assert_problem(admin.post("/api/v1/app-clients", json=body), 422, "redirect_uris.0")
    officer = as_role("officer", provinces=["15"])
    assert_problem(
        officer.post("/api/v1/app-clients", json={"name": "x", "redirect_uris": [REDIRECT]}), 403
    )
    made = admin.post("/api/v1/app-clients", json={"name": "Bảng tin", "redirect_uris": [REDIRECT]})
    assert made.status_code == 201 and "client_secret" not in made.json()
    # One namespace for machines and apps: an id names one client.
    taken = {"name": "x", "client_id": made.json()["client_id"], "role": "bank", "bank_code": "XB"}
    assert assert_problem(admin.post("/api/v1/clients", json=taken), 409)["code"] == (
        "already_exists"
    )


def test_the_password_grant_can_be_turned_off(
    stack: Stack, api: Api, person: tuple[str, str]
) -> None:
    second = Stack(
        database_urls=stack.database_urls,
        ports={**stack.ports, "gateway": free_port()},
        var_dir=stack.var_dir,
        admin_password=api.admin_password,
        extra_env={**stack.extra_env, "GATEWAY_PASSWORD_GRANT": "false"},
    )
    second.start(["gateway"])
    try:
        data = {"grant_type": "password", "username": person[0], "password": person[1]}
        refused = httpx.post(f"{second.gateway_url}/auth/token", data=data)
        body = assert_problem(refused, 400)
        assert (body["code"], body["error"]) == (
            "password_grant_disabled",
            "unsupported_grant_type",
        )
        meta = httpx.get(f"{second.gateway_url}/.well-known/oauth-authorization-server").json()
        assert "password" not in meta["grant_types_supported"]
    finally:
        second.stop()


def test_expired_codes_tokens_and_sessions_are_dropped(
    stack: Stack, api: Api, app_id: str, person: tuple[str, str]
) -> None:
    login = AppLogin(api.base_url, app_id)
    live = login.tokens(*person)
    engine = make_engine(normalise_url(stack.database_urls["gateway"]))
    long_ago = clock.utcnow() - timedelta(days=30)
    with Session(engine) as session:
        session.add(
            LoginSession(id_hash="0" * 64, user_id=1, created_at=long_ago, expires_at=long_ago)
        )
        session.commit()
    assert prune_expired(engine, clock.utcnow() - timedelta(days=1)) >= 1
    with Session(engine) as session:
        assert session.get(LoginSession, "0" * 64) is None
    assert login.refresh(live["refresh_token"]).status_code == 200  # a live one stays
    engine.dispose()
