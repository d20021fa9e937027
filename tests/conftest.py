"""The test platform: the real gateway and services as processes, on SQLite or PostgreSQL.

`TEST_DATABASE=postgres` (with `TEST_POSTGRES_URL`) gives each component a fresh PostgreSQL
database for the session; the default is one SQLite file per component in a temp folder.
"""

import os
import secrets
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support import Api, postgres_databases
from tools.stack import FACTORIES, Stack, free_port

BACKEND = os.environ.get("TEST_DATABASE", "sqlite")
ADMIN_PASSWORD = "admin-" + secrets.token_hex(8)
TEST_SETTINGS = {
    # Short waits keep the tests fast; the behaviour is the same as with the defaults.
    "GATEWAY_UPSTREAM_TIMEOUT_SECONDS": "3",
    "GATEWAY_CONNECT_TIMEOUT_SECONDS": "1",
    "GATEWAY_LOGIN_BASE_DELAY_SECONDS": "30",
    "GATEWAY_ENVIRONMENT": "test",
    "CLUBS_EVENT_POLL_SECONDS": "0.2",
    "LOANS_EVENT_POLL_SECONDS": "0.2",
    "FUNDING_EVENT_POLL_SECONDS": "0.2",
    "GATEWAY_EVENT_POLL_SECONDS": "0.2",
    "LOANS_OVERDUE_SCAN_SECONDS": "1",
}


def pytest_report_header() -> str:
    return f"ISHC test database backend: {BACKEND}"


def _database_urls(tmp: Path, label: str) -> Iterator[dict[str, str]]:
    if BACKEND == "postgres":
        url = os.environ.get("TEST_POSTGRES_URL")
        if not url:
            raise pytest.UsageError("TEST_DATABASE=postgres needs TEST_POSTGRES_URL")
        with postgres_databases(url, list(FACTORIES), label) as urls:
            yield urls
    else:
        yield {component: f"sqlite:///{tmp / f'{component}.db'}" for component in FACTORIES}


def _stack(
    tmp: Path, urls: dict[str, str], extra_env: dict[str, str] | None = None
) -> Iterator[Stack]:
    stack = Stack(
        database_urls=urls,
        ports={c: free_port() for c in FACTORIES},
        var_dir=tmp,
        admin_password=ADMIN_PASSWORD,
        extra_env={**TEST_SETTINGS, **(extra_env or {})},
    )
    stack.migrate()
    stack.start(log_dir=tmp / "logs")
    try:
        yield stack
    finally:
        stack.stop()


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    tmp = tmp_path_factory.mktemp("platform")
    for urls in _database_urls(tmp, "main"):
        yield from _stack(tmp, urls)


@pytest.fixture(scope="session")
def api(stack: Stack) -> Api:
    return Api(stack.gateway_url, ADMIN_PASSWORD)


@pytest.fixture(scope="session")
def admin(api: Api) -> httpx.Client:
    return api.client(api.admin_token)


@pytest.fixture(scope="session")
def token_for(api: Api) -> Callable[..., str]:
    """`token_for("officer", provinces=["15"])`: a real user of that role and scope, logged in."""
    return api.token_for


@pytest.fixture(scope="session")
def as_role(api: Api) -> Callable[..., httpx.Client]:
    def client(role: str, **scope: Any) -> httpx.Client:
        return api.client(api.token_for(role, **scope))

    return client
