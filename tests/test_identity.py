"""People and API clients, managed by admins through /api/v1/users and /api/v1/clients."""

import secrets
import time
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import text

from common.db import make_engine, normalise_url
from tests.support import Api, assert_problem
from tools.stack import Stack


def _user(role: str, **scope) -> dict:
    return {
        "username": f"u{secrets.token_hex(5)}",
        "password": "long-enough-pw",
        "role": role,
        **scope,
    }


def test_admin_creates_a_person_who_can_then_log_in(api: Api, admin: httpx.Client) -> None:
    body = _user("officer", provinces=["15", "01"], full_name="Nguyễn Thị Lan")
    created = admin.post("/api/v1/users", json=body)
    assert created.status_code == 201
    public = created.json()
    assert "password" not in public and "password_hash" not in public
    assert public["provinces"] == ["15", "01"] and public["full_name"] == "Nguyễn Thị Lan"
    assert api.password_token(body["username"], body["password"])
    assert admin.get(f"/api/v1/users/{public['id']}").json()["username"] == body["username"]


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        (_user("officer"), "provinces"),
        (_user("club_manager"), "clubs"),
        (_user("partner"), "funder_id"),
        (_user("bank"), "bank_code"),
        (_user("club_manager", clubs=[1], provinces=["15"]), "provinces"),
        (_user("admin", funder_id=2), "funder_id"),
        (_user("officer", provinces=["Lao Cai"]), "provinces.0"),
        (_user("officer", provinces=["15"], communes=["123"]), "communes.0"),
        (_user("service"), "role"),
        ({**_user("admin"), "password": "short"}, "password"),
        ({**_user("admin"), "username": "Bad Name!"}, "username"),
    ],
)
def test_scope_must_fit_the_role(admin: httpx.Client, payload: dict, field: str) -> None:
    assert_problem(admin.post("/api/v1/users", json=payload), 422, field=field)


def test_duplicate_username_is_a_conflict(admin: httpx.Client) -> None:
    body = _user("admin")
    assert admin.post("/api/v1/users", json=body).status_code == 201
    assert_problem(
        admin.post("/api/v1/users", json={**body, "username": body["username"].upper()}), 409
    )


def test_changing_role_requires_the_new_roles_scope(admin: httpx.Client) -> None:
    user = admin.post("/api/v1/users", json=_user("officer", provinces=["15"])).json()
    assert_problem(
        admin.patch(f"/api/v1/users/{user['id']}", json={"role": "partner"}), 422, field="funder_id"
    )
    changed = admin.patch(
        f"/api/v1/users/{user['id']}", json={"role": "partner", "provinces": [], "funder_id": 4}
    )
    assert changed.status_code == 200 and changed.json()["role"] == "partner"


def test_the_last_admin_cannot_be_demoted_or_disabled(admin: httpx.Client) -> None:
    admins = admin.get("/api/v1/users", params={"role": "admin", "active": True}).json()["items"]
    others = [a for a in admins if a["username"] != "admin"]
    for other in others:
        admin.patch(f"/api/v1/users/{other['id']}", json={"active": False})
    root = next(a for a in admins if a["username"] == "admin")
    assert_problem(admin.patch(f"/api/v1/users/{root['id']}", json={"active": False}), 409)
    assert_problem(
        admin.patch(f"/api/v1/users/{root['id']}", json={"role": "officer", "provinces": ["15"]}),
        409,
    )


def test_unknown_user_is_404(admin: httpx.Client) -> None:
    assert_problem(admin.get("/api/v1/users/999999"), 404)
    assert_problem(admin.patch("/api/v1/users/999999", json={"active": False}), 404)
    assert_problem(admin.get("/api/v1/users/not-a-number"), 422, field="user_id")


def test_client_secret_is_shown_once_and_can_be_replaced(api: Api, admin: httpx.Client) -> None:
    created = admin.post(
        "/api/v1/clients", json={"name": "HelpAge data team", "role": "partner", "funder_id": 12}
    )
    assert created.status_code == 201
    client_id, first_secret = created.json()["client_id"], created.json()["client_secret"]
    shown = admin.get(f"/api/v1/clients/{client_id}").json()
    assert "client_secret" not in shown and "secret_hash" not in shown
    assert api.client_token(client_id, first_secret)
    rotated = admin.post(f"/api/v1/clients/{client_id}/secret")
    assert rotated.status_code == 200
    new_secret = rotated.json()["client_secret"]
    assert api.client_token(client_id, new_secret)
    # The replaced secret keeps working for the overlap, so the client's operators can deploy
    # the new one without a gap (the default overlap is 48 hours).
    overlap = datetime.fromisoformat(rotated.json()["previous_secret_expires_at"])
    assert timedelta(hours=47) < overlap - datetime.now(UTC) <= timedelta(hours=48)
    assert api.client_token(client_id, first_secret)
    # Replacing again ends the older secret at once.
    third = admin.post(f"/api/v1/clients/{client_id}/secret").json()["client_secret"]
    assert api.client_token(client_id, third) and api.client_token(client_id, new_secret)
    refused = httpx.post(
        f"{api.base_url}/auth/token",
        data={
            "grant_type": "client_credentials",
            "client_id": client_id,
            "client_secret": first_secret,
        },
    )
    assert_problem(refused, 401)


def test_disabling_an_account_stops_its_tokens_at_once(api: Api, admin: httpx.Client) -> None:
    client_id, secret = api.create_client("bank", bank_code="VBSP")
    bank = api.client(api.client_token(client_id, secret))
    username, password = api.create_user("officer", provinces=["15"])
    officer = api.client(api.password_token(username, password))
    assert bank.get("/api/v1/bank-loans").status_code == 200
    assert officer.get("/api/v1/clubs").status_code == 200
    assert admin.patch(f"/api/v1/clients/{client_id}", json={"active": False}).status_code == 200
    users = admin.get("/api/v1/users", params={"limit": 1000}).json()["items"]
    user_id = next(u["id"] for u in users if u["username"] == username)
    assert admin.patch(f"/api/v1/users/{user_id}", json={"active": False}).status_code == 200
    time.sleep(1.2)  # GATEWAY_STANDING_CACHE_SECONDS: what a replica may trust, at most
    for client, path in ((bank, "/api/v1/bank-loans"), (officer, "/api/v1/clubs")):
        problem = assert_problem(client.get(path), 401)
        assert problem["code"] == "token_revoked"
    assert_problem(officer.get("/auth/me"), 401)  # the gateway's own routes too
    assert admin.patch(f"/api/v1/clients/{client_id}", json={"active": True}).status_code == 200
    time.sleep(1.2)
    assert bank.get("/api/v1/bank-loans").status_code == 200


@pytest.mark.parametrize("issue", ["create", "rotate"])
def test_a_secret_is_never_kept_for_retries(
    api: Api, admin: httpx.Client, stack: Stack, issue: str
) -> None:
    key = {"Idempotency-Key": "secret-" + secrets.token_hex(6)}
    body = {"name": "Retrying data team", "role": "partner", "funder_id": 12}
    if issue == "create":
        path = "/api/v1/clients"
        first = admin.post(path, json=body, headers=key)
    else:
        client_id, _ = api.create_client("partner", funder_id=12)
        path = f"/api/v1/clients/{client_id}/secret"
        first = admin.post(path, headers=key)
    assert first.status_code in (200, 201), first.text
    client_id, secret = first.json()["client_id"], first.json()["client_secret"]
    retried = admin.post(path, json=body if issue == "create" else None, headers=key)
    problem = assert_problem(retried, 409)
    assert retried.headers["idempotent-replayed"] == "true"
    assert secret not in retried.text and f"/api/v1/clients/{client_id}/secret" in problem["detail"]
    assert api.client_token(client_id, secret)  # the first answer's secret is the one in force
    engine = make_engine(normalise_url(stack.database_urls["gateway"]))
    try:
        with engine.connect() as connection:
            stored = connection.execute(text("SELECT response_body FROM idempotency_keys")).all()
    finally:
        engine.dispose()
    assert not any(secret in (body or "") for (body,) in stored)


def test_disabled_client_gets_no_token(api: Api, admin: httpx.Client) -> None:
    client_id, secret = api.create_client("bank", bank_code="VBSP")
    assert admin.patch(f"/api/v1/clients/{client_id}", json={"active": False}).status_code == 200
    response = httpx.post(
        f"{api.base_url}/auth/token",
        data={"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret},
    )
    assert_problem(response, 401)


def test_platform_service_clients_exist_and_keep_their_configured_secret(
    admin: httpx.Client,
) -> None:
    services = admin.get("/api/v1/clients", params={"role": "service"}).json()["items"]
    assert {c["client_id"] for c in services} >= {"svc-loans", "svc-funding"}
    assert_problem(admin.post("/api/v1/clients/svc-loans/secret"), 409)


def test_people_list_filters_and_pages(admin: httpx.Client) -> None:
    for _ in range(3):
        admin.post("/api/v1/users", json=_user("partner", funder_id=77))
    page = admin.get("/api/v1/users", params={"role": "partner", "limit": 2}).json()
    assert len(page["items"]) == 2 and page["total"] >= 3 and page["limit"] == 2
    assert all(u["role"] == "partner" for u in page["items"])


def test_idempotency_key_replays_the_first_answer_and_creates_once(admin: httpx.Client) -> None:
    body = _user("officer", provinces=["15"])
    key = {"Idempotency-Key": secrets.token_hex(8)}
    first = admin.post("/api/v1/users", json=body, headers=key)
    again = admin.post("/api/v1/users", json=body, headers=key)
    assert first.status_code == again.status_code == 201
    assert first.json() == again.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    found = admin.get("/api/v1/users", params={"q": body["username"]}).json()
    assert found["total"] == 1
    other = admin.post(
        "/api/v1/users", json={**body, "username": body["username"] + "x"}, headers=key
    )
    assert_problem(other, 422, field="Idempotency-Key")


def test_a_failed_request_releases_its_idempotency_key(admin: httpx.Client) -> None:
    key = {"Idempotency-Key": secrets.token_hex(8)}
    body = _user("officer", provinces=["15"])
    taken = admin.post("/api/v1/users", json=body)
    assert taken.status_code == 201
    assert_problem(admin.post("/api/v1/users", json=body, headers=key), 409)
    # Nothing was written, so the same key may be used again once the clash is fixed.
    retry = admin.post("/api/v1/users", json=body, headers=key)
    assert_problem(retry, 409)


def test_idempotency_keys_belong_to_the_client_that_sent_them(api: Api) -> None:
    key = {"Idempotency-Key": "shared-key-" + secrets.token_hex(4)}
    other_admin = api.client(api.token_for("admin"))
    first = api.client(api.admin_token).post("/api/v1/users", json=_user("admin"), headers=key)
    second = other_admin.post("/api/v1/users", json=_user("admin"), headers=key)
    assert first.status_code == second.status_code == 201
    assert first.json()["id"] != second.json()["id"]
