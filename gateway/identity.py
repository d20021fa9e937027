"""People and machine clients: passwords, login throttling, tokens, and the bootstrap that
`python -m common.migrate` runs (the first admin, our services' clients, the first key)."""

import secrets
import time
from datetime import datetime, timedelta
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Engine, case, delete, func, literal, null
from sqlmodel import Session, select

from common.auth import Principal, Role, TokenVerifier, trusted_issuer
from common.clock import utcnow
from common.db import conflict_insert, make_engine, normalise_url, reader
from common.problem_codes import Code
from common.problems import Conflict, TooManyRequests, Unauthorized
from common.schemas import PatchModel
from gateway.keys import KeyEncryption, KeyStore, ensure_first_key
from gateway.models import ApiClient, LoginFailure, ScopeColumns, User
from gateway.oauth.models import AppClient
from gateway.settings import GatewaySettings

hasher = PasswordHasher()
# Verified against when the name is unknown, so a wrong name costs as long as a wrong password.
_DUMMY_HASH = hasher.hash(secrets.token_urlsafe(16))
MAX_DOUBLINGS = 16
"""A throttled identity's wait doubles at most this many times (and never beyond the maximum)."""
BOOTSTRAP_LOCK = 7_415_032_212
"""The PostgreSQL advisory lock that two bootstraps at once take turns on."""


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

    def _blocked_until(self, failures: int, now: datetime) -> datetime | None:
        excess = failures - self.free_failures
        if excess < 0:
            return None
        delay = min(self.max_delay, self.base_delay * 2 ** min(excess, MAX_DOUBLINGS))
        return now + timedelta(seconds=delay)

    def failed(self, session: Session, identity: str) -> None:
        """Counts the failure and sets the wait it earns in one statement (an upsert that adds
        one), so that replicas counting failures of one identity at once lose none and never
        set a wait from a count another has passed."""
        key = self._key(identity)
        table = LoginFailure.__table__  # type: ignore[attr-defined]
        now = utcnow()
        counted = table.c.failures + 1
        # The wait each count earns, computed here: up to the count from which it stops growing.
        steps = []
        for excess in range(MAX_DOUBLINGS + 1):
            failures = self.free_failures + excess
            until = self._blocked_until(failures, now)
            steps.append((counted == failures, literal(until, table.c.blocked_until.type)))
            if until is not None and until - now >= timedelta(seconds=self.max_delay):
                break
        blocked_until = case(
            (counted < self.free_failures, null()), *steps[:-1], else_=steps[-1][1]
        )
        upsert = conflict_insert(session, table).values(
            identity=key, failures=1, blocked_until=self._blocked_until(1, now)
        )
        session.execute(
            upsert.on_conflict_do_update(
                index_elements=["identity"],
                set_={"failures": counted, "blocked_until": blocked_until},
            )
        )
        # Committed now: the login fails next, and the failing request's transaction is rolled back.
        session.commit()

    def succeeded(self, session: Session, identity: str) -> None:
        table = LoginFailure.__table__  # type: ignore[attr-defined]
        session.execute(delete(table).where(table.c.identity == self._key(identity)))


def _reading(session: Session) -> Session:
    """A session beside the request's that only reads. A login checks its throttle and finds
    the account there, so that on SQLite it holds no write lock while it hashes the password:
    only a failure, counted after, writes (and commits at once)."""
    engine = session.get_bind()
    assert isinstance(engine, Engine)
    return Session(reader(engine))


def authenticate_user(
    session: Session, throttle: LoginThrottle, username: str, password: str
) -> User:
    identity = f"user:{username.lower()}"
    with _reading(session) as reading:
        throttle.check(reading, identity)
        user = reading.exec(select(User).where(User.username == username.lower())).first()
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
    with _reading(session) as reading:
        throttle.check(reading, identity)
        found = reading.exec(select(ApiClient).where(ApiClient.client_id == client_id))
        client = found.first()
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
        self.signing_keys = keys
        self.standing = standing
        self._retirements = 0

    def verify(self, token: str) -> Principal:
        retirements = self.signing_keys.retirements()
        if retirements != self._retirements:
            # A key was retired: the tokens it signed must not pass as remembered.
            self._memo.clear()
            self._retirements = retirements
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


def update_client(session: Session, client: ApiClient | AppClient, payload: PatchModel) -> None:
    """Applies an admin's change to a machine or an app client: the fields sent, and no other."""
    for name, value in payload.model_dump(exclude_unset=True).items():
        setattr(client, name, value)
    client.updated_at = utcnow()
    session.add(client)


def user_subject(user: User) -> str:
    return f"user:{user.username}"


def client_subject(client: ApiClient) -> str:
    return f"client:{client.client_id}"


def _first_admin(session: Session, settings: GatewaySettings) -> str | None:
    """An admin if there is none; what to tell of it (its password when made up here)."""
    if session.exec(select(User.id).where(User.role == Role.ADMIN.value)).first() is not None:
        return None
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
        return f"Created the admin user {settings.admin_username!r}."
    return (
        f"Created the admin user {settings.admin_username!r} with the password {password!r}; "
        "it is shown only once."
    )


def _service_clients(session: Session, settings: GatewaySettings) -> None:
    """Our own services' clients, in step with `GATEWAY_SERVICE_CLIENTS`."""
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


def bootstrap(settings: GatewaySettings | None = None) -> None:
    """What the gateway's database needs besides its schema: an admin if there is none, our
    services' clients in step with the settings, and the first signing key. `python -m
    common.migrate` runs it after the gateway's migrations; no web replica does.

    Two runs at once take turns (one transaction, serialised: an advisory lock on PostgreSQL,
    the write lock SQLite's transactions take as they begin), so one admin and one first key
    are made. A made-up password is printed only after the admin that has it is committed."""
    settings = settings or GatewaySettings()
    engine = make_engine(normalise_url(settings.database_url))
    try:
        with Session(engine) as session:
            if session.get_bind().dialect.name == "postgresql":
                session.execute(select(func.pg_advisory_xact_lock(BOOTSTRAP_LOCK)))
            admin_made = _first_admin(session, settings)
            _service_clients(session, settings)
            kid = ensure_first_key(session, KeyEncryption(settings.keys_encryption_key))
            session.commit()
    finally:
        engine.dispose()
    if kid is not None:
        print(f"Created the first token signing key {kid}.", flush=True)
    if admin_made is not None:
        print(admin_made, flush=True)
