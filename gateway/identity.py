"""People and machine clients: passwords, login throttling, tokens, first-start bootstrap."""

import logging
import secrets
import time
from datetime import timedelta
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlmodel import Session, select

from common.auth import Role
from common.clock import utcnow
from common.problems import TooManyRequests, Unauthorized
from gateway.keys import KeyStore
from gateway.models import ApiClient, LoginFailure, ScopeColumns, User
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
    """Slows down guessing: after a few failures for one identity, each try waits longer."""

    def __init__(self, settings: GatewaySettings) -> None:
        self.free_failures = settings.login_free_failures
        self.base_delay = settings.login_base_delay_seconds
        self.max_delay = settings.login_max_delay_seconds

    def check(self, session: Session, identity: str) -> None:
        record = session.get(LoginFailure, identity)
        if record and record.blocked_until and record.blocked_until > utcnow():
            wait = int((record.blocked_until - utcnow()).total_seconds()) + 1
            raise TooManyRequests(
                f"Too many failed logins; try again in {wait} s.", retry_after=wait
            )

    def failed(self, session: Session, identity: str) -> None:
        record = session.get(LoginFailure, identity) or LoginFailure(identity=identity)
        record.failures += 1
        excess = record.failures - self.free_failures
        if excess >= 0:
            delay = min(self.max_delay, self.base_delay * 2 ** min(excess, 16))
            record.blocked_until = utcnow() + timedelta(seconds=delay)
        session.add(record)
        # Committed now: the login fails next, and the failing request's transaction is rolled back.
        session.commit()

    def succeeded(self, session: Session, identity: str) -> None:
        record = session.get(LoginFailure, identity)
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
        raise Unauthorized("Wrong username or password.", error="invalid_grant")
    throttle.succeeded(session, identity)
    return user


def authenticate_client(
    session: Session, throttle: LoginThrottle, client_id: str, secret: str
) -> ApiClient:
    identity = f"client:{client_id}"
    throttle.check(session, identity)
    client = session.exec(select(ApiClient).where(ApiClient.client_id == client_id)).first()
    valid = _matches(client.secret_hash if client else _DUMMY_HASH, secret)
    if not (client and valid and client.active):
        throttle.failed(session, identity)
        raise Unauthorized("Wrong client id or secret.", error="invalid_client")
    throttle.succeeded(session, identity)
    return client


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
    keys: KeyStore, settings: GatewaySettings, subject: str, holder: ScopeColumns, minutes: int
) -> tuple[str, int]:
    """Signs an access token for the holder's role and scope; returns it with its lifetime."""
    now = int(time.time())
    lifetime = minutes * 60
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
