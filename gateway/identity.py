"""People and machine clients: passwords, login throttling, tokens, first-start bootstrap."""

import logging
import secrets
import time
from datetime import timedelta
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Engine, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session, select

from common.auth import Principal, Role, TokenVerifier, trusted_issuer
from common.clock import utcnow
from common.db import reader
from common.problem_codes import Code
from common.problems import Conflict, TooManyRequests, Unauthorized
from gateway.keys import KeyStore
from gateway.models import ApiClient, LoginFailure, ScopeColumns, User
from gateway.oauth.models import AppClient
from gateway.settings import GatewaySettings

log = logging.getLogger("ishc.gateway.identity")
hasher = PasswordHasher()
# Verified against when the name is unknown, so a wrong name costs as long as a wrong password.
_DUMMY_HASH = hasher.hash(secrets.token_urlsafe(16))


def hash_secret(secret: str) -> str:
    return hasher.hash(secret)


def _matches(stored_hash: str, secret: str) -> bool:
    try:
        return hasher.verify(stored_hash, secret)
    except (VerificationError, InvalidHashError):
        return False


class LoginThrottle:
    """Slows down guessing: after a few failures of one identity from one address, each try
    from that address waits longer.

    By identity and address together: someone guessing a bank's client secret from elsewhere
    slows down only their own tries, never the bank's nightly run from its own address.
    """

    def __init__(self, settings: GatewaySettings, address: str) -> None:
        self.free_failures = settings.login_free_failures
        self.base_delay = settings.login_base_delay_seconds
        self.max_delay = settings.login_max_delay_seconds
        self.address = address

    def _key(self, identity: str) -> str:
        return f"{identity} from {self.address}"[:200]

    def check(self, session: Session, identity: str) -> None:
        record = session.get(LoginFailure, self._key(identity))
        if record and record.blocked_until and record.blocked_until > utcnow():
            wait = int((record.blocked_until - utcnow()).total_seconds()) + 1
            raise TooManyRequests(
                f"Too many failed logins from this address; try again in {wait} s.",
                code=Code.TOO_MANY_FAILED_LOGINS,
                retry_after=wait,
            )

    def failed(self, session: Session, identity: str) -> None:
        """Counts the failure in one statement (an upsert), so that replicas counting failures
        of one identity at once lose none."""
        key = self._key(identity)
        table = LoginFailure.__table__  # type: ignore[attr-defined]
        dialect = session.get_bind().dialect.name
        upsert = (pg_insert if dialect == "postgresql" else sqlite_insert)(table).values(
            identity=key, failures=1, blocked_until=None
        )
        failures = session.execute(
            upsert.on_conflict_do_update(
                index_elements=["identity"], set_={"failures": table.c.failures + 1}
            ).returning(table.c.failures)
        ).scalar_one()
        excess = failures - self.free_failures
        if excess >= 0:
            delay = min(self.max_delay, self.base_delay * 2 ** min(excess, 16))
            blocked = utcnow() + timedelta(seconds=delay)
            session.execute(
                update(table).where(table.c.identity == key).values(blocked_until=blocked)
            )
        # Committed now: the login fails next, and the failing request's transaction is rolled back.
        session.commit()

    def succeeded(self, session: Session, identity: str) -> None:
        record = session.get(LoginFailure, self._key(identity))
        if record:
            session.delete(record)


def authenticate_user(
    session: Session, throttle: LoginThrottle, username: str, password: str
) -> User:
    identity = f"user:{username.lower()}"
    throttle.check(session, identity)
    user = session.exec(select(User).where(User.username == username.lower())).first()
    valid = _matches(user.password_hash if user else _DUMMY_HASH, password)
    if not (user and valid and user.active):
        throttle.failed(session, identity)
        raise Unauthorized(
            "Wrong username or password.", code=Code.WRONG_CREDENTIALS, error="invalid_grant"
        )
    throttle.succeeded(session, identity)
    return user


def authenticate_client(
    session: Session, throttle: LoginThrottle, client_id: str, secret: str
) -> ApiClient:
    identity = f"client:{client_id}"
    throttle.check(session, identity)
    client = session.exec(select(ApiClient).where(ApiClient.client_id == client_id)).first()
    valid = _matches(client.secret_hash if client else _DUMMY_HASH, secret) or (
        client is not None and _previous_secret_matches(client, secret)
    )
    if not (client and valid and client.active):
        throttle.failed(session, identity)
        raise Unauthorized(
            "Wrong client id or secret.", code=Code.WRONG_CLIENT_CREDENTIALS, error="invalid_client"
        )
    throttle.succeeded(session, identity)
    return client


def _previous_secret_matches(client: ApiClient, secret: str) -> bool:
    """The secret replaced last still works until its overlap ends."""
    until = client.previous_secret_expires_at
    if client.previous_secret_hash is None or until is None or until <= utcnow():
        return False
    return _matches(client.previous_secret_hash, secret)


def replace_secret(client: ApiClient, settings: GatewaySettings) -> str:
    """A new secret for the client (returned, to be shown once); the old one keeps working for
    `client_secret_overlap_hours`."""
    secret = secrets.token_urlsafe(32)
    now = utcnow()
    client.previous_secret_hash = client.secret_hash
    client.previous_secret_expires_at = now + timedelta(hours=settings.client_secret_overlap_hours)
    client.secret_hash = hash_secret(secret)
    client.updated_at = now
    return secret


class Standing:
    """Whether a token's account is still enabled: disabling a user or a client stops its
    tokens at once, on every replica (each asks its database, trusting an answer for at most
    `standing_cache_seconds`), not when they expire."""

    def __init__(self, engine: Engine, settings: GatewaySettings) -> None:
        self.engine = engine
        self.ttl = settings.standing_cache_seconds
        self._known: dict[str, tuple[float, bool]] = {}

    def check(self, principal: Principal) -> None:
        subject = principal.subject
        kind, _, name = subject.partition(":")
        if kind not in ("user", "client"):
            return
        now = time.monotonic()
        known = self._known.get(subject)
        if known is None or known[0] < now:
            known = (now + self.ttl, self._enabled(kind, name))
            self._known[subject] = known
            if len(self._known) > 50_000:
                self._known.clear()
        if not known[1]:
            raise Unauthorized(
                "The account of this token is disabled; its tokens no longer work.",
                code=Code.TOKEN_REVOKED,
            )

    def _enabled(self, kind: str, name: str) -> bool:
        model: Any = User if kind == "user" else ApiClient
        column = User.username if kind == "user" else ApiClient.client_id
        # A reader: on SQLite it takes no write lock, so it never waits behind a writer.
        with Session(reader(self.engine)) as session:
            active = session.exec(select(model.active).where(column == name)).first()
        return bool(active)


class GatewayVerifier(TokenVerifier):
    """The gateway's token check: a valid signature, and an account still enabled."""

    def __init__(self, keys: KeyStore, settings: GatewaySettings, standing: Standing) -> None:
        super().__init__(
            keys, settings.jwt_issuer, settings.jwt_audience, external=trusted_issuer(settings)
        )
        self.standing = standing

    def verify(self, token: str) -> Principal:
        principal = super().verify(token)
        self.standing.check(principal)
        return principal


def scope_claims(holder: ScopeColumns) -> dict[str, Any]:
    claims: dict[str, Any] = {"role": holder.role}
    for name in ("provinces", "communes", "clubs"):
        if getattr(holder, name):
            claims[name] = list(getattr(holder, name))
    if holder.funder_id is not None:
        claims["funder_id"] = holder.funder_id
    if holder.bank_code is not None:
        claims["bank_code"] = holder.bank_code
    return claims


def issue_token(
    keys: KeyStore, settings: GatewaySettings, subject: str, holder: ScopeColumns, minutes: float
) -> tuple[str, int]:
    """Signs an access token for the holder's role and scope; returns it with its lifetime."""
    now = int(time.time())
    lifetime = max(1, round(minutes * 60))
    claims = {
        "sub": subject,
        "iss": settings.jwt_issuer,
        "aud": settings.jwt_audience,
        "iat": now,
        "nbf": now,
        "exp": now + lifetime,
        "jti": secrets.token_hex(8),
        **scope_claims(holder),
    }
    return keys.sign(claims), lifetime


def free_client_id(session: Session, given: str | None, prefix: str) -> str:
    """The id a new client (a machine's or an app's) takes: `given`, or a made-up one with the
    prefix. One namespace for both kinds, so an id always names one client; 409 if taken."""
    client_id = given or f"{prefix}-{secrets.token_hex(6)}"
    taken = session.exec(select(ApiClient.id).where(ApiClient.client_id == client_id)).first()
    taken = (
        taken or session.exec(select(AppClient.id).where(AppClient.client_id == client_id)).first()
    )
    if taken is not None:
        raise Conflict(f"The client id {client_id!r} is taken.", code=Code.ALREADY_EXISTS)
    return client_id


def user_subject(user: User) -> str:
    return f"user:{user.username}"


def client_subject(client: ApiClient) -> str:
    return f"client:{client.client_id}"


def bootstrap(session: Session, settings: GatewaySettings) -> None:
    """First start: an admin if there is none, and our own services' clients in step."""
    has_admin = session.exec(select(User).where(User.role == Role.ADMIN.value)).first()
    if not has_admin:
        password = settings.admin_password or secrets.token_urlsafe(12)
        session.add(
            User(
                username=settings.admin_username.lower(),
                full_name="Administrator",
                password_hash=hash_secret(password),
                role=Role.ADMIN.value,
            )
        )
        if settings.admin_password:
            log.warning("created the admin user %r", settings.admin_username)
        else:
            print(
                f"Created the admin user {settings.admin_username!r} with the password "
                f"{password!r}; it is shown only once.",
                flush=True,
            )
    for client_id, secret in settings.service_credentials().items():
        client = session.exec(select(ApiClient).where(ApiClient.client_id == client_id)).first()
        if client is None:
            client = ApiClient(
                client_id=client_id,
                name=f"{client_id} (platform service)",
                role=Role.SERVICE.value,
                secret_hash=hash_secret(secret),
            )
        elif not _matches(client.secret_hash, secret):
            client.secret_hash = hash_secret(secret)
            client.updated_at = utcnow()
        session.add(client)
    session.commit()
