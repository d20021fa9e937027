"""RS256 signing keys, kept in the gateway's database and shared by every replica, by `kid`.

Every key in the table is published in the JWKS, so a token signed by one replica verifies on
every other, and tokens signed with a previous key stay valid until it is retired. The key
with the latest `signs_from` that has come signs. Each replica reads the table again every
`GATEWAY_KEYS_REFRESH_SECONDS` (and at once, at most every second, on meeting an unknown kid),
so a rotation reaches every replica within that time: a rotated key is published first and
signs only after every replica has read it, so no service meets a kid its gateway does not
publish yet. The private keys are stored encrypted (AES-256-GCM, as `common.sealing` seals
personal data) with `GATEWAY_KEYS_ENCRYPTION_KEY`.

The first key is made by `python -m common.migrate` (`gateway.identity.bootstrap`), never by a
replica. `python -m gateway.keys rotate` adds a key, `retire KID` removes one once its tokens
have expired, `list` shows them, and `import PEM…` publishes keys from PEM files (the keys
folder of a gateway before 2026-12, `GATEWAY_KEYS_DIR`), so that their tokens stay valid.
"""

import argparse
import base64
import binascii
import hashlib
import logging
import secrets
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol, TypeVar

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jose import jwk, jwt
from sqlalchemy import Engine, delete
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session, col, select

from common.auth import ALGORITHM
from common.clock import utcnow
from common.db import make_engine, normalise_url, reader
from common.problem_codes import Code
from common.problems import ServiceUnavailable
from common.sealing import KEY_ID_PATTERN, Keyring, PersonalDataKeyError
from common.settings import DEV_SECRET_MARKER
from gateway.models import SigningKey
from gateway.settings import GatewaySettings

log = logging.getLogger("ishc.gateway.keys")

PURPOSE = "signing_keys.private_key"
"""What a sealed private key is bound to, with its kid: a key copied to another row does not
open."""
SIGNS_AT_ONCE = datetime(2000, 1, 1, tzinfo=UTC)
"""The `signs_from` of a key that may sign as soon as it is read: the first one, and imported
ones (long past on any clock, a process whose clock the tests shift included)."""
PUBLISH_MARGIN_SECONDS = 2.0
"""A rotated key signs this long after every replica has read it: clocks a little apart."""
UNKNOWN_KID_REFRESH_SECONDS = 1.0
"""An unknown kid reads the keys again at most this often, so forged kids cannot flood the
database."""
BARE_KEY_ID = "main"
DEV_KEY_ID = "dev"
KEY_BYTES = 32


class KeyEncryptionError(ValueError):
    """`GATEWAY_KEYS_ENCRYPTION_KEY` is malformed, or does not open a stored key."""


def _encryption_keys(text: str) -> dict[str, bytes]:
    """The setting as keys by id, the one that encrypts first: `id:base64key[,…]`, a bare
    base64 key (id `main`), or a development secret (a key derived from it)."""
    if text.startswith(DEV_SECRET_MARKER):
        return {DEV_KEY_ID: hashlib.sha256(text.encode()).digest()}
    items = [item.strip() for item in text.split(",") if item.strip()]
    if len(items) == 1 and ":" not in items[0]:
        items = [f"{BARE_KEY_ID}:{items[0]}"]
    keys: dict[str, bytes] = {}
    for number, item in enumerate(items, start=1):
        key_id, _, encoded = item.partition(":")
        try:
            key = base64.b64decode(encoded.replace("-", "+").replace("_", "/") + "==")
        except binascii.Error:
            key = b""
        if not KEY_ID_PATTERN.fullmatch(key_id) or key_id in keys or len(key) != KEY_BYTES:
            raise KeyEncryptionError(
                "GATEWAY_KEYS_ENCRYPTION_KEY: write `id:key[,id:key…]`, each id once (1–20 "
                f"letters, digits, - or _), each key 32 bytes in base64 (item {number} is not)"
            )
        keys[key_id] = key
    if not keys:
        raise KeyEncryptionError("GATEWAY_KEYS_ENCRYPTION_KEY is empty")
    return keys


class KeyEncryption:
    """Seals and opens the private keys with `GATEWAY_KEYS_ENCRYPTION_KEY`'s keys."""

    def __init__(self, setting: str) -> None:
        keys = _encryption_keys(setting)
        # The personal-data keyring's AES-GCM sealing, without its blind index.
        self._keyring = Keyring(keys, next(iter(keys)), index_key=b"")

    def seal(self, kid: str, pem: bytes) -> str:
        return self._keyring.seal(pem.decode("ascii"), f"{PURPOSE}:{kid}")

    def open(self, kid: str, sealed: str) -> bytes:
        try:
            return self._keyring.open(sealed, f"{PURPOSE}:{kid}").encode("ascii")
        except PersonalDataKeyError as exc:
            raise KeyEncryptionError(f"signing key {kid}: {exc}") from None


def new_kid() -> str:
    """Kids start with their creation time, so they sort as they were made."""
    return datetime.now(UTC).strftime("k%Y%m%dT%H%M%S") + "-" + secrets.token_hex(3)


def _new_private_pem() -> bytes:
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def add_key(
    session: Session,
    encryption: KeyEncryption,
    signs_from: datetime,
    pem: bytes | None = None,
    kid: str | None = None,
) -> str:
    """Adds a key (a new one unless `pem` is given) to the session; returns its kid. The
    caller commits."""
    kid = kid or new_kid()
    pem = pem or _new_private_pem()
    session.add(SigningKey(kid=kid, private_key=encryption.seal(kid, pem), signs_from=signs_from))
    return kid


def ensure_first_key(session: Session, encryption: KeyEncryption) -> str | None:
    """The first key, if there is none (the bootstrap, in its serialised transaction); its
    kid, or None when keys exist."""
    if session.exec(select(SigningKey.kid).limit(1)).first() is not None:
        return None
    return add_key(session, encryption, SIGNS_AT_ONCE)


class _Dated(Protocol):
    @property
    def kid(self) -> str: ...
    @property
    def signs_from(self) -> datetime: ...
    @property
    def created_at(self) -> datetime: ...


Dated = TypeVar("Dated", bound=_Dated)


def signer(keys: Iterable[Dated], now: datetime) -> Dated | None:
    """The key that signs at `now`: of those whose time has come, the latest to begin (then
    the latest made)."""
    due = [key for key in keys if key.signs_from <= now]
    return max(due, key=lambda key: (key.signs_from, key.created_at, key.kid), default=None)


@dataclass(frozen=True)
class _Key:
    kid: str
    signs_from: datetime
    created_at: datetime
    private_pem: str
    public_jwk: dict[str, Any]


class KeyStore:
    """The signing keys as this replica last read them from the database."""

    def __init__(self, engine: Engine, settings: GatewaySettings) -> None:
        self.engine = engine
        self.encryption = KeyEncryption(settings.keys_encryption_key)
        self.refresh_seconds = settings.keys_refresh_seconds
        self._keys: dict[str, _Key] = {}
        self._read_at = float("-inf")
        self._retirements = 0
        self._lock = threading.Lock()

    def _fresh(self, max_age: float) -> dict[str, _Key]:
        if time.monotonic() - self._read_at >= max_age:
            with self._lock:
                if time.monotonic() - self._read_at >= max_age:
                    self._read()
        return self._keys

    def _read(self) -> None:
        columns = (
            SigningKey.kid,
            SigningKey.signs_from,
            SigningKey.created_at,
            SigningKey.private_key,
        )
        try:
            with Session(reader(self.engine)) as session:
                rows = session.exec(select(*columns)).all()
        except SQLAlchemyError as exc:
            if not self._keys:
                raise ServiceUnavailable(
                    "The token signing keys cannot be read.", code=Code.SIGNING_KEYS_UNAVAILABLE
                ) from exc
            log.warning("signing keys not read again (%s); keeping those read before", exc)
            self._read_at = time.monotonic()
            return
        keys: dict[str, _Key] = {}
        for kid, signs_from, created_at, sealed in rows:
            known = self._keys.get(kid)
            if known is not None and known.signs_from == signs_from:
                keys[kid] = known
                continue
            try:
                keys[kid] = self._opened(kid, signs_from, created_at, sealed)
            except KeyEncryptionError as exc:
                log.error("%s; the key is left out", exc)
        if self._keys.keys() - keys.keys():
            self._retirements += 1
        self._keys = keys
        self._read_at = time.monotonic()

    def _opened(self, kid: str, signs_from: datetime, created_at: datetime, sealed: str) -> _Key:
        pem = self.encryption.open(kid, sealed)
        private = serialization.load_pem_private_key(pem, password=None)
        public_pem = private.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        public_jwk = jwk.construct(public_pem, ALGORITHM).to_dict()
        public_jwk.update({"kid": kid, "use": "sig", "alg": ALGORITHM})
        return _Key(kid, signs_from, created_at, pem.decode("ascii"), public_jwk)

    def retirements(self) -> int:
        """A number that grows whenever this replica finds a key retired (read again when
        stale): what the token check remembers is forgotten then."""
        self._fresh(self.refresh_seconds)
        return self._retirements

    def public_keys(self) -> list[dict[str, Any]]:
        return [key.public_jwk for key in self._fresh(self.refresh_seconds).values()]

    def key_for(self, kid: str) -> dict[str, Any] | None:
        keys = self._fresh(self.refresh_seconds)
        if kid not in keys:
            keys = self._fresh(UNKNOWN_KID_REFRESH_SECONDS)
        key = keys.get(kid)
        return key.public_jwk if key else None

    def sign(self, claims: dict[str, Any]) -> str:
        key = signer(self._fresh(self.refresh_seconds).values(), utcnow())
        if key is None:
            raise ServiceUnavailable(
                "No token signing key: `python -m common.migrate` makes the first one.",
                code=Code.SIGNING_KEYS_UNAVAILABLE,
            )
        token: str = jwt.encode(
            claims, key.private_pem, algorithm=ALGORITHM, headers={"kid": key.kid}
        )
        return token


def _rows(session: Session) -> list[SigningKey]:
    return list(session.exec(select(SigningKey).order_by(col(SigningKey.created_at))).all())


def rotate(session: Session, settings: GatewaySettings) -> tuple[str, datetime]:
    """A new key, published by every replica within the refresh time and signing just after;
    returns its kid and when it begins to sign. The caller commits."""
    signs_from = utcnow() + timedelta(seconds=settings.keys_refresh_seconds)
    signs_from += timedelta(seconds=PUBLISH_MARGIN_SECONDS)
    kid = add_key(session, KeyEncryption(settings.keys_encryption_key), signs_from)
    return kid, signs_from


def retire(session: Session, kid: str) -> None:
    """Removes a key: its tokens stop working on every replica within the refresh time.
    Refuses an unknown kid, and the last key that can sign now."""
    rows = _rows(session)
    if kid not in {row.kid for row in rows}:
        raise SystemExit(f"no signing key {kid!r}")
    if signer([row for row in rows if row.kid != kid], utcnow()) is None:
        raise SystemExit(f"refusing to retire {kid}: no other key could sign now; rotate first")
    session.execute(delete(SigningKey).where(col(SigningKey.kid) == kid))


def import_pem(session: Session, encryption: KeyEncryption, path: Path) -> str | None:
    """Publishes the key in a PEM file (its name without `.pem` is its kid); None if a key of
    that kid is there already. It signs only if no key newer than the file does."""
    kid = path.name.removesuffix(".pem")
    if session.get(SigningKey, kid) is not None:
        return None
    pem = path.read_bytes()
    serialization.load_pem_private_key(pem, password=None)  # a file that is no key stops here
    made = datetime.fromtimestamp(path.stat().st_mtime, UTC)
    session.add(
        SigningKey(
            kid=kid,
            private_key=encryption.seal(kid, pem),
            signs_from=SIGNS_AT_ONCE,
            created_at=min(made, utcnow()),
        )
    )
    return kid


def main() -> None:
    parser = argparse.ArgumentParser(description="Manage the gateway's token signing keys.")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("list", help="list the keys and which one signs")
    commands.add_parser("rotate", help="add a key that signs once every replica publishes it")
    retire_command = commands.add_parser("retire", help="remove a key (its tokens stop working)")
    retire_command.add_argument("kid")
    import_command = commands.add_parser("import", help="publish keys from PEM files, once")
    import_command.add_argument("pem", nargs="+", type=Path, help="files named <kid>.pem")
    args = parser.parse_args()
    settings = GatewaySettings()
    engine = make_engine(normalise_url(settings.database_url))
    try:
        with Session(engine) as session:
            if args.command == "rotate":
                kid, signs_from = rotate(session, settings)
                session.commit()
                print(f"{kid} (published now; signs from {signs_from.isoformat()})")
            elif args.command == "retire":
                retire(session, args.kid)
                session.commit()
                print(f"retired {args.kid}")
            elif args.command == "import":
                encryption = KeyEncryption(settings.keys_encryption_key)
                for path in args.pem:
                    imported = import_pem(session, encryption, path)
                    print(f"imported {imported}" if imported else f"{path.name}: already there")
                session.commit()
            else:
                rows = _rows(session)
                signing = signer(rows, utcnow())
                for row in rows:
                    when = "signing" if row is signing else ""
                    if row.signs_from > utcnow():
                        when = f"signs from {row.signs_from.isoformat()}"
                    print(row.kid, f"({when})" if when else "")
    finally:
        engine.dispose()


if __name__ == "__main__":
    main()
