"""Gateway replicas share everything a request needs, through their database.

Two gateway processes on one database: a token one signs works on the other, their JWKS is
the same, a rotation and a retirement reach both; failed logins through both are counted
exactly. The migration step bootstraps once, however many run at once.
"""

import contextlib
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path

import httpx
import pytest
from argon2 import PasswordHasher
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jose import jwt
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from common import sealing
from common.db import make_engine, normalise_url
from gateway.keys import KeyEncryption, KeyEncryptionError
from gateway.models import ApiClient, LoginFailure, SigningKey, User
from tests.conftest import ADMIN_PASSWORD, BACKEND, TEST_SETTINGS, _database_urls
from tests.support import Api, assert_problem, postgres_databases, token_parts, wait_until
from tools.stack import FACTORIES, ROOT, Stack, free_port

ENCRYPTION_KEY = f"test:{sealing.new_key()}"
"""A real key (not the development secret) for the private keys at rest."""
FREE_FAILURES = 30
"""The replicas here block a login after this many failures: the concurrent ones all count."""
CONCURRENT_LOGINS = 10
"""Failed logins in flight at once, through both replicas."""


def migrate_gateway(env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "common.migrate", "gateway"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def gateway_keys(replica: Stack, *args: str) -> subprocess.CompletedProcess[str]:
    """`python -m gateway.keys …` against the replicas' database."""
    return subprocess.run(
        [sys.executable, "-m", "gateway.keys", *args],
        cwd=ROOT,
        env=replica.env(),
        capture_output=True,
        text=True,
    )


@pytest.fixture(scope="module")
def replicas(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Stack, Stack]]:
    """Two web replicas of the gateway on a database of their own, migrated once."""
    tmp = tmp_path_factory.mktemp("replicas")
    for urls in _database_urls(tmp, "replicas"):
        settings = {
            **TEST_SETTINGS,
            "GATEWAY_KEYS_ENCRYPTION_KEY": ENCRYPTION_KEY,
            "GATEWAY_LOGIN_FREE_FAILURES": str(FREE_FAILURES),
            "GATEWAY_PROCESS": "web",
        }
        ports = {component: free_port() for component in FACTORIES}  # no service listens
        pair = tuple(
            Stack(
                database_urls=urls,
                ports={**ports, "gateway": free_port()},
                var_dir=tmp,
                admin_password=ADMIN_PASSWORD,
                extra_env=settings,
            )
            for _ in range(2)
        )
        migration = migrate_gateway(pair[0].env())
        _, errors = migration.communicate(timeout=300)
        assert migration.returncode == 0, errors
        try:
            for replica in pair:
                replica.start(["gateway"], log_dir=tmp / "logs")
            yield pair[0], pair[1]
        finally:
            for replica in pair:
                replica.stop()


def admin_token(replica: Stack) -> str:
    return Api(replica.gateway_url, ADMIN_PASSWORD).admin_token


def me(replica: Stack, token: str) -> httpx.Response:
    return httpx.get(replica.gateway_url + "/auth/me", headers={"Authorization": f"Bearer {token}"})


def kid_of(token: str) -> str:
    kid: str = token_parts(token)[0]["kid"]
    return kid


def published(replica: Stack) -> dict[str, dict]:
    keys = httpx.get(replica.gateway_url + "/.well-known/jwks.json").json()["keys"]
    return {key["kid"]: key for key in keys}


def publishes(replica: Stack, kid: str) -> bool:
    return kid in published(replica)


def signed_with(replica: Stack, kid: str) -> str | None:
    """A new token from the replica, if it is signed with that key."""
    token = admin_token(replica)
    return token if kid_of(token) == kid else None


def accepts(replica: Stack, token: str) -> bool:
    return me(replica, token).status_code == 200


def refuses(replica: Stack, token: str) -> bool:
    return me(replica, token).status_code == 401


def test_a_token_from_one_replica_works_on_the_other(replicas: tuple[Stack, Stack]) -> None:
    a, b = replicas
    for signer, other in ((a, b), (b, a)):
        token = admin_token(signer)
        assert me(other, token).json()["subject"] == "user:admin"
        users = httpx.get(
            other.gateway_url + "/api/v1/users", headers={"Authorization": f"Bearer {token}"}
        )
        assert users.status_code == 200, users.text


def test_every_replica_publishes_the_same_keys(replicas: tuple[Stack, Stack]) -> None:
    a, b = replicas
    assert published(a) and published(a) == published(b)


def test_a_rotation_and_a_retirement_reach_every_replica(replicas: tuple[Stack, Stack]) -> None:
    a, b = replicas
    old_token = admin_token(a)
    assert me(b, old_token).status_code == 200  # remembered by B's token check from now on
    rotated = gateway_keys(a, "rotate")
    assert rotated.returncode == 0, rotated.stderr
    new_kid = rotated.stdout.split()[0]
    for replica in replicas:
        wait_until(partial(publishes, replica, new_kid), "every replica to publish the key", 30)
    new_tokens = [wait_until(partial(signed_with, r, new_kid), "the new key", 30) for r in (a, b)]
    assert published(a) == published(b)
    for replica in replicas:
        assert me(replica, old_token).status_code == 200  # the old key's tokens stay valid
        for token in new_tokens:
            assert me(replica, token).status_code == 200

    retired = gateway_keys(b, "retire", kid_of(old_token))
    assert retired.returncode == 0, retired.stderr
    for replica in replicas:
        wait_until(partial(refuses, replica, old_token), "the retirement", 30)
        assert kid_of(old_token) not in published(replica)
        for token in new_tokens:
            assert me(replica, token).status_code == 200


def test_keys_of_a_keys_folder_are_imported_once_and_their_tokens_verify(
    replicas: tuple[Stack, Stack], tmp_path: Path
) -> None:
    a, b = replicas
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    kid = "k20261101T080000-0a1b2c"
    path = tmp_path / f"{kid}.pem"
    path.write_bytes(pem)
    made = time.time() - 30 * 86400  # as a gateway's keys folder of last month had it
    os.utime(path, (made, made))
    first = gateway_keys(a, "import", str(path))
    assert first.returncode == 0 and f"imported {kid}" in first.stdout, first.stderr
    again = gateway_keys(b, "import", str(path))
    assert again.returncode == 0 and "already there" in again.stdout, again.stderr

    # A token the old gateway signed with it still works, on every replica.
    claims = token_parts(admin_token(a))[1]
    old_token = jwt.encode(claims, pem.decode(), algorithm="RS256", headers={"kid": kid})
    for replica in replicas:
        wait_until(partial(accepts, replica, old_token), "the imported key", 30)
    # It is published, and the database's newer key keeps signing.
    assert kid in published(a) and kid in published(b)
    assert kid_of(admin_token(a)) != kid


def test_failed_logins_through_two_replicas_are_counted_exactly(
    replicas: tuple[Stack, Stack],
) -> None:
    a = replicas[0]
    username, password = Api(a.gateway_url, ADMIN_PASSWORD).create_user("officer", provinces=["15"])

    def log_in(through: Stack, given: str) -> httpx.Response:
        data = {"grant_type": "password", "username": username, "password": given}
        return httpx.post(through.gateway_url + "/auth/token", data=data, timeout=60)

    with ThreadPoolExecutor(max_workers=CONCURRENT_LOGINS) as pool:
        answers = list(
            pool.map(lambda n: log_in(replicas[n % 2], f"wrong-{n}"), range(FREE_FAILURES))
        )
    assert [answer.status_code for answer in answers] == [401] * FREE_FAILURES
    engine = make_engine(normalise_url(a.database_urls["gateway"]))
    try:
        with Session(engine) as session:
            counted = session.exec(
                select(LoginFailure.failures).where(
                    col(LoginFailure.identity).startswith(f"user:{username} from ")
                )
            ).all()
    finally:
        engine.dispose()
    assert counted == [FREE_FAILURES]
    # The last failure blocked the next try on both replicas, the right password too.
    for replica in replicas:
        refused = assert_problem(log_in(replica, password), 429)
        assert refused["code"] == "too_many_failed_logins"


@contextlib.contextmanager
def fresh_gateway_database(tmp: Path) -> Iterator[str]:
    if BACKEND == "postgres":
        with postgres_databases(os.environ["TEST_POSTGRES_URL"], ["gateway"], "boot") as urls:
            yield urls["gateway"]
    else:
        yield f"sqlite:///{tmp / 'gateway.db'}"


@contextlib.contextmanager
def engine_of(url: str) -> Iterator[Engine]:
    engine = make_engine(normalise_url(url))
    try:
        yield engine
    finally:
        engine.dispose()


def test_two_migrations_at_once_make_one_admin_one_key_and_print_the_stored_password(
    tmp_path: Path,
) -> None:
    with fresh_gateway_database(tmp_path) as url:
        env = {
            **os.environ,
            "GATEWAY_DATABASE_URL": url,
            "GATEWAY_KEYS_ENCRYPTION_KEY": ENCRYPTION_KEY,
        }
        for name in ("ISHC_ADMIN_PASSWORD", "GATEWAY_ADMIN_PASSWORD"):
            env.pop(name, None)  # so that the bootstrap makes one up and prints it
        runs = [migrate_gateway(env) for _ in range(2)]
        outputs = [run.communicate(timeout=300) for run in runs]
        assert [run.returncode for run in runs] == [0, 0], outputs
        printed = [
            found for out, _ in outputs for found in re.findall(r"with the password '([^']+)'", out)
        ]
        assert len(printed) == 1, outputs

        with engine_of(url) as engine, Session(engine) as session:
            admins = session.exec(select(User).where(User.role == "admin")).all()
            clients = session.exec(select(ApiClient.client_id)).all()
            keys = session.exec(select(SigningKey)).all()
        assert len(admins) == 1
        assert PasswordHasher().verify(admins[0].password_hash, printed[0])
        assert sorted(clients) == ["svc-clubs", "svc-funding", "svc-loans"]
        assert len(keys) == 1
        # Encrypted at rest with the configured key, bound to its kid.
        (key,) = keys
        assert "PRIVATE KEY" not in key.private_key and key.private_key.startswith("test.")
        assert b"PRIVATE KEY" in KeyEncryption(ENCRYPTION_KEY).open(key.kid, key.private_key)
        with pytest.raises(KeyEncryptionError):
            KeyEncryption(f"test:{sealing.new_key()}").open(key.kid, key.private_key)
        with pytest.raises(KeyEncryptionError):
            KeyEncryption(ENCRYPTION_KEY).open("another-kid", key.private_key)

        again = migrate_gateway(env)
        out, errors = again.communicate(timeout=300)
        assert again.returncode == 0 and "Created" not in out, (out, errors)
        only_key = subprocess.run(
            [sys.executable, "-m", "gateway.keys", "retire", key.kid],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
        )
        assert only_key.returncode != 0 and "refusing" in only_key.stderr


def test_the_encryption_key_is_one_key_or_several_by_id() -> None:
    key = sealing.new_key()
    sealed = KeyEncryption(key).seal("k1", b"-----BEGIN PRIVATE KEY-----")
    assert sealed.startswith("main.")
    rotated = KeyEncryption(f"new:{sealing.new_key()},main:{key}")
    assert rotated.open("k1", sealed) == b"-----BEGIN PRIVATE KEY-----"
    assert rotated.seal("k2", b"x").startswith("new.")
    for malformed in ("", "a:short", f"a:{key},a:{key}", f"{key},{key}", f"a.b:{key}"):
        with pytest.raises(KeyEncryptionError):
            KeyEncryption(malformed)
