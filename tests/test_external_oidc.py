"""The platform trusting an external OpenID Connect provider, as a government deployment trusts
its Keycloak: a real provider (panva's `oidc-provider`, from npm, `clients/oidc-provider/`)
issues JWT access tokens with our role and scope in `ishc_*` claims; a platform started with
`ISHC_OIDC_ISSUER` and `ISHC_OIDC_JWKS_URL` (the gateway and every service, on the test
databases) accepts them with exactly that scope, and refuses them without a role, with the
service role, for another audience, or where the provider is not trusted.
"""

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.factories import HA_NOI, make_club
from tests.support import Api, assert_problem, wait_until
from tests.test_generated_client import _without_tool
from tests.test_typescript_client import _run
from tools.stack import Stack, free_port

PROVIDER = Path(__file__).resolve().parent.parent / "clients" / "oidc-provider"


@pytest.fixture(scope="module")
def provider(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The provider's issuer URL, the provider running."""
    npm, node = shutil.which("npm"), shutil.which("node")
    if npm is None or node is None:
        _without_tool("no Node.js here (npm) for the OpenID provider")
    folder = tmp_path_factory.mktemp("oidc-provider")
    for name in ("package.json", "package-lock.json", "server.mjs"):
        shutil.copy(PROVIDER / name, folder / name)
    _run([npm, "ci", "--no-audit", "--no-fund"], folder)
    port = free_port()
    issuer = f"http://127.0.0.1:{port}"
    process = subprocess.Popen(
        [node, "server.mjs"],
        cwd=folder,
        env={**os.environ, "PORT": str(port)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )

    def started() -> bool:
        try:
            return httpx.get(f"{issuer}/.well-known/openid-configuration").status_code == 200
        except httpx.TransportError:
            return False

    try:
        wait_until(started, "the OpenID provider to start", seconds=30)
        yield issuer
    finally:
        process.terminate()
        process.wait(10)


@pytest.fixture(scope="module")
def trusting(stack: Stack, api: Api, provider: str) -> Iterator[Stack]:
    """A second gateway and clubs service on the test databases that trust the provider (the
    calls here reach no other service)."""
    second = Stack(
        database_urls=stack.database_urls,
        ports={**stack.ports, "gateway": free_port(), "clubs": free_port()},
        var_dir=stack.var_dir,
        admin_password=api.admin_password,
        extra_env={
            **stack.extra_env,
            "ISHC_OIDC_ISSUER": provider,
            "ISHC_OIDC_JWKS_URL": f"{provider}/jwks",
            "ISHC_OIDC_AUDIENCE": "ishc-api",
        },
    )
    second.start(["clubs", "gateway"])
    try:
        yield second
    finally:
        second.stop()


def provider_token(issuer: str, client_id: str) -> str:
    response = httpx.post(
        f"{issuer}/token",
        data={
            "grant_type": "client_credentials",
            "client_id": client_id,
            "client_secret": f"secret-{client_id}",
        },
    )
    assert response.status_code == 200, response.text
    token: str = response.json()["access_token"]
    return token


def call(platform: Stack, token: str, path: str) -> httpx.Response:
    return httpx.get(
        platform.gateway_url + path, headers={"Authorization": f"Bearer {token}"}, timeout=30
    )


def test_the_provider_s_officer_reads_with_the_scope_its_claims_give(
    trusting: Stack, provider: str, admin: httpx.Client
) -> None:
    lao_cai, ha_noi = make_club(admin), make_club(admin, province_code=HA_NOI, commune_code="00004")
    token = provider_token(provider, "officer-lao-cai")
    me = call(trusting, token, "/auth/me").json()
    assert (me["subject"], me["role"], me["provinces"]) == (
        "oidc:officer-lao-cai",
        "officer",
        ["15"],
    )
    assert call(trusting, token, f"/api/v1/clubs/{lao_cai['id']}").status_code == 200  # a service
    assert_problem(call(trusting, token, f"/api/v1/clubs/{ha_noi['id']}"), 404)
    listed = call(trusting, token, "/api/v1/clubs?limit=200").json()["items"]
    assert {club["province_code"] for club in listed} == {"15"}


def test_tokens_without_a_role_with_the_service_role_or_for_another_audience_are_refused(
    trusting: Stack, provider: str
) -> None:
    for client_id in ("no-role", "claims-service", "other-audience"):
        refused = call(trusting, provider_token(provider, client_id), "/api/v1/clubs")
        assert assert_problem(refused, 401)["code"] == "token_invalid", client_id


def test_the_gateway_s_own_tokens_still_work_and_an_untrusting_platform_refuses_the_provider(
    trusting: Stack, provider: str, api: Api, stack: Stack
) -> None:
    assert call(trusting, api.admin_token, "/api/v1/clubs?limit=1").status_code == 200
    token = provider_token(provider, "officer-lao-cai")
    assert_problem(call(stack, token, "/api/v1/clubs"), 401)
