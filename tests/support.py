"""Helpers the tests share: API access with real tokens, forged tokens, test databases."""

import base64
import contextlib
import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import psycopg
from sqlalchemy.engine import make_url

from common.service_client import ServiceClient
from tools.stack import free_port

PROBLEM = "application/problem+json"


RENEW_BEFORE_SECONDS = 120
"""A session's clients renew their 15-minute token this long before it expires: a slow
machine's run outlasts it."""


def _expires_at(token: str) -> float:
    payload = token.split(".")[1]
    return float(json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))["exp"])


class _Renewing(httpx.Auth):
    """Sends the client's token, renewed (as it was obtained) when it is about to expire."""

    def __init__(self, api: "Api", token: str) -> None:
        self.api, self.token = api, token

    def auth_flow(self, request: httpx.Request) -> Iterator[httpx.Request]:
        self.token = self.api.fresh(self.token)
        request.headers["Authorization"] = f"Bearer {self.token}"
        yield request


class Api:
    """Talks to the gateway over real HTTP, creating users through the admin API as needed."""

    def __init__(self, base_url: str, admin_password: str, admin_username: str = "admin") -> None:
        self.base_url = base_url
        self.admin_password = admin_password
        self._renewals: dict[str, Callable[[], str]] = {}
        self.admin_token = self.password_token(admin_username, admin_password)
        self._tokens: dict[str, str] = {}

    def client(self, token: str | None = None, **kwargs: Any) -> httpx.Client:
        # The header too, for the tests that copy it into requests of their own.
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        auth = _Renewing(self, token) if token else None
        return httpx.Client(
            base_url=self.base_url, headers=headers, auth=auth, timeout=30.0, **kwargs
        )

    def fresh(self, token: str) -> str:
        """The token, or a new one obtained the same way when it expires within two minutes
        (a token the tests forged is sent as it is)."""
        renew = self._renewals.get(token)
        if renew is None or _expires_at(token) - time.time() > RENEW_BEFORE_SECONDS:
            return token
        return renew()

    def _obtain(self, data: dict[str, str]) -> str:
        response = httpx.post(f"{self.base_url}/auth/token", data=data)
        assert response.status_code == 200, response.text
        token: str = response.json()["access_token"]
        self._renewals[token] = lambda: self._obtain(data)
        return token

    def password_token(self, username: str, password: str) -> str:
        return self._obtain({"grant_type": "password", "username": username, "password": password})

    def client_token(self, client_id: str, secret: str) -> str:
        return self._obtain(
            {"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret}
        )

    def create_user(self, role: str, **scope: Any) -> tuple[str, str]:
        username = f"{role.replace('_', '-')}-{secrets.token_hex(4)}"
        password = "pw-" + secrets.token_hex(8)
        with self.client(self.admin_token) as admin:
            response = admin.post(
                "/api/v1/users",
                json={"username": username, "password": password, "role": role, **scope},
            )
        assert response.status_code == 201, response.text
        return username, password

    def create_client(self, role: str, **scope: Any) -> tuple[str, str]:
        with self.client(self.admin_token) as admin:
            response = admin.post(
                "/api/v1/clients", json={"name": f"test {role} system", "role": role, **scope}
            )
        assert response.status_code == 201, response.text
        body = response.json()
        return body["client_id"], body["client_secret"]

    def token_for(self, role: str, **scope: Any) -> str:
        """A token of a person (or, for bank, a system) with this role and scope; cached."""
        if role == "bank":
            scope.setdefault("bank_code", "VBSP")
        key = json.dumps([role, scope], sort_keys=True)
        if key not in self._tokens:
            if role in ("bank", "service"):
                self._tokens[key] = self.client_token(*self.create_client(role, **scope))
            else:
                self._tokens[key] = self.password_token(*self.create_user(role, **scope))
        return self._tokens[key]


def assert_problem(response: httpx.Response, status: int, field: str | None = None) -> dict:
    """The answer is RFC 9457 problem+json with this status (and, if given, this field)."""
    assert response.status_code == status, (response.status_code, response.text)
    assert response.headers["content-type"].startswith(PROBLEM), response.headers
    body = response.json()
    assert body["status"] == status and body["title"] and body["detail"] and body["type"]
    if field is not None:
        fields = [error["field"] for error in body.get("errors") or []]
        assert field in fields, body
    return body


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def token_parts(token: str) -> tuple[dict, dict, str]:
    header, payload, signature = token.split(".")
    return json.loads(_unb64(header)), json.loads(_unb64(payload)), signature


def forge(header: dict, payload: dict, signature: bytes = b"") -> str:
    """A token assembled by hand, the way an attacker would."""
    head = _b64(json.dumps(header).encode())
    body = _b64(json.dumps(payload).encode())
    return f"{head}.{body}.{_b64(signature)}"


def forge_hs256(header: dict, payload: dict, secret: bytes) -> str:
    head = _b64(json.dumps({**header, "alg": "HS256"}).encode())
    body = _b64(json.dumps(payload).encode())
    signature = hmac.new(secret, f"{head}.{body}".encode(), hashlib.sha256).digest()
    return f"{head}.{body}.{_b64(signature)}"


def now() -> int:
    return int(time.time())


@contextlib.contextmanager
def postgres_databases(
    admin_url: str, components: list[str], label: str
) -> Iterator[dict[str, str]]:
    """Fresh databases, one per component, dropped afterwards."""
    suffix = secrets.token_hex(3)
    names = {c: f"ishc_test_{label}_{c}_{suffix}" for c in components}
    base = make_url(admin_url.replace("postgresql+psycopg://", "postgresql://"))
    connect_url = base.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(connect_url, autocommit=True) as connection:
        for name in names.values():
            connection.execute(f'CREATE DATABASE "{name}"')
    try:
        yield {
            c: base.set(database=name).render_as_string(hide_password=False)
            for c, name in names.items()
        }
    finally:
        with psycopg.connect(connect_url, autocommit=True) as connection:
            for name in names.values():
                connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


FOLLOWERS = {"loans": ("clubs",), "gateway": ("clubs", "loans", "funding")}
"""Which component follows which services' events."""


def settle_events(urls: dict[str, str], service_token: str, seconds: float = 60.0) -> None:
    """Waits until every follower has applied every event committed so far (events arrive
    within a second; a test that reads what they cause waits for them here)."""
    headers = {"Authorization": f"Bearer {service_token}"}
    last = {}
    for source in {s for sources in FOLLOWERS.values() for s in sources}:
        response = httpx.get(
            urls[source] + "/internal/events", params={"after": 10**15, "limit": 1}, headers=headers
        )
        response.raise_for_status()
        last[source] = response.json()["last_position"]
    deadline = time.monotonic() + seconds
    for follower, sources in FOLLOWERS.items():
        while True:
            response = httpx.get(urls[follower] + "/internal/event-cursors", headers=headers)
            response.raise_for_status()
            cursors = response.json()
            if all(cursors.get(source, 0) >= last[source] for source in sources):
                break
            assert time.monotonic() < deadline, (follower, cursors, last)
            time.sleep(0.1)


def wait_until(check: Callable[[], Any], what: str, seconds: float = 60) -> Any:
    """`check()`'s first truthy answer. What events cause arrives within a second or two; the
    wait allows a minute, for a machine running both test passes at once."""
    deadline = time.monotonic() + seconds
    while not (found := check()):
        assert time.monotonic() < deadline, f"still waiting for {what}"
        time.sleep(0.2)
    return found


def finished_job(client: httpx.Client, path: str, body: Any = None) -> dict[str, Any]:
    """Starts a job at `path` and follows it until it has succeeded or failed."""
    return followed_job(client, client.post(path, json=body))


def followed_job(client: httpx.Client, started: httpx.Response) -> dict[str, Any]:
    """The job a request started (`202 Accepted` and its address), followed until it has
    succeeded or failed; the job as it ended."""
    assert started.status_code == 202, started.text
    address = started.headers["location"]

    def ended() -> dict[str, Any] | None:
        job: dict[str, Any] = client.get(address).json()
        return job if job["status"] in ("succeeded", "failed") else None

    found: dict[str, Any] = wait_until(ended, f"the job at {address}")
    return found


class _FixedToken:
    """A service token source that always has one (the service it is for is not there)."""

    async def token(self) -> str:
        return "token"

    def forget(self) -> None:
        pass


def unreachable_service(name: str) -> ServiceClient:
    """A client of a service that listens nowhere: every call fails to connect."""
    return ServiceClient(name, f"http://127.0.0.1:{free_port()}", _FixedToken())  # type: ignore[arg-type]
