"""Personal data unreadable at rest: sealed values (AES-256-GCM) and blind indexes (HMAC).

Citizen IDs and phone numbers are stored sealed: `<key id>.<nonce, ciphertext and tag in
base64url>`, so a database dump, a backup or a copy of a table shows nothing a person could be
found by. The key id beside each value lets keys rotate without downtime (see
`docs/personal-data.md`): every key listed opens, the current one seals, and the `reseal`
command of each service moves old values to the current key.

What is sealed cannot be compared (each sealing draws a new nonce), so equality lookups use a
blind index: a keyed hash (HMAC-SHA256, with a key of its own, truncated to 128 bits) of the
normalised value. The clubs and loans services share the index key, so the loans service
matches the bank's borrowers to members by index, never holding a member's plain ID.

Each process is one component; its keys are configured once, from its settings, by
`configure` (the app, the migrations and the commands do it), and read by the column types.
"""

import base64
import binascii
import hashlib
import hmac
import json
import os
import re
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import String, Text
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

from common.settings import DEV_SECRET_MARKER, PersonalDataSettings

KEY_BYTES = 32
NONCE_BYTES = 12
INDEX_BYTES = 16
BLIND_INDEX_LENGTH = 22
"""Characters of a blind index: 16 bytes in base64url without padding."""
SEALED_ID_LENGTH = 80
"""Room for a sealed citizen ID or phone number (a 12-byte value seals to about 60 characters
with a key id of up to 20)."""
KEY_ID_PATTERN = re.compile(r"[A-Za-z0-9_-]{1,20}")
DEV_KEY_ID = "dev"


class PersonalDataKeyError(ValueError):
    """The personal-data keys are missing, malformed, or cannot open a stored value."""


_URL_SAFE = bytes.maketrans(b"+/", b"-_")


def _b64encode(raw: bytes) -> str:
    """base64url without padding (`binascii` directly: a batch encodes 20,000 of them)."""
    return binascii.b2a_base64(raw, newline=False).translate(_URL_SAFE).rstrip(b"=").decode()


def _b64decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _dev_key(secret: str) -> bytes:
    """A development secret (refused in production) stands for a key derived from it."""
    return hashlib.sha256(secret.encode()).digest()


def parse_keys(text: str) -> dict[str, bytes]:
    """`id:base64key[,id:base64key…]` (32-byte keys, base64 or base64url) as a key ring, in the
    order listed; a development secret (`dev-only-…`) is one key derived from it."""
    if text.startswith(DEV_SECRET_MARKER):
        return {DEV_KEY_ID: _dev_key(text)}
    keys: dict[str, bytes] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        key_id, _, encoded = item.partition(":")
        if not KEY_ID_PATTERN.fullmatch(key_id):
            raise PersonalDataKeyError(
                f"a personal-data key id must be 1–20 letters, digits, - or _ (got {key_id!r})"
            )
        try:
            key = _b64decode(encoded.strip().replace("+", "-").replace("/", "_").rstrip("="))
        except ValueError:
            key = b""
        if len(key) != KEY_BYTES:
            raise PersonalDataKeyError(f"personal-data key {key_id!r} must be 32 bytes in base64")
        if key_id in keys:
            raise PersonalDataKeyError(f"personal-data key {key_id!r} is listed twice")
        keys[key_id] = key
    if not keys:
        raise PersonalDataKeyError("no personal-data key is set")
    return keys


def parse_index_key(text: str) -> bytes:
    """The blind index's key: 32 bytes in base64, or a development secret."""
    if text.startswith(DEV_SECRET_MARKER):
        return _dev_key(text)
    try:
        key = _b64decode(text.strip().replace("+", "-").replace("/", "_").rstrip("="))
    except ValueError:
        key = b""
    if len(key) != KEY_BYTES:
        raise PersonalDataKeyError("the personal-data index key must be 32 bytes in base64")
    return key


def new_key() -> str:
    """A fresh key in the settings' format (for `make run` and the key-rotation steps)."""
    return _b64encode(os.urandom(KEY_BYTES))


class Keyring:
    """The keys of one component: those that open, the one that seals, the index key."""

    def __init__(self, keys: dict[str, bytes], current: str, index_key: bytes) -> None:
        if current not in keys:
            raise PersonalDataKeyError(
                f"the current personal-data key {current!r} is not among the keys listed"
            )
        self.current = current
        self.index_key = index_key
        # Keyed once: a copy per value spares HMAC's key schedule (a batch hashes 10,000).
        self._index_hmac = hmac.new(index_key, digestmod=hashlib.sha256)
        # One AESGCM per key: making one per value costs more than the sealing.
        self._ciphers = {key_id: AESGCM(key) for key_id, key in keys.items()}

    def seal(self, plain: str, purpose: str) -> str:
        """`plain` sealed with the current key; `purpose` (the column) is bound to it, so a
        value moved to another column does not open."""
        nonce = os.urandom(NONCE_BYTES)
        sealed = self._ciphers[self.current].encrypt(nonce, plain.encode(), purpose.encode())
        return f"{self.current}.{_b64encode(nonce + sealed)}"

    def open(self, sealed: str, purpose: str) -> str:
        key_id, _, body = sealed.partition(".")
        cipher = self._ciphers.get(key_id)
        if cipher is None:
            # Never the value itself in the message: a plain one would be a person's ID.
            if not body or not KEY_ID_PATTERN.fullmatch(key_id):
                raise PersonalDataKeyError("a stored value is not sealed")
            raise PersonalDataKeyError(
                f"a stored value is sealed with key {key_id!r}, which is not configured"
            )
        raw = _b64decode(body)
        try:
            plain = cipher.decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], purpose.encode())
        except InvalidTag:
            raise PersonalDataKeyError(
                f"a stored value does not open with key {key_id!r} (altered, or another key)"
            ) from None
        return plain.decode()

    def is_current(self, sealed: str) -> bool:
        return sealed.partition(".")[0] == self.current

    def blind_index(self, plain: str) -> str:
        """The keyed hash that equality lookups compare (of a normalised value)."""
        keyed = self._index_hmac.copy()
        keyed.update(plain.encode())
        return _b64encode(keyed.digest()[:INDEX_BYTES])


_keyring: Keyring | None = None


def configure(settings: PersonalDataSettings) -> Keyring:
    """Sets this process's keyring from its component's settings; malformed keys raise."""
    global _keyring
    keys = parse_keys(settings.personal_data_keys)
    current = settings.personal_data_key_id or next(iter(keys))
    _keyring = Keyring(keys, current, parse_index_key(settings.personal_data_index_key))
    return _keyring


def keyring() -> Keyring:
    if _keyring is None:
        raise PersonalDataKeyError("this process has not configured its personal-data keys")
    return _keyring


def blind_index(plain: str) -> str:
    return keyring().blind_index(plain)


class SealedValues(TypeDecorator[str]):
    """A text column of sealed values that the code writing it seals itself (bulk writes, such
    as COPY, pass by column types) and the code reading it opens. The type names the purpose,
    so that `common.reseal` finds every sealed column of a database."""

    impl = String
    cache_ok = True

    def __init__(self, purpose: str, length: int = SEALED_ID_LENGTH) -> None:
        super().__init__(length)
        self.purpose = purpose


class SealedString(SealedValues):
    """A text column whose values are stored sealed and read back plain.

    Compare such a column with nothing but NULL: a value sealed again never equals the stored
    one. Equality lookups go through the column's blind index."""

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:
        return None if value is None else keyring().seal(value, self.purpose)

    def process_result_value(self, value: str | None, dialect: Dialect) -> str | None:
        return None if value is None else keyring().open(value, self.purpose)


class SealedText(SealedString):
    """As `SealedString`, for text of any length (stored answers)."""

    impl = Text
    cache_ok = True

    def __init__(self, purpose: str) -> None:
        TypeDecorator.__init__(self)
        self.purpose = purpose


class SealedJSON(SealedValues):
    """A JSON value stored sealed (as text): audit snapshots that hold members' fields."""

    impl = Text
    cache_ok = True

    def __init__(self, purpose: str) -> None:
        TypeDecorator.__init__(self)
        self.purpose = purpose

    def process_bind_param(self, value: Any, dialect: Dialect) -> str | None:
        if value is None:
            return None
        return keyring().seal(json.dumps(value, ensure_ascii=False), self.purpose)

    def process_result_value(self, value: Any, dialect: Dialect) -> Any:
        return None if value is None else json.loads(keyring().open(value, self.purpose))
