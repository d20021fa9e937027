"""Token issuance and verification, through real HTTP with real signed tokens."""

import base64
import json
import secrets
import time

import httpx
import pytest
from jose import jwk as jose_jwk
from jose import jwt

from tests.conftest import TOKEN_MINUTES
from tests.support import (
    Api,
    assert_problem,
    forge,
    forge_hs256,
    now,
    token_parts,
    wait_until,
)
from tools.stack import Stack

PROVINCES = "/api/v1/locations/provinces"


def test_password_grant_issues_a_15_minute_rs256_token_with_role_and_scope(api: Api) -> None:
    username, password = api.create_user("officer", provinces=["15"], communes=["02647"])
    response = httpx.post(
        f"{api.base_url}/auth/token",
        data={"grant_type": "password", "username": username, "password": password},
    )
    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "bearer" and body["expires_in"] == TOKEN_MINUTES * 60
    header, claims, _ = token_parts(body["access_token"])
    assert header["alg"] == "RS256" and header["kid"]
    assert claims["sub"] == f"user:{username}" and claims["role"] == "officer"
    assert claims["provinces"] == ["15"] and claims["communes"] == ["02647"]
    assert claims["exp"] - claims["iat"] == TOKEN_MINUTES * 60
    assert claims["iss"] == "ishc-gateway" and claims["aud"] == "ishc-api"


def test_token_verifies_against_the_published_jwks(api: Api) -> None:
    jwks = httpx.get(f"{api.base_url}/.well-known/jwks.json").json()
    header, _, _ = token_parts(api.admin_token)
    key = next(k for k in jwks["keys"] if k["kid"] == header["kid"])
    assert "d" not in key, "the private exponent must never be published"
    claims = jwt.decode(
        api.admin_token, key, algorithms=["RS256"], audience="ishc-api", issuer="ishc-gateway"
    )
    assert claims["role"] == "admin"


def test_client_credentials_grant_in_the_form_and_as_http_basic(api: Api) -> None:
    client_id, secret = api.create_client("bank", bank_code="VBSP")
    form = httpx.post(
        f"{api.base_url}/auth/token",
        data={"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret},
    )
    basic = httpx.post(
        f"{api.base_url}/auth/token",
        data={"grant_type": "client_credentials"},
        auth=(client_id, secret),
    )
    for response in (form, basic):
        assert response.status_code == 200, response.text
        _, claims, _ = token_parts(response.json()["access_token"])
        assert claims["role"] == "bank" and claims["bank_code"] == "VBSP"
        assert claims["sub"] == f"client:{client_id}"


def test_wrong_password_and_wrong_secret_are_refused(api: Api) -> None:
    username, _ = api.create_user("club_manager", clubs=[1])
    response = httpx.post(
        f"{api.base_url}/auth/token",
        data={"grant_type": "password", "username": username, "password": "not-the-password"},
    )
    assert assert_problem(response, 401)["error"] == "invalid_grant"
    client_id, _ = api.create_client("partner", funder_id=3)
    response = httpx.post(
        f"{api.base_url}/auth/token",
        data={"grant_type": "client_credentials", "client_id": client_id, "client_secret": "wrong"},
    )
    assert assert_problem(response, 401)["error"] == "invalid_client"


def test_unsupported_grant_and_missing_fields_are_precise_4xx(api: Api) -> None:
    response = httpx.post(f"{api.base_url}/auth/token", data={"grant_type": "implicit"})
    assert assert_problem(response, 400)["error"] == "unsupported_grant_type"
    response = httpx.post(
        f"{api.base_url}/auth/token", data={"grant_type": "password", "username": "admin"}
    )
    assert_problem(response, 422, field="password")
    response = httpx.post(f"{api.base_url}/auth/token", json={"grant_type": "password"})
    assert_problem(response, 422, field="grant_type")


def test_repeated_failed_logins_are_slowed_down_with_retry_after(api: Api) -> None:
    username, password = api.create_user("officer", provinces=["01"])
    wrong = {"grant_type": "password", "username": username, "password": "wrong-password"}
    statuses = [httpx.post(f"{api.base_url}/auth/token", data=wrong).status_code for _ in range(6)]
    assert statuses[:5] == [401] * 5 and statuses[5] == 429
    # While blocked, even the right password waits: guessing gains nothing.
    response = httpx.post(f"{api.base_url}/auth/token", data={**wrong, "password": password})
    assert_problem(response, 429)
    assert 1 <= int(response.headers["Retry-After"]) <= 900


def test_guessing_from_elsewhere_never_locks_out_the_right_client(api: Api) -> None:
    """Failures count per identity and address: a stranger guessing a bank's secret slows down
    only their own tries, never the bank's nightly run from its own address."""
    client_id, secret = api.create_client("bank", bank_code="VBSP")
    guess = {"grant_type": "client_credentials", "client_id": client_id, "client_secret": "x"}
    elsewhere = {"X-Forwarded-For": "203.0.113.7"}  # the proxy's header, trusted from 127.0.0.1
    statuses = [
        httpx.post(f"{api.base_url}/auth/token", data=guess, headers=elsewhere).status_code
        for _ in range(6)
    ]
    assert statuses[:5] == [401] * 5 and statuses[5] == 429
    right = {**guess, "client_secret": secret}
    assert_problem(httpx.post(f"{api.base_url}/auth/token", data=right, headers=elsewhere), 429)
    assert httpx.post(f"{api.base_url}/auth/token", data=right).status_code == 200


def test_deactivated_user_cannot_log_in(api: Api, admin: httpx.Client) -> None:
    username, password = api.create_user("officer", provinces=["15"])
    user = admin.get("/api/v1/users", params={"q": username}).json()["items"][0]
    assert admin.patch(f"/api/v1/users/{user['id']}", json={"active": False}).status_code == 200
    response = httpx.post(
        f"{api.base_url}/auth/token",
        data={"grant_type": "password", "username": username, "password": password},
    )
    assert_problem(response, 401)


def _forgeries(api: Api) -> dict[str, str]:
    header, claims, _ = token_parts(api.admin_token)
    public_jwk = httpx.get(f"{api.base_url}/.well-known/jwks.json").json()["keys"][0]
    public_pem = jose_jwk.construct(public_jwk, "RS256").to_pem()
    fresh = {**claims, "iat": now(), "exp": now() + 600}
    tampered_payload = (
        base64.urlsafe_b64encode(json.dumps({**claims, "sub": "user:mallory"}).encode())
        .rstrip(b"=")
        .decode()
    )
    head, _, sig = api.admin_token.split(".")
    return {
        "alg none": forge({"alg": "none", "typ": "JWT"}, fresh),
        "alg none with kid": forge({"alg": "none", "kid": header["kid"]}, fresh),
        "HS256 signed with the public key": forge_hs256(header, fresh, public_pem),
        "expired": _resigned(api, {**claims, "iat": now() - 3600, "exp": now() - 60}),
        "wrong audience": _resigned(api, {**fresh, "aud": "someone-else"}),
        "wrong issuer": _resigned(api, {**fresh, "iss": "evil-issuer"}),
        "tampered payload": f"{head}.{tampered_payload}.{sig}",
        "unknown kid": forge({**header, "kid": "no-such-key"}, fresh, b"x" * 256),
        "garbage": "not.a.token",
        "no exp": _resigned(api, {k: v for k, v in fresh.items() if k != "exp"}),
        "signature stripped": f"{head}.{api.admin_token.split('.')[1]}.",
    }


_OTHER_KEY: dict = {}


def _resigned(api: Api, claims: dict) -> str:
    """Claims signed by a key that is not the gateway's but claims the gateway's kid."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    if "pem" not in _OTHER_KEY:
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        _OTHER_KEY["pem"] = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode()
    header, _, _ = token_parts(api.admin_token)
    return jwt.encode(claims, _OTHER_KEY["pem"], algorithm="RS256", headers={"kid": header["kid"]})


def test_claims_signed_by_a_foreign_key_are_refused(api: Api) -> None:
    _, claims, _ = token_parts(api.admin_token)
    response = api.client(_resigned(api, claims)).get(PROVINCES)
    assert_problem(response, 401)


@pytest.mark.parametrize("where", ["gateway", "service"])
def test_forged_expired_or_misdirected_tokens_are_refused(
    api: Api, stack: Stack, where: str
) -> None:
    base = stack.gateway_url if where == "gateway" else stack.url("clubs")
    for name, token in _forgeries(api).items():
        response = httpx.get(base + PROVINCES, headers={"Authorization": f"Bearer {token}"})
        body = assert_problem(response, 401)
        assert response.headers["WWW-Authenticate"].startswith("Bearer"), name
        assert body["status"] == 401, name


@pytest.mark.parametrize("where", ["gateway", "service"])
def test_missing_or_malformed_authorization_is_401_with_a_challenge(
    stack: Stack, where: str
) -> None:
    base = stack.gateway_url if where == "gateway" else stack.url("clubs")
    malformed = ("Basic YWRtaW46eA==", "Bearer", "Token abc")
    for headers in ({}, *({"Authorization": value} for value in malformed)):
        response = httpx.get(base + PROVINCES, headers=headers)
        assert_problem(response, 401)
        assert 'realm="ishc"' in response.headers["WWW-Authenticate"]


def test_me_echoes_the_callers_role_and_scope(api: Api, token_for) -> None:
    response = api.client(token_for("club_manager", clubs=[7, 9])).get("/auth/me")
    assert response.status_code == 200
    assert response.json()["role"] == "club_manager" and response.json()["clubs"] == [7, 9]


def test_rotated_key_signs_new_tokens_while_old_tokens_stay_valid(api: Api, stack: Stack) -> None:
    import subprocess
    import sys

    old_token = api.password_token("admin", api.admin_password)
    old_kid = token_parts(old_token)[0]["kid"]
    rotated = subprocess.run(
        [sys.executable, "-m", "gateway.keys", "rotate"],
        env=stack.env(),
        check=True,
        capture_output=True,
        text=True,
    )
    rotated_kid = rotated.stdout.split()[0]
    # Published at once (within GATEWAY_KEYS_REFRESH_SECONDS), signing a little later.
    wait_until(lambda: rotated_kid in jwks_kids(api.base_url), "the new key's publication", 30)
    assert old_kid in jwks_kids(api.base_url)

    def signed_with_the_new_key() -> str | None:
        token = api.password_token("admin", api.admin_password)
        return token if token_parts(token)[0]["kid"] == rotated_kid else None

    new_token = wait_until(signed_with_the_new_key, "the new key to sign", 30)
    # A service refetches the keys on an unknown kid, at most once a second.
    time.sleep(1.1)
    for token in (old_token, new_token):
        through = api.client(token).get(PROVINCES)
        assert through.status_code == 200, through.text
        direct = httpx.get(
            stack.url("clubs") + PROVINCES, headers={"Authorization": f"Bearer {token}"}
        )
        assert direct.status_code == 200, direct.text


def jwks_kids(base_url: str) -> set[str]:
    return {key["kid"] for key in httpx.get(f"{base_url}/.well-known/jwks.json").json()["keys"]}


def test_a_random_bearer_string_never_causes_a_server_error(stack: Stack) -> None:
    for _ in range(20):
        token = secrets.token_urlsafe(secrets.randbelow(200) + 1)
        for dots in ("", ".", ".."):
            response = httpx.get(
                stack.gateway_url + PROVINCES,
                headers={"Authorization": f"Bearer {token}{dots}{token}"},
            )
            assert response.status_code == 401


def test_fair_use_limits_each_holder_by_role_with_ratelimit_headers(api: Api) -> None:
    """A partner may make 300 calls a minute (GATEWAY_RATE_LIMITS): each answer says what is
    left; the call over it gets 429 with Retry-After; another holder is not slowed."""
    partner = api.client(api.token_for("partner", funder_id=31))
    path = "/api/v1/locations/provinces"
    first = partner.get(path)
    assert first.status_code == 200
    assert first.headers["RateLimit-Limit"] == "300"
    assert int(first.headers["RateLimit-Remaining"]) == 299
    served = 1
    for _ in range(1000):  # the bucket refills 5 calls a second meanwhile
        over = partner.get(path, params={"limit": 1})
        if over.status_code == 429:
            break
        served += 1
    assert served >= 300
    problem = assert_problem(over, 429)
    assert problem["code"] == "rate_limited" and int(over.headers["Retry-After"]) >= 1
    assert over.headers["RateLimit-Remaining"] == "0"
    other = api.client(api.token_for("partner", funder_id=32))
    assert other.get(path).status_code == 200
    admin = api.client(api.admin_token)
    assert admin.get(path).status_code == 200 and "RateLimit-Limit" not in admin.get(path).headers
