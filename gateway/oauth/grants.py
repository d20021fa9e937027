"""Codes and refresh tokens: issued, redeemed once, rotated, revoked.

RFC 6749 (the code and refresh grants), RFC 7636 (PKCE, S256 only), RFC 7009 (revocation) and
the OAuth 2.0 Security BCP (refresh token rotation with reuse detection). Every redemption is a
conditional update (`... WHERE used_at IS NULL`), so two gateway replicas given one code or
one refresh token at the same moment cannot both honour it.
"""

import base64
import hashlib
import hmac
import re
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Engine, delete, update
from sqlmodel import Session, col, select

from common.clock import utcnow
from common.problem_codes import Code
from common.problems import BadRequest, Unauthorized
from gateway.models import User
from gateway.oauth.models import AppClient, AuthorizationCode, LoginSession, RefreshToken
from gateway.settings import GatewaySettings

VERIFIER = re.compile(r"^[A-Za-z0-9\-._~]{43,128}$")
"""RFC 7636 §4.1: what a code_verifier is made of (also the shape of a S256 challenge)."""
CHALLENGE = re.compile(r"^[A-Za-z0-9\-_]{43}$")
"""base64url of a SHA-256 digest, without padding."""


def digest(secret: str) -> str:
    """What is stored of a code, a refresh token or a session id: its SHA-256 (they are
    random 256-bit values, so a hash is as good as a password hash and far cheaper)."""
    return hashlib.sha256(secret.encode()).hexdigest()


def s256(verifier: str) -> str:
    """RFC 7636 §4.2: BASE64URL(SHA256(verifier)), unpadded."""
    hashed = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(hashed).rstrip(b"=").decode()


def invalid_grant(detail: str, code: Code = Code.INVALID_GRANT) -> BadRequest:
    return BadRequest(detail, code=code, error="invalid_grant")


def app_client(session: Session, client_id: str | None) -> AppClient | None:
    if not client_id:
        return None
    return session.exec(
        select(AppClient).where(AppClient.client_id == client_id, AppClient.active == True)  # noqa: E712
    ).first()


def require_app_client(session: Session, client_id: str | None) -> AppClient:
    client = app_client(session, client_id)
    if client is None:
        raise Unauthorized(
            f"No app client {client_id!r}.", code=Code.UNKNOWN_APP_CLIENT, error="invalid_client"
        )
    return client


def issue_code(
    session: Session,
    settings: GatewaySettings,
    client: AppClient,
    user: User,
    redirect_uri: str,
    challenge: str,
) -> str:
    code = secrets.token_urlsafe(32)
    assert user.id is not None
    session.add(
        AuthorizationCode(
            code_hash=digest(code),
            client_id=client.client_id,
            user_id=user.id,
            redirect_uri=redirect_uri,
            code_challenge=challenge,
            expires_at=utcnow() + timedelta(seconds=settings.authorization_code_seconds),
        )
    )
    return code


def redeem_code(
    session: Session, client: AppClient, code: str, redirect_uri: str | None, verifier: str | None
) -> tuple[User, AuthorizationCode]:
    """The person a code was issued to, once: a code that comes again has the tokens it was
    exchanged for revoked (RFC 6749 §4.1.2)."""
    if not verifier or not VERIFIER.match(verifier):
        raise invalid_grant("code_verifier: 43 to 128 of A-Z a-z 0-9 - . _ ~ (RFC 7636).")
    found = session.get(AuthorizationCode, digest(code))
    now = utcnow()
    if found is None or found.client_id != client.client_id:
        raise invalid_grant("The authorization code is unknown or was issued to another client.")
    if found.used_at is not None:
        if found.family_id is not None:
            revoke_family(session, found.family_id, now)
            session.commit()  # the revocation stands although this request fails
        raise invalid_grant("The authorization code was used already; its tokens are revoked.")
    if found.expires_at <= now:
        raise invalid_grant("The authorization code has expired; log in again.")
    if redirect_uri != found.redirect_uri:
        raise invalid_grant("redirect_uri differs from the one the code was issued for.")
    if not hmac.compare_digest(s256(verifier), found.code_challenge):
        raise invalid_grant("code_verifier does not match the code_challenge.")
    taken = session.execute(
        update(AuthorizationCode)
        .where(
            col(AuthorizationCode.code_hash) == found.code_hash,
            col(AuthorizationCode.used_at).is_(None),
        )
        .values(used_at=now)
    )
    if taken.rowcount != 1:  # type: ignore[attr-defined]
        raise invalid_grant("The authorization code was used already.")
    user = session.get(User, found.user_id)
    if user is None or not user.active:
        raise invalid_grant("The account is disabled.")
    return user, found


@dataclass(frozen=True)
class Issued:
    """A refresh token handed out, and whose it is."""

    token: str
    user: User


def start_family(
    session: Session,
    settings: GatewaySettings,
    client: AppClient,
    user: User,
    code: AuthorizationCode,
) -> str:
    """The first refresh token of a login."""
    family = str(uuid.uuid4())
    now = utcnow()
    code.family_id = family
    session.add(code)
    return _add_token(session, settings, client.client_id, user, family, now, now)


def _add_token(
    session: Session,
    settings: GatewaySettings,
    client_id: str,
    user: User,
    family: str,
    started: datetime,
    now: datetime,
) -> str:
    token = secrets.token_urlsafe(32)
    idle_end = now + timedelta(hours=settings.refresh_token_idle_hours)
    absolute_end = started + timedelta(days=settings.refresh_token_absolute_days)
    assert user.id is not None
    session.add(
        RefreshToken(
            token_hash=digest(token),
            family_id=family,
            client_id=client_id,
            user_id=user.id,
            family_started_at=started,
            issued_at=now,
            expires_at=min(idle_end, absolute_end),
        )
    )
    return token


def rotate(session: Session, settings: GatewaySettings, client: AppClient, token: str) -> Issued:
    """A new refresh token for a valid one, which is used up; a used one that comes again
    revokes its family (RFC 9700 §4.14.2)."""
    found = session.exec(
        select(RefreshToken).where(RefreshToken.token_hash == digest(token))
    ).first()
    now = utcnow()
    if found is None or found.client_id != client.client_id:
        raise invalid_grant("The refresh token is unknown or was issued to another client.")
    if found.revoked_at is not None:
        raise invalid_grant("The refresh token was revoked; log in again.")
    if found.used_at is not None:
        _reused(session, found, now)
    if found.expires_at <= now:
        raise invalid_grant("The refresh token has expired; log in again.")
    user = session.get(User, found.user_id)
    if user is None or not user.active:
        revoke_family(session, found.family_id, now)
        session.commit()
        raise invalid_grant("The account is disabled.")
    taken = session.execute(
        update(RefreshToken)
        .where(col(RefreshToken.id) == found.id, col(RefreshToken.used_at).is_(None))
        .values(used_at=now)
    )
    if taken.rowcount != 1:  # type: ignore[attr-defined]
        _reused(session, found, now)  # another request exchanged it this very moment
    fresh = _add_token(
        session, settings, client.client_id, user, found.family_id, found.family_started_at, now
    )
    return Issued(fresh, user)


def _reused(session: Session, found: RefreshToken, now: datetime) -> None:
    revoke_family(session, found.family_id, now)
    session.commit()  # the revocation stands although this request fails
    raise invalid_grant(
        "The refresh token was used already: every token of this login is revoked.",
        Code.REFRESH_TOKEN_REUSED,
    )


def revoke_family(session: Session, family: str, now: datetime) -> None:
    session.execute(
        update(RefreshToken)
        .where(col(RefreshToken.family_id) == family, col(RefreshToken.revoked_at).is_(None))
        .values(revoked_at=now)
    )


def prune_expired(engine: Engine, before: datetime) -> int:
    """Drops codes, refresh tokens and login sessions that expired before `before` (a day ago,
    by `GATEWAY_LOGIN_RETENTION_DAYS`): nothing of them is needed any more."""
    dropped = 0
    with Session(engine) as session:
        for table, column in (
            (AuthorizationCode, AuthorizationCode.expires_at),
            (RefreshToken, RefreshToken.expires_at),
            (LoginSession, LoginSession.expires_at),
        ):
            result = session.execute(delete(table).where(col(column) < before))
            dropped += int(result.rowcount)  # type: ignore[attr-defined]
        session.commit()
    return dropped


def revoke(session: Session, token: str, client_id: str) -> None:
    """RFC 7009: a refresh token revokes its family; anything else (an unknown token, an access
    token, which expires within minutes) is answered alike, and nothing is said of it."""
    found = session.exec(
        select(RefreshToken).where(RefreshToken.token_hash == digest(token))
    ).first()
    if found is not None and client_id == found.client_id:
        revoke_family(session, found.family_id, utcnow())
