"""Access tokens: the claims they carry, how they are verified, and the route dependencies.

Only RS256 is accepted; `none`, HMAC and every other algorithm are refused before any key is
looked at, which closes the algorithm-confusion attacks (HS256 signed with the public key).
"""

import threading
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Annotated, Any, Protocol

import httpx
from fastapi import Depends, Request
from fastapi.openapi.models import (
    OAuthFlowAuthorizationCode,
    OAuthFlowClientCredentials,
    OAuthFlowPassword,
    OAuthFlows,
)
from fastapi.security import OAuth2
from jose import JWTError, jwt
from starlette.concurrency import run_in_threadpool

from common.problem_codes import Code
from common.problems import Forbidden, ServiceUnavailable, Unauthorized

ALGORITHM = "RS256"
TOKEN_URL = "/auth/token"
AUTHORIZE_URL = "/oauth/authorize"


class Role(StrEnum):
    ADMIN = "admin"
    OFFICER = "officer"
    CLUB_MANAGER = "club_manager"
    BANK = "bank"
    PARTNER = "partner"
    SERVICE = "service"


@dataclass(frozen=True)
class Principal:
    """Who is calling, with the geographic, club, funder or bank scope of their role."""

    subject: str
    role: Role
    provinces: tuple[str, ...] = ()
    communes: tuple[str, ...] = ()
    clubs: tuple[int, ...] = ()
    funder_id: int | None = None
    bank_code: str | None = None
    expires_at: int = 0
    claims: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def is_admin(self) -> bool:
        return self.role is Role.ADMIN


class KeySource(Protocol):
    def key_for(self, kid: str) -> dict[str, Any] | None: ...


class JwksKeySource:
    """Public keys fetched from the gateway's JWKS and cached.

    An unknown `kid` triggers a refetch (a rotation), at most once a second so that a
    flood of forged kids cannot make us hammer the gateway.
    """

    def __init__(
        self,
        url: str,
        cache_seconds: int = 300,
        min_refetch_seconds: float = 1.0,
        timeout: float = 3.0,
    ) -> None:
        self.url = url
        self.cache_seconds = cache_seconds
        self.min_refetch_seconds = min_refetch_seconds
        self.timeout = timeout
        self._keys: dict[str, dict[str, Any]] = {}
        self._fetched_at = 0.0
        self._lock = threading.Lock()

    def _fetch(self) -> None:
        try:
            response = httpx.get(self.url, timeout=self.timeout)
            response.raise_for_status()
            keys = response.json()["keys"]
        except (httpx.HTTPError, KeyError, ValueError) as exc:
            if not self._keys:
                raise ServiceUnavailable(
                    "The token signing keys cannot be fetched.",
                    code=Code.SIGNING_KEYS_UNAVAILABLE,
                ) from exc
            return
        # A provider may leave `alg` out of its keys (RFC 7517 makes it optional).
        self._keys = {
            key["kid"]: key
            for key in keys
            if "kid" in key
            and key.get("kty") == "RSA"
            and key.get("alg", ALGORITHM) == ALGORITHM
            and key.get("use", "sig") == "sig"
        }
        self._fetched_at = time.monotonic()

    def holds(self, kid: str) -> bool:
        """Whether `kid` is among the keys fetched less than `cache_seconds` ago; never fetches
        (the event loop asks it, and must not wait on the network)."""
        return kid in self._keys and time.monotonic() - self._fetched_at < self.cache_seconds

    def key_for(self, kid: str) -> dict[str, Any] | None:
        age = time.monotonic() - self._fetched_at
        if kid in self._keys and age < self.cache_seconds:
            return self._keys[kid]
        with self._lock:
            age = time.monotonic() - self._fetched_at
            if age >= self.cache_seconds or (
                kid not in self._keys and age >= self.min_refetch_seconds
            ):
                self._fetch()
        return self._keys.get(kid)

    def ready(self) -> bool:
        try:
            self._fetch()
        except ServiceUnavailable:
            return False
        return True


def _tuple_of(value: Any, kind: type) -> tuple[Any, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(item, kind) for item in value):
        raise Unauthorized("The token's scope claims are malformed.", code=Code.TOKEN_INVALID)
    return tuple(value)


def principal_from_claims(claims: dict[str, Any]) -> Principal:
    try:
        role = Role(str(claims.get("role")))
    except ValueError as exc:
        raise Unauthorized("The token carries no known role.", code=Code.TOKEN_INVALID) from exc
    subject = claims.get("sub")
    if not isinstance(subject, str) or not subject:
        raise Unauthorized("The token has no subject.", code=Code.TOKEN_INVALID)
    funder_id = claims.get("funder_id")
    if funder_id is not None and not isinstance(funder_id, int):
        raise Unauthorized("The token's funder claim is malformed.", code=Code.TOKEN_INVALID)
    return Principal(
        subject=subject,
        role=role,
        provinces=_tuple_of(claims.get("provinces"), str),
        communes=_tuple_of(claims.get("communes"), str),
        clubs=_tuple_of(claims.get("clubs"), int),
        funder_id=funder_id,
        bank_code=claims.get("bank_code"),
        expires_at=int(claims["exp"]),
        claims=claims,
    )


SCOPE_CLAIMS = ("role", "provinces", "communes", "clubs", "funder_id", "bank_code")


@dataclass(frozen=True)
class TrustedIssuer:
    """An external OpenID Connect provider (Keycloak is the usual one in government) whose
    access tokens are accepted by its issuer and keys, with our role and scope in its claims
    under a prefix. Its subjects are `oidc:<sub>`; it never grants the `service` role, which
    belongs to the platform's own components."""

    issuer: str
    keys: KeySource
    audience: str
    claim_prefix: str = "ishc_"

    def principal(self, claims: dict[str, Any]) -> Principal:
        mapped = {name: claims.get(self.claim_prefix + name) for name in SCOPE_CLAIMS}
        mapped.update(sub=f"oidc:{claims['sub']}", exp=claims["exp"])
        principal = principal_from_claims(mapped)
        if principal.role is Role.SERVICE:
            raise Unauthorized(
                "An external provider may not grant the service role.", code=Code.TOKEN_INVALID
            )
        return principal


def trusted_issuer(settings: Any) -> TrustedIssuer | None:
    """The external provider a component's settings name (`ISHC_OIDC_*`), if any."""
    if not settings.oidc_issuer:
        return None
    return TrustedIssuer(
        settings.oidc_issuer,
        JwksKeySource(settings.oidc_jwks_url),
        settings.oidc_audience,
        settings.oidc_claim_prefix,
    )


@dataclass(frozen=True)
class _Verified:
    """A token that passed verification: who it names, and the key that signed it."""

    principal: Principal
    kid: str
    keys: KeySource


class TokenVerifier:
    """Verifies access tokens and remembers the verified ones until they expire.

    The memo keeps the RSA verification (and python-jose's parsing) off the hot path for a
    client that sends the same token many times. It is keyed by the whole token string, so a
    token altered by one byte is a stranger and verified in full; only tokens that passed are
    remembered; an entry is refused once its `exp` has passed, and dropped once the key that
    signed it is no longer published (a retired key stops its tokens within the key source's
    refresh, as it would without the memo). Tokens are the gateway's, or an external
    provider's (`external`), told apart by their `iss`.
    """

    def __init__(
        self,
        keys: KeySource,
        issuer: str,
        audience: str,
        memo_size: int = 10_000,
        external: TrustedIssuer | None = None,
    ) -> None:
        self.keys = keys
        self.issuer = issuer
        self.audience = audience
        self.memo_size = memo_size
        self.external = external
        self._memo: OrderedDict[str, _Verified] = OrderedDict()
        self._memo_lock = threading.Lock()

    def verify(self, token: str) -> Principal:
        remembered = self._memo.get(token)
        if remembered is not None:
            if remembered.principal.expires_at <= time.time():
                self._forget(token)
                raise Unauthorized("The token has expired.", code=Code.TOKEN_EXPIRED)
            if remembered.keys.key_for(remembered.kid) is not None:
                return remembered.principal
            self._forget(token)  # its key was retired: the full check below refuses it
        verified = self._verify(token)
        self._remember(token, verified)
        return verified.principal

    def remembered(self, token: str) -> Principal | None:
        """The principal of a token verified before, if that is all there is to check now;
        None when `verify` must run. Never blocks: no key fetch, no signature check, so the
        event loop can ask it. A subclass that checks more in `verify` (the gateway asks
        whether the account is still enabled) is always asked in full."""
        if type(self).verify is not TokenVerifier.verify:
            return None
        remembered = self._memo.get(token)
        if remembered is None or remembered.principal.expires_at <= time.time():
            return None
        holds: Callable[[str], bool] | None = getattr(remembered.keys, "holds", None)
        if holds is None or not holds(remembered.kid):
            return None  # keys to refresh first, or a key source that cannot say without I/O
        return remembered.principal

    def _remember(self, token: str, verified: _Verified) -> None:
        with self._memo_lock:
            self._memo[token] = verified
            while len(self._memo) > self.memo_size:
                self._memo.popitem(last=False)

    def _forget(self, token: str) -> None:
        with self._memo_lock:
            self._memo.pop(token, None)

    def _verify(self, token: str) -> _Verified:
        try:
            header = jwt.get_unverified_header(token)
            claimed = jwt.get_unverified_claims(token)
        except JWTError as exc:
            raise Unauthorized("The token is malformed.", code=Code.TOKEN_INVALID) from exc
        if header.get("alg") != ALGORITHM:
            raise Unauthorized(f"Only {ALGORITHM} tokens are accepted.", code=Code.TOKEN_INVALID)
        kid = header.get("kid")
        if not isinstance(kid, str):
            raise Unauthorized("The token was signed with an unknown key.", code=Code.TOKEN_INVALID)
        # Which issuer's keys to try is read from the token; the signature and the verified
        # `iss` then decide. An unknown issuer is tried against our keys, and fails there.
        external = self.external
        if external is not None and claimed.get("iss") == external.issuer:
            claims = self._decode(token, kid, external.keys, external.issuer, external.audience)
            return _Verified(external.principal(claims), kid, external.keys)
        claims = self._decode(token, kid, self.keys, self.issuer, self.audience)
        return _Verified(principal_from_claims(claims), kid, self.keys)

    def _decode(
        self, token: str, kid: str, keys: KeySource, issuer: str, audience: str
    ) -> dict[str, Any]:
        key = keys.key_for(kid)
        if key is None:
            raise Unauthorized("The token was signed with an unknown key.", code=Code.TOKEN_INVALID)
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key,
                algorithms=[ALGORITHM],
                audience=audience,
                issuer=issuer,
                options={
                    "require_exp": True,
                    "require_iat": True,
                    "require_sub": True,
                    "require_aud": True,
                    "require_iss": True,
                    "leeway": 0,
                },
            )
        except jwt.ExpiredSignatureError as exc:
            raise Unauthorized("The token has expired.", code=Code.TOKEN_EXPIRED) from exc
        except JWTError as exc:
            raise Unauthorized(f"The token is invalid: {exc}.", code=Code.TOKEN_INVALID) from exc
        return claims


oauth2_scheme = OAuth2(
    flows=OAuthFlows(
        password=OAuthFlowPassword(tokenUrl=TOKEN_URL),
        clientCredentials=OAuthFlowClientCredentials(tokenUrl=TOKEN_URL),
        authorizationCode=OAuthFlowAuthorizationCode(
            authorizationUrl=AUTHORIZE_URL, tokenUrl=TOKEN_URL, refreshUrl=TOKEN_URL
        ),
    ),
    scheme_name="OAuth2",
    auto_error=False,
    description="Access tokens from POST /auth/token: apps log people in with the "
    "authorization code and PKCE (S256) through /oauth/authorize and refresh with refresh "
    "tokens (docs/front-ends.md); systems use client_credentials; the password grant is "
    "legacy, for tools and tests.",
)


def bearer_token(authorization: str | None) -> str:
    if not authorization:
        raise Unauthorized(
            "An access token is required.", code=Code.TOKEN_MISSING, error="invalid_request"
        )
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized(
            "Use the Bearer authorization scheme.",
            code=Code.TOKEN_SCHEME_UNSUPPORTED,
            error="invalid_request",
        )
    return token.strip()


async def current_principal(
    request: Request, authorization: Annotated[str | None, Depends(oauth2_scheme)]
) -> Principal:
    """Async, so that a token seen before costs no trip to the thread pool (on a static read
    that trip cost more than the rest of the route); a first sight, which verifies the
    signature and may fetch the keys, runs in the pool."""
    verifier: TokenVerifier = request.app.state.verifier
    token = bearer_token(authorization)
    principal = verifier.remembered(token)
    if principal is None:
        principal = await run_in_threadpool(verifier.verify, token)
    request.state.principal = principal
    return principal


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]


def refuse_service_writes(principal: CurrentPrincipal) -> Principal:
    """Service tokens read (reconciliation, matching, figures); changes come from people and
    from the bank's and partners' systems."""
    if principal.role is Role.SERVICE:
        raise Forbidden(
            "Service tokens may read, not change anything.", code=Code.SERVICE_TOKEN_READ_ONLY
        )
    return principal


Writer = Annotated[Principal, Depends(refuse_service_writes)]
"""The principal of a route that changes data."""


def require_roles(*roles: Role) -> Callable[..., Awaitable[Principal]]:
    """A dependency that lets only the given roles through (403 for the others). Async, and
    asking for the token itself rather than through `CurrentPrincipal`: each level of
    dependencies costs FastAPI more than the check (a route that also takes the principal
    finds it remembered)."""
    allowed = frozenset(roles)

    async def dependency(
        request: Request, authorization: Annotated[str | None, Depends(oauth2_scheme)]
    ) -> Principal:
        principal = await current_principal(request, authorization)
        if principal.role not in allowed:
            raise Forbidden(
                f"The role {principal.role.value} may not do this.", code=Code.ROLE_FORBIDDEN
            )
        return principal

    return dependency
