"""RS256 signing keys, kept as PEM files outside version control, rotatable by `kid`.

The newest key signs; every key in the folder is published in the JWKS, so tokens signed with
a previous key stay valid until it is retired. Rotate with `python -m gateway.keys rotate`,
retire with `python -m gateway.keys retire KID` once its tokens have expired.
"""

import argparse
import os
import secrets
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jose import jwk, jwt

from common.auth import ALGORITHM

KEY_SUFFIX = ".pem"


def _new_kid() -> str:
    return datetime.now(UTC).strftime("k%Y%m%dT%H%M%S") + "-" + secrets.token_hex(3)


def create_key(keys_dir: Path) -> str:
    """Writes a new 2048-bit RSA key readable only by its owner; returns its kid."""
    keys_dir.mkdir(parents=True, exist_ok=True)
    kid = _new_kid()
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    path = keys_dir / f"{kid}{KEY_SUFFIX}"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(pem)
    return kid


class KeyStore:
    """The signing keys of this gateway, reloaded from disk when a rotation is noticed."""

    def __init__(self, keys_dir: str | Path) -> None:
        self.keys_dir = Path(keys_dir)
        self._private: dict[str, bytes] = {}
        self._public: dict[str, dict[str, Any]] = {}
        self._dir_mtime = 0
        self._lock = threading.Lock()

    def ensure_key(self) -> None:
        """Creates the first key on first start."""
        if not list(self.keys_dir.glob(f"*{KEY_SUFFIX}")):
            create_key(self.keys_dir)
        self.load()

    def _refresh_if_rotated(self) -> None:
        """Reloads when a key was added or retired; a stat is cheap next to an RSA signature."""
        mtime = self.keys_dir.stat().st_mtime_ns
        if mtime != self._dir_mtime:
            with self._lock:
                self.load()

    def load(self) -> None:
        mtime = self.keys_dir.stat().st_mtime_ns
        private, public = {}, {}
        for path in sorted(self.keys_dir.glob(f"*{KEY_SUFFIX}")):
            kid = path.name.removesuffix(KEY_SUFFIX)
            pem = path.read_bytes()
            key = serialization.load_pem_private_key(pem, password=None)
            public_pem = key.public_key().public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
            public_jwk = jwk.construct(public_pem, ALGORITHM).to_dict()
            public_jwk.update({"kid": kid, "use": "sig", "alg": ALGORITHM})
            private[kid], public[kid] = pem, public_jwk
        if not private:
            raise RuntimeError(f"no signing key in {self.keys_dir}")
        self._private, self._public = private, public
        self._dir_mtime = mtime

    @property
    def active_kid(self) -> str:
        # kids start with their creation time, so the greatest is the newest.
        return max(self._private)

    def public_keys(self) -> list[dict[str, Any]]:
        self._refresh_if_rotated()
        return list(self._public.values())

    def key_for(self, kid: str) -> dict[str, Any] | None:
        if kid not in self._public:
            self._refresh_if_rotated()
        return self._public.get(kid)

    def sign(self, claims: dict[str, Any]) -> str:
        self._refresh_if_rotated()
        kid = self.active_kid
        token: str = jwt.encode(
            claims, self._private[kid].decode(), algorithm=ALGORITHM, headers={"kid": kid}
        )
        return token


def main() -> None:
    from gateway.settings import GatewaySettings

    parser = argparse.ArgumentParser(description="Manage the gateway's token signing keys.")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("list", help="list the keys; the last one signs")
    commands.add_parser("rotate", help="create a new signing key")
    retire = commands.add_parser("retire", help="delete a key (its tokens stop working)")
    retire.add_argument("kid")
    args = parser.parse_args()
    keys_dir = Path(GatewaySettings().keys_dir)
    if args.command == "rotate":
        print(create_key(keys_dir))
    elif args.command == "retire":
        store = KeyStore(keys_dir)
        store.load()
        if args.kid == store.active_kid and len(store.public_keys()) == 1:
            raise SystemExit("refusing to retire the only key; rotate first")
        (keys_dir / f"{args.kid}{KEY_SUFFIX}").unlink()
        print(f"retired {args.kid}")
    else:
        store = KeyStore(keys_dir)
        store.load()
        for key in store.public_keys():
            print(key["kid"], "(signing)" if key["kid"] == store.active_kid else "")


if __name__ == "__main__":
    main()
