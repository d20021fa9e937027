"""The idempotency claim on the real database backend, including the race it must survive."""

import secrets
from concurrent.futures import ThreadPoolExecutor

import orjson
import pytest
from sqlalchemy import MetaData, func, select
from sqlalchemy.engine import Engine
from sqlmodel import Session
from starlette.responses import Response

from common.db import make_engine, normalise_url
from common.idempotency import (
    COMPLETED,
    IdempotentReplay,
    IdempotentRequest,
    _claim,
    _release,
    idempotency_table,
)
from common.problems import Conflict, ValidationFailed
from tools.stack import Stack


@pytest.fixture(scope="module")
def engine(stack: Stack) -> Engine:
    return make_engine(normalise_url(stack.database_urls["gateway"]))


@pytest.fixture(scope="module")
def table(engine: Engine):
    return idempotency_table(MetaData())


def test_a_request_still_running_makes_its_retry_wait_with_409(engine, table) -> None:
    client = "client:" + secrets.token_hex(4)
    _claim(engine, table, client, "k1", "hash-a")
    with pytest.raises(Conflict) as raised:
        _claim(engine, table, client, "k1", "hash-a")
    assert raised.value.headers["Retry-After"] == "1"


def test_the_same_key_with_another_body_is_refused(engine, table) -> None:
    client = "client:" + secrets.token_hex(4)
    _claim(engine, table, client, "k1", "hash-a")
    with pytest.raises(ValidationFailed):
        _claim(engine, table, client, "k1", "hash-b")


def test_a_finished_request_is_replayed(engine, table) -> None:
    client = "client:" + secrets.token_hex(4)
    row_id = _claim(engine, table, client, "k1", "hash-a")
    with engine.begin() as connection:
        connection.execute(
            table.update()
            .where(table.c.id == row_id)
            .values(state=COMPLETED, status_code=201, response_body='{"id": 5}')
        )
    with pytest.raises(IdempotentReplay) as raised:
        _claim(engine, table, client, "k1", "hash-a")
    assert raised.value.response.status_code == 201 and raised.value.response.body == b'{"id": 5}'


def test_a_released_key_can_be_claimed_again(engine, table) -> None:
    client = "client:" + secrets.token_hex(4)
    row_id = _claim(engine, table, client, "k1", "hash-a")
    _release(engine, table, row_id)
    assert _claim(engine, table, client, "k1", "hash-a")


def test_concurrent_claims_of_one_key_let_exactly_one_through(engine, table) -> None:
    client = "client:" + secrets.token_hex(4)

    def claim(_: int) -> str:
        try:
            _claim(engine, table, client, "race", "hash-a")
        except Conflict:
            return "conflict"
        return "claimed"

    with ThreadPoolExecutor(max_workers=8) as pool:
        outcomes = list(pool.map(claim, range(8)))
    assert outcomes.count("claimed") == 1 and outcomes.count("conflict") == 7
    with engine.connect() as connection:
        rows = connection.execute(select(table).where(table.c.client == client)).all()
    assert len(rows) == 1


def test_a_large_answer_is_stored_with_lz4_and_replayed_intact(engine, table) -> None:
    client = "client:" + secrets.token_hex(4)
    row_id = _claim(engine, table, client, "batch", "hash-a")
    body = orjson.dumps({"results": [{"index": n, "outcome": "created"} for n in range(5_000)]})
    with Session(engine) as session:
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
    with pytest.raises(IdempotentReplay) as raised:
        _claim(engine, table, client, "batch", "hash-a")
    assert raised.value.response.body == body
