"""The tables of apps' logins: public clients, one-minute codes, refresh tokens, login sessions.

Codes, refresh tokens and session ids are random 256-bit values kept only as their SHA-256
hashes: a copy of the database lets nobody log in.
"""

from datetime import datetime

from sqlalchemy import JSON, Index
from sqlmodel import Field

from common.clock import utcnow
from common.db import UTCDateTime
from gateway.models import GatewayBase


class AppClient(GatewayBase, table=True):
    """A public client: a browser or mobile app that logs people in through the login page. It
    has no secret (an app cannot keep one) and no role: the person's token carries theirs."""

    __tablename__ = "app_clients"

    id: int | None = Field(default=None, primary_key=True)
    client_id: str = Field(max_length=64, unique=True)
    name: str = Field(max_length=200)
    redirect_uris: list[str] = Field(default_factory=list, sa_type=JSON, nullable=False)
    """Where the login page may send a code: matched exactly, character for character."""
    active: bool = True
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)


class AuthorizationCode(GatewayBase, table=True):
    """A code the login page gave an app: it works once, for a minute, with its verifier."""

    __tablename__ = "authorization_codes"

    code_hash: str = Field(primary_key=True, max_length=64)
    client_id: str = Field(max_length=64)
    user_id: int
    redirect_uri: str = Field(max_length=2000)
    code_challenge: str = Field(max_length=128)
    expires_at: datetime = Field(sa_type=UTCDateTime, nullable=False, index=True)
    used_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    family_id: str | None = Field(default=None, max_length=36)
    """The refresh tokens the code was exchanged for: revoked if the code comes again."""


class RefreshToken(GatewayBase, table=True):
    """One refresh token of a family: the tokens that follow one login, each replacing the one
    before. A token used twice revokes its whole family (someone holds a stolen copy)."""

    __tablename__ = "refresh_tokens"
    __table_args__ = (Index("ix_refresh_tokens_family_id", "family_id"),)

    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(max_length=64, unique=True)
    family_id: str = Field(max_length=36)
    client_id: str = Field(max_length=64)
    user_id: int = Field(index=True)
    family_started_at: datetime = Field(sa_type=UTCDateTime, nullable=False)
    """The login the family follows: no token of it lives past the absolute lifetime."""
    issued_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    expires_at: datetime = Field(sa_type=UTCDateTime, nullable=False, index=True)
    used_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    revoked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class LoginSession(GatewayBase, table=True):
    """The login page's own session (a cookie): a person who logged in lately is not asked for
    the password again by the next app's login, until they log out or it expires."""

    __tablename__ = "login_sessions"

    id_hash: str = Field(primary_key=True, max_length=64)
    user_id: int = Field(index=True)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    expires_at: datetime = Field(sa_type=UTCDateTime, nullable=False, index=True)
