"""The gateway's own tables: people, machine clients, failed logins, token signing keys,
idempotency keys, and the log of who read members' personal data."""

from datetime import datetime

from sqlalchemy import JSON, Column, Index, Integer, Text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlmodel import Field, SQLModel

from common.clock import utcnow
from common.db import UTCDateTime, own_registry
from common.idempotency import idempotency_table


class GatewayBase(SQLModel, registry=own_registry()):
    """The base of every table of this component's database."""


idempotency_keys = idempotency_table(GatewayBase.metadata)


class ScopeColumns(GatewayBase):
    """What a role may reach: provinces/communes (officer), clubs, a funder, a bank."""

    role: str = Field(max_length=20, index=True)
    provinces: list[str] = Field(default_factory=list, sa_type=JSON, nullable=False)
    communes: list[str] = Field(default_factory=list, sa_type=JSON, nullable=False)
    clubs: list[int] = Field(default_factory=list, sa_type=JSON, nullable=False)
    funder_id: int | None = None
    bank_code: str | None = Field(default=None, max_length=20)
    active: bool = True


class User(ScopeColumns, table=True):
    __tablename__ = "users"

    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(max_length=64, unique=True)
    full_name: str = Field(default="", max_length=200)
    password_hash: str = Field(max_length=200)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)


class ApiClient(ScopeColumns, table=True):
    __tablename__ = "api_clients"

    id: int | None = Field(default=None, primary_key=True)
    client_id: str = Field(max_length=64, unique=True)
    name: str = Field(max_length=200)
    secret_hash: str = Field(max_length=200)
    previous_secret_hash: str | None = Field(default=None, max_length=200)
    """The secret replaced last, valid until `previous_secret_expires_at` (the overlap)."""
    previous_secret_expires_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)


class LoginFailure(GatewayBase, table=True):
    """Consecutive failed logins of one username or client id; cleared by a success."""

    __tablename__ = "login_failures"

    identity: str = Field(primary_key=True, max_length=200)
    """`user:<name>` or `client:<id>`, and the address the tries came from."""
    failures: int = 0
    blocked_until: datetime | None = Field(default=None, sa_type=UTCDateTime)


class SigningKey(GatewayBase, table=True):
    """An RS256 key that signs access tokens, shared by every gateway replica (`gateway.keys`).

    Every key is published in the JWKS; the one with the latest `signs_from` that has come
    signs. The private key is stored encrypted (`GATEWAY_KEYS_ENCRYPTION_KEY`)."""

    __tablename__ = "signing_keys"

    kid: str = Field(primary_key=True, max_length=64)
    private_key: str = Field(sa_type=Text)
    """The PKCS#8 PEM, sealed: `<encryption key id>.<nonce, ciphertext and tag in base64url>`."""
    signs_from: datetime = Field(sa_type=UTCDateTime, nullable=False)
    """A rotated key is published first and signs only once every replica publishes it."""
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)


MEMBER_IDS_TYPE = JSON().with_variant(ARRAY(Integer), "postgresql")
"""An integer array on PostgreSQL (searched through a GIN index), a JSON list on SQLite."""


class AccessLogEntry(GatewayBase, table=True):
    """An answer that showed members' personal data: who asked, as which role and client,
    when, on which route, in which request, and the members it showed. Append-only (pruned
    after the retention period).

    The members are an array in the entry, not a row each: a row per member cost a write to
    as many places of a per-member index (200 for a page of a member list), the array one
    row, and PostgreSQL's GIN index takes its ids in its pending list, merged later in bulk
    (bench/access_log.py)."""

    __tablename__ = "access_log"
    __table_args__ = (
        Index("ix_access_log_principal_at", "principal", "at"),
        # Only PostgreSQL searches arrays by index; SQLite (embedded) reads the entries.
        Index("ix_access_log_member_ids", "member_ids", postgresql_using="gin").ddl_if(
            dialect="postgresql"
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False, index=True)
    principal: str = Field(max_length=200)
    role: str = Field(max_length=20)
    client: str | None = Field(default=None, max_length=100)
    method: str = Field(max_length=10)
    path: str = Field(max_length=500)
    request_id: str | None = Field(default=None, max_length=128)
    service: str = Field(max_length=20)
    members: int = Field(description="How many members the answer showed.")
    member_ids: list[int] = Field(
        default_factory=list, sa_column=Column(MEMBER_IDS_TYPE, nullable=False)
    )
