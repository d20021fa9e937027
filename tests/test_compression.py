"""Gzip both ways, through the gateway: bodies sent with `Content-Encoding: gzip` are read
(within the body limit once unpacked), answers are compressed for clients that ask."""

import gzip
import json
import uuid

import httpx
import pytest

from tests.factories import club_payload
from tests.support import Api, assert_problem
from tests.test_bank_loans import BATCHES, record


def _gzipped(body: object) -> bytes:
    return gzip.compress(json.dumps(body).encode())


@pytest.fixture(scope="module")
def bank(api: Api) -> httpx.Client:
    return api.client(api.client_token(*api.create_client("bank", bank_code="VBSP")))


def test_a_gzipped_batch_is_read_as_the_plain_one(bank: httpx.Client) -> None:
    records = [record() for _ in range(50)]
    body = _gzipped({"records": records})
    assert len(body) < len(json.dumps({"records": records})) / 2
    answer = bank.post(
        BATCHES,
        params={"mode": "atomic"},
        content=body,
        headers={
            "Content-Type": "application/json",
            "Content-Encoding": "gzip",
            "Idempotency-Key": str(uuid.uuid4()),
        },
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["counts"]["created"] == 50


def test_a_gzipped_write_to_the_registry_and_its_refusals(admin: httpx.Client) -> None:
    headers = {"Content-Type": "application/json", "Content-Encoding": "gzip"}
    created = admin.post("/api/v1/clubs", content=_gzipped(club_payload()), headers=headers)
    assert created.status_code == 201, created.text
    refused = admin.post(
        "/api/v1/clubs", content=_gzipped(club_payload(province_code="99")), headers=headers
    )
    assert_problem(refused, 422, "province_code")
    assert_problem(admin.post("/api/v1/clubs", content=b"not gzip", headers=headers), 400)
    bomb = gzip.compress(b" " * (17 * 1024 * 1024))  # unpacks past the 16 MiB body limit
    assert len(bomb) < 100_000
    assert_problem(admin.post("/api/v1/clubs", content=bomb, headers=headers), 413)
    brotli = {**headers, "Content-Encoding": "br"}
    assert_problem(admin.post("/api/v1/clubs", content=b"x", headers=brotli), 415)


def test_answers_are_compressed_only_for_clients_that_ask(api: Api, admin: httpx.Client) -> None:
    for path in ("/api/v1/locations/provinces", "/openapi.json"):
        asked = admin.get(path, headers={"Accept-Encoding": "gzip"})
        assert asked.status_code == 200 and asked.headers["content-encoding"] == "gzip", path
        assert asked.json()  # httpx unpacks it
        plain = admin.get(path, headers={"Accept-Encoding": "identity"})
        assert "content-encoding" not in plain.headers, path
        assert plain.json() == asked.json()
