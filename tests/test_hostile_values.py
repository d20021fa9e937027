"""A bank engineer's first day: hostile values through the gateway, each refused by its place.

Every JSON body is read strictly before a route sees it (`common/json_body.py`): numbers that
are not finite, duplicate keys, control and invisible characters are refused with the field;
text is stored in NFC; a byte-order mark is dropped; a retry re-serialised is a replay.
"""

import json
import random
import unicodedata
import uuid
from decimal import Decimal

import httpx
import pytest

from common.json_body import _read_thoroughly, _screened, canonical, read
from common.problems import Problem
from tests.factories import member_payload
from tests.support import Api, assert_problem
from tests.test_bank_loans import BANKS, BATCHES, record
from tests.test_loans import make_lending_club

JSON = {"Content-Type": "application/json"}


def _key() -> dict[str, str]:
    return {**JSON, "Idempotency-Key": str(uuid.uuid4())}


@pytest.fixture(scope="module")
def bank(api: Api) -> httpx.Client:
    return api.client(api.token_for("bank"))


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity", "1e400"])
def test_numbers_that_are_not_finite_are_refused_on_their_field(
    bank: httpx.Client, admin: httpx.Client, literal: str
) -> None:
    body = json.dumps(record()).replace("7.92", literal)
    for _ in range(3):  # and the platform stays up to answer each of them
        response = bank.post(BANKS, content=body, headers=_key())
        assert_problem(response, 422, "annual_interest_rate")
    club = make_lending_club(admin)
    capital = f'{{"amount": {literal}, "occurred_on": "2024-01-01", "origin": "seed"}}'
    response = admin.post(f"/api/v1/funds/{club['fund_id']}/capital", content=capital,
                          headers=JSON)  # fmt: skip
    assert_problem(response, 422, "amount")


@pytest.mark.parametrize(("literal", "amount"), [("2500000.0", 2_500_000), ("2.5e6", 2_500_000)])
def test_a_whole_number_written_with_a_fraction_is_that_integer(
    admin: httpx.Client, literal: str, amount: int
) -> None:
    # JSON has one kind of number: 2500000.0 is 2500000, what JSON Schema's "integer" admits
    club = make_lending_club(admin)
    capital = f'{{"amount": {literal}, "occurred_on": "2024-01-01", "origin": "seed"}}'
    response = admin.post(f"/api/v1/funds/{club['fund_id']}/capital", content=capital,
                          headers=JSON)  # fmt: skip
    assert response.status_code == 201, response.text
    assert response.json()["amount"] == amount


def test_a_fraction_of_a_dong_is_refused(admin: httpx.Client) -> None:
    club = make_lending_club(admin)
    capital = '{"amount": 2500000.5, "occurred_on": "2024-01-01", "origin": "seed"}'
    response = admin.post(f"/api/v1/funds/{club['fund_id']}/capital", content=capital,
                          headers=JSON)  # fmt: skip
    assert_problem(response, 422, "amount")


@pytest.mark.parametrize(
    ("field", "value"),
    [("amount", "2500000"), ("amount", True), ("occurred_on", 1704067200), ("occurred_on", "0")],
)
def test_a_value_is_taken_only_as_json_writes_its_type(
    admin: httpx.Client, field: str, value: object
) -> None:
    """A number as text, a boolean as a number, a date as seconds since 1970: the document
    excludes them and pydantic's lax mode took them (the fuzzer's negative data found it)."""
    club = make_lending_club(admin)
    capital = {"amount": 2500000, "occurred_on": "2024-01-01", "origin": "seed", field: value}
    assert_problem(admin.post(f"/api/v1/funds/{club['fund_id']}/capital", json=capital), 422, field)


def test_a_boolean_is_true_or_false_not_a_number(bank: httpx.Client) -> None:
    assert_problem(bank.post(BANKS, json=record(correction=1), headers=_key()), 422, "correction")


def test_a_duplicate_key_is_refused_not_read_as_the_last_one(bank: httpx.Client) -> None:
    body = json.dumps(record())[:-1] + ', "principal": 1}'
    response = bank.post(BANKS, content=body, headers=_key())
    problem = assert_problem(response, 422, "principal")
    assert "twice" in problem["errors"][0]["reason"]


@pytest.mark.parametrize("mark", ["\x00", "\x07", "\x85", "\u200b", "\u202e", "\ufeff"])
def test_control_and_invisible_characters_are_refused_with_the_record_index(
    bank: httpx.Client, mark: str
) -> None:
    records = [record(), record(borrower_name=f"Nguyễn{mark} Thị Hoa"), record()]
    response = bank.post(BATCHES, params={"mode": "partial"}, json={"records": records},
                         headers=_key())  # fmt: skip
    problem = assert_problem(response, 422, "records.1.borrower_name")
    assert mark not in json.dumps(problem)  # the problem does not echo the value


def test_a_name_sent_in_nfd_and_in_nfc_is_one_name(bank: httpx.Client) -> None:
    name = "Nguyễn Thị Hoà"
    first = record(borrower_name=unicodedata.normalize("NFD", name))
    created = bank.post(BANKS, json=first, headers=_key())
    assert created.status_code in (200, 201), created.text
    again = bank.post(BANKS, json={**first, "borrower_name": unicodedata.normalize("NFC", name)},
                      headers=_key())  # fmt: skip
    assert again.status_code in (200, 201), again.text
    loan = bank.get(BANKS, params={"loan_number": first["loan_number"]}).json()["items"][0]
    assert loan["borrower_name"] == unicodedata.normalize("NFC", name)
    history = bank.get(f"{BANKS}/{loan['id']}/history").json()["items"]
    assert len(history) == 1, history  # the second posting changed nothing


def test_a_byte_order_mark_is_dropped(bank: httpx.Client) -> None:
    body = b"\xef\xbb\xbf" + json.dumps(record()).encode()
    response = bank.post(BANKS, content=body, headers=_key())
    assert response.status_code in (200, 201), response.text


def test_not_json_is_a_400_that_says_where(bank: httpx.Client) -> None:
    problem = assert_problem(bank.post(BANKS, content=b'{"loan_number": ', headers=_key()), 400)
    assert "line 1" in problem["detail"]


def test_a_retry_re_serialised_is_a_replay(bank: httpx.Client) -> None:
    records = [record() for _ in range(3)]
    key = _key()
    first = bank.post(BATCHES, content=json.dumps({"records": records}), headers=key)
    assert first.status_code in (200, 201), first.text
    reordered = json.dumps({"records": [dict(reversed(r.items())) for r in records]}, indent=2)
    again = bank.post(BATCHES, content=reordered, headers=key)
    assert again.status_code == first.status_code
    assert again.headers.get("Idempotent-Replayed") == "true"
    other = bank.post(BATCHES, json={"records": [record()]}, headers=key)
    problem = assert_problem(other, 422)
    assert problem["type"] == "/problems/idempotency-key-reused"
    assert problem["first_request"] == {"state": "stored", "status": first.status_code}


@pytest.mark.parametrize(
    ("field", "value"),
    [("disbursed_on", "1899-12-31"), ("maturity_on", "2101-01-01"), ("as_of", "1899-12-31")],
)
def test_dates_outside_any_plausible_range_are_refused(
    bank: httpx.Client, field: str, value: str
) -> None:
    assert_problem(bank.post(BANKS, json=record(**{field: value}), headers=_key()), 422, field)


def test_a_member_born_before_1900_is_refused(admin: httpx.Client) -> None:
    club = make_lending_club(admin)
    body = member_payload(birth_date="1899-12-31", national_id=None)
    response = admin.post(f"/api/v1/clubs/{club['id']}/members", json=body)
    assert_problem(response, 422, "birth_date")


def test_integers_beyond_64_bits_are_refused_on_their_field(bank: httpx.Client) -> None:
    body = json.dumps(record()).replace("50000000", "7" * 30)
    assert_problem(bank.post(BANKS, content=body, headers=_key()), 422, "principal")
    batch = '{"records": [' + body + "]}"
    response = bank.post(BATCHES, params={"mode": "partial"}, content=batch, headers=_key())
    assert response.status_code in (200, 201), response.text
    assert response.json()["results"][0]["outcome"] == "rejected"


def _as_json_means(value: object) -> object:
    """Whole numbers as integers whatever their spelling (below 2**63), others as floats."""
    if isinstance(value, Decimal):
        whole = value == value.to_integral_value() and abs(value) < 2**63
        return int(value) if whole else float(value)
    if isinstance(value, list):
        return [_as_json_means(item) for item in value]
    if isinstance(value, dict):
        return {key: _as_json_means(item) for key, item in value.items()}
    return value


def test_whole_numbers_are_rewritten_in_the_bytes_as_the_values_would_be() -> None:
    """A batch whose only fault is rates like `9.0` takes the fast path (the bytes rewritten,
    strings untouched); whatever path a body takes, the values are what JSON means."""
    chosen = random.Random(7)
    numbers = ["9.0", "3.00", "-4.0", "0.0", "7.92", "2.5e6", "1e3", "12345678901234567890.0"]
    spellings = [*numbers, "123456789012345678.0", "10", '"9.0, 3.0}"', '"a\\"1.0]"', '"1E23"']
    for _ in range(300):
        items = [chosen.choice(spellings) for _ in range(chosen.randrange(1, 8))]
        body = ('{"rates": [' + ", ".join(items) + '], "rate": ' + items[0] + "}").encode()
        expected = _as_json_means(json.loads(body, parse_float=Decimal, parse_int=Decimal))
        passed = read(body)
        assert json.loads(passed.body) == expected, body
        if passed.canonical is not None:  # what makes a retry the same body
            assert passed.canonical == canonical(json.loads(passed.body)), body
    assert read(b'{"rate": 9.0, "name": "Nguy\xe1\xbb\x85n"}').canonical is not None, "screened"


def test_the_screened_path_passes_on_what_the_thorough_reading_would() -> None:
    """Random bodies of hostile and harmless pieces: whatever the screens let through, the
    value-by-value reading passes on as the same value; what it refuses, they do not pass."""
    chosen = random.Random(11)
    nfd = unicodedata.normalize("NFD", "Nguyễn")
    pieces = [
        '"Nguyễn"', f'"{nfd}"', '"a\\u0000b"', '"a\u200bb"', '"a\\"b"', '"\\u1ec5"',
        '"\\u0301"', "9.0", "-0.00", "7.05", "1e3", "NaN", "12345678901234567890.0", "true",
        '{"k": 1, "k": 2}', '"1E23"', '"x: 9.0, "', "[]",
    ]  # fmt: skip
    for _ in range(500):
        items = [chosen.choice(pieces) for _ in range(chosen.randrange(1, 6))]
        body = ('{"a": [' + ", ".join(items) + "]}").encode()
        screened = _screened(body)
        try:
            thorough = _read_thoroughly(body)
        except Problem:
            assert screened is None, body
            continue
        if screened is not None:
            assert json.loads(screened.body) == json.loads(thorough), body
