"""The memo of verified tokens (`common.auth.TokenVerifier`): what it may answer without
verifying again, and what it must never answer."""

import time
from collections.abc import Callable
from functools import partial
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jose import jwk, jwt

from common import auth
from common.auth import ALGORITHM, JwksKeySource, Principal, Role, TokenVerifier
from common.problem_codes import Code
from common.problems import Unauthorized
from tests.support import Api, assert_problem, forge, now, token_parts

ISSUER = "ishc-test"
AUDIENCE = "ishc-test-api"
PROVINCES = "/api/v1/locations/provinces"


def _private_pem() -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


def _public_jwk(private_pem: str, kid: str) -> dict[str, Any]:
    public = jwk.construct(private_pem, ALGORITHM).public_key().to_dict()
    return {**public, "kid": kid, "alg": ALGORITHM, "use": "sig"}


PEMS = {"k1": _private_pem(), "k2": _private_pem()}


class Keys:
    """A key source whose published keys a test changes (a rotation, a retirement)."""

    def __init__(self, *kids: str) -> None:
        self.published = {kid: _public_jwk(PEMS[kid], kid) for kid in kids}
        self.asked = 0

    def key_for(self, kid: str) -> dict[str, Any] | None:
        self.asked += 1
        return self.published.get(kid)

    def holds(self, kid: str) -> bool:
        return kid in self.published


def _token(kid: str = "k1", lifetime: int = 600, **claims: Any) -> str:
    issued = now()
    body = {
        "sub": "user:officer-laocai",
        "role": "officer",
        "provinces": ["15"],
        "iss": ISSUER,
        "aud": AUDIENCE,
        "iat": issued,
        "exp": issued + lifetime,
        **claims,
    }
    encoded: str = jwt.encode(body, PEMS[kid], algorithm=ALGORITHM, headers={"kid": kid})
    return encoded


def _refused(verify: Callable[[], Principal], code: Code = Code.TOKEN_INVALID) -> None:
    with pytest.raises(Unauthorized) as refusal:
        verify()
    assert refusal.value.code is code


@pytest.fixture
def decodes(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every full signature check the verifier makes, by token."""
    seen: list[str] = []
    real = jwt.decode

    def counting(token: str, *args: Any, **kwargs: Any) -> Any:
        seen.append(token)
        return real(token, *args, **kwargs)

    monkeypatch.setattr(jwt, "decode", counting)  # the module `common.auth` calls
    return seen


def _later(monkeypatch: pytest.MonkeyPatch, seconds: float) -> None:
    """The verifier's clock moved on by `seconds` (jose, which reads its own, is not asked)."""
    shifted = time.time() + seconds
    monkeypatch.setattr(
        auth, "time", SimpleNamespace(time=lambda: shifted, monotonic=time.monotonic)
    )


def test_a_verified_token_is_remembered_and_not_checked_again(decodes: list[str]) -> None:
    verifier = TokenVerifier(Keys("k1"), ISSUER, AUDIENCE)
    token = _token()
    assert verifier.remembered(token) is None  # never seen: verify in full
    first = verifier.verify(token)
    assert first.role is Role.OFFICER and first.provinces == ("15",)
    assert verifier.verify(token) is first
    assert verifier.remembered(token) is first
    assert decodes == [token]


def test_an_expired_token_is_refused_even_though_it_was_remembered(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    verifier = TokenVerifier(Keys("k1"), ISSUER, AUDIENCE)
    token = _token(lifetime=60)
    verifier.verify(token)
    _later(monkeypatch, 61)
    assert verifier.remembered(token) is None
    _refused(lambda: verifier.verify(token), Code.TOKEN_EXPIRED)
    assert token not in verifier._memo


def test_a_token_of_a_retired_key_is_refused_even_though_it_was_remembered() -> None:
    keys = Keys("k1", "k2")
    verifier = TokenVerifier(keys, ISSUER, AUDIENCE)
    old, new = _token("k1"), _token("k2")
    verifier.verify(old)
    verifier.verify(new)
    del keys.published["k1"]  # `python -m gateway.keys retire k1`, as the key source sees it
    assert verifier.remembered(old) is None
    _refused(lambda: verifier.verify(old))
    assert verifier.remembered(new) is not None
    assert verifier.verify(new).subject == "user:officer-laocai"


def test_a_tampered_token_is_never_answered_from_the_memo(decodes: list[str]) -> None:
    verifier = TokenVerifier(Keys("k1"), ISSUER, AUDIENCE)
    token = _token()
    verifier.verify(token)
    header, claims, signature = token_parts(token)
    head, payload, _ = token.split(".")
    admin = forge(header, {**claims, "role": "admin"}).rsplit(".", 1)[0] + f".{signature}"
    flipped = signature[:-2] + ("A" if signature[-2] != "A" else "B") + signature[-1]
    tampered = {
        "claims rewritten, signature kept": admin,
        "signature altered": f"{head}.{payload}.{flipped}",
        "signature stripped": f"{head}.{payload}.",
        "alg none": forge({"alg": "none", "kid": "k1"}, claims),
    }
    for name, forged in tampered.items():
        assert verifier.remembered(forged) is None, name
        _refused(partial(verifier.verify, forged))
        _refused(partial(verifier.verify, forged))  # and again: the refusal is not remembered
        assert forged not in verifier._memo, name
    assert list(verifier._memo) == [token]
    assert decodes.count(token) == 1


def test_only_tokens_that_pass_are_remembered() -> None:
    verifier = TokenVerifier(Keys("k1"), ISSUER, AUDIENCE)
    refused = {
        "another audience": _token(aud="someone-else"),
        "another issuer": _token(iss="evil-issuer"),
        "already expired": _token(lifetime=-5),
        "an unknown key": _token("k2"),
        "no known role": _token(role="superuser"),
    }
    for name, token in refused.items():
        with pytest.raises(Unauthorized):
            verifier.verify(token)
        assert verifier.remembered(token) is None, name
    assert not verifier._memo


def test_the_memo_is_bounded() -> None:
    verifier = TokenVerifier(Keys("k1"), ISSUER, AUDIENCE, memo_size=2)
    tokens = [_token(sub=f"user:u{number}") for number in range(3)]
    for token in tokens:
        verifier.verify(token)
    assert list(verifier._memo) == tokens[1:]
    assert verifier.remembered(tokens[0]) is None
    assert verifier.verify(tokens[0]).subject == "user:u0"  # verified again, in full


def test_a_verifier_that_checks_more_is_always_asked_in_full() -> None:
    """The gateway's verifier also asks whether the account is still enabled: the fast path
    must never skip that."""

    class Standing(TokenVerifier):
        def verify(self, token: str) -> Principal:
            principal = super().verify(token)
            if principal.subject == "user:disabled":
                raise Unauthorized("disabled", code=Code.TOKEN_REVOKED)
            return principal

    verifier = Standing(Keys("k1"), ISSUER, AUDIENCE)
    token = _token(sub="user:disabled")
    with pytest.raises(Unauthorized):
        verifier.verify(token)
    assert token in verifier._memo  # its signature passed ...
    assert verifier.remembered(token) is None  # ... but the fast path does not answer for it
    _refused(lambda: verifier.verify(token), Code.TOKEN_REVOKED)


def test_keys_due_for_a_refresh_send_the_token_to_the_full_check() -> None:
    """The fast path runs in the event loop: it never fetches keys, so stale keys mean `verify`
    (in the thread pool) fetches them, and only then answers."""
    source = JwksKeySource("http://127.0.0.1:9/.well-known/jwks.json", cache_seconds=300)
    source._keys = {"k1": _public_jwk(PEMS["k1"], "k1")}
    source._fetched_at = time.monotonic()
    verifier = TokenVerifier(source, ISSUER, AUDIENCE)
    token = _token()
    verifier.verify(token)
    assert verifier.remembered(token) is not None
    source._fetched_at = time.monotonic() - 301
    assert verifier.remembered(token) is None


def test_a_disabled_accounts_remembered_token_is_refused_through_the_gateway(
    api: Api, admin: httpx.Client
) -> None:
    username, password = api.create_user("officer", provinces=["15"])
    token = api.password_token(username, password)
    officer = api.client(token)
    for _ in range(3):  # remembered by the gateway and by the clubs service
        assert officer.get(PROVINCES, params={"limit": 5}).status_code == 200
    users = admin.get("/api/v1/users", params={"q": username}).json()["items"]
    assert admin.patch(f"/api/v1/users/{users[0]['id']}", json={"active": False}).status_code == 200
    time.sleep(1.2)  # GATEWAY_STANDING_CACHE_SECONDS
    problem = assert_problem(officer.get(PROVINCES, params={"limit": 5}), 401)
    assert problem["code"] == "token_revoked"
    assert_problem(officer.get("/auth/me"), 401)
