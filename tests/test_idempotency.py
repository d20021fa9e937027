"""The idempotency claim on the real database backend, including the race it must survive."""

import secrets
import threading
from concurrent.futures import ThreadPoolExecutor

import orjson
import pytest
from sqlalchemy import MetaData, func, select
from sqlalchemy.engine import Engine
from sqlmodel import Session
from starlette.responses import Response

from common.db import make_engine, normalise_url
from common.idempotency import (
    IdempotencyKeyReused,
    IdempotentReplay,
    IdempotentRequest,
    _claim,
    idempotency_table,
)
from tools.stack import Stack


@pytest.fixture(scope="module")
def engine(stack: Stack) -> Engine:
    return make_engine(normalise_url(stack.database_urls["gateway"]))


@pytest.fixture(scope="module")
def table(engine: Engine):
    return idempotency_table(MetaData())


def _finish(engine: Engine, table, client: str, key: str, request_hash: str, body: bytes) -> None:
    """A whole request: claims the key, stores its answer, commits."""
    with Session(engine) as session:
        row_id = _claim(session, table, client, key, request_hash)
        IdempotentRequest(table, row_id).remember(session, Response(body, status_code=201))
        session.commit()


def _keys(engine: Engine, table, client: str) -> int:
    with engine.connect() as connection:
        return len(connection.execute(select(table).where(table.c.client == client)).all())


def test_a_finished_request_is_replayed(engine, table) -> None:
    client = "client:" + secrets.token_hex(4)
    _finish(engine, table, client, "k1", "hash-a", b'{"id": 5}')
    with Session(engine) as session, pytest.raises(IdempotentReplay) as raised:
        _claim(session, table, client, "k1", "hash-a")
    assert raised.value.response.status_code == 201 and raised.value.response.body == b'{"id": 5}'


def test_the_same_key_with_another_request_says_what_became_of_the_first(engine, table) -> None:
    client = "client:" + secrets.token_hex(4)
    _finish(engine, table, client, "k1", "hash-a", b'{"id": 5}')
    with Session(engine) as session, pytest.raises(IdempotencyKeyReused) as raised:
        _claim(session, table, client, "k1", "hash-b")
    assert raised.value.extensions["first_request"] == {"state": "stored", "status": 201}
    assert raised.value.status == 422 and raised.value.slug == "idempotency-key-reused"


def test_a_request_that_failed_leaves_its_key_free(engine, table) -> None:
    """Refused, failed or killed: its transaction rolls back, and the claim with it."""
    client = "client:" + secrets.token_hex(4)
    with Session(engine) as session:
        _claim(session, table, client, "k1", "hash-a")
        session.rollback()
    assert _keys(engine, table, client) == 0
    _finish(engine, table, client, "k1", "hash-a", b'{"id": 6}')
    assert _keys(engine, table, client) == 1


def test_a_retry_during_the_first_request_waits_for_its_answer(engine, table) -> None:
    client = "client:" + secrets.token_hex(4)
    claimed, waited = threading.Event(), []
    with Session(engine) as first:
        row_id = _claim(first, table, client, "k1", "hash-a")

        def retry() -> None:
            claimed.set()
            with Session(engine) as session:
                try:
                    _claim(session, table, client, "k1", "hash-a")
                except IdempotentReplay as replay:
                    waited.append(replay.response.body)

        thread = threading.Thread(target=retry)
        thread.start()
        claimed.wait()
        IdempotentRequest(table, row_id).remember(first, Response(b'{"id": 7}', status_code=201))
        first.commit()
        thread.join(timeout=30)
    assert waited == [b'{"id": 7}']


def test_concurrent_requests_with_one_key_write_once_and_share_the_answer(engine, table) -> None:
    client = "client:" + secrets.token_hex(4)
    ran = []

    def request(n: int) -> bytes:
        try:
            with Session(engine) as session:
                row_id = _claim(session, table, client, "race", "hash-a")
                ran.append(n)
                body = orjson.dumps({"id": n})
                IdempotentRequest(table, row_id).remember(session, Response(body))
                session.commit()
                return body
        except IdempotentReplay as replay:
            return bytes(replay.response.body)

    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(request, range(8)))
    assert len(ran) == 1
    assert set(answers) == {orjson.dumps({"id": ran[0]})}
    assert _keys(engine, table, client) == 1


def test_a_large_answer_is_stored_with_lz4_and_replayed_intact(engine, table) -> None:
    client = "client:" + secrets.token_hex(4)
    body = orjson.dumps({"results": [{"index": n, "outcome": "created"} for n in range(5_000)]})
    with Session(engine) as session:
        row_id = _claim(session, table, client, "batch", "hash-a")
        IdempotentRequest(table, row_id).remember(session, Response(body))
        session.commit()
    if engine.dialect.name == "postgresql":
        with engine.connect() as connection:
            method = connection.execute(
                select(func.pg_column_compression(table.c.response_body)).where(
                    table.c.id == row_id
                )
            ).scalar_one()
        assert method == "lz4"
    with Session(engine) as session, pytest.raises(IdempotentReplay) as raised:
        _claim(session, table, client, "batch", "hash-a")
    assert raised.value.response.body == body
