"""The Social Policy Bank's loan records: outcomes and history, batches, retries, matching to
club members, and who may post and read them. Through the gateway with real bank clients."""

import asyncio
import secrets
import uuid
from collections.abc import Callable, Iterator
from datetime import date, timedelta
from typing import Any

import httpx
import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError
from sqlalchemy import text

from common import clock
from common.db import make_engine, normalise_url
from common.problems import ServiceUnavailable
from common.sealing import blind_index, keyring
from services.loans.bank import reading, rules, schemas
from services.loans.bank.matching import MemberLookup
from services.loans.bank.models import BORROWER_ID
from tests.factories import HA_NOI, HA_NOI_COMMUNE, LAO_CAI, make_club, member_payload, national_id
from tests.support import Api, assert_problem, finished_job, unreachable_service, wait_until
from tools.stack import Stack

TODAY = clock.today()
BANKS = "/api/v1/bank-loans"
BATCHES = f"{BANKS}/batches"


def record(**overrides: Any) -> dict[str, Any]:
    """A valid near-poor household loan, as the bank posts it."""
    return {
        "loan_number": f"VBSP-{secrets.token_hex(5).upper()}",
        "borrower_national_id": national_id(1958, "female"),
        "borrower_name": "Nguyễn Thị Hoa",
        "programme": "near_poor_households",
        "principal": 50_000_000,
        "disbursed_on": "2024-03-15",
        "maturity_on": "2027-03-15",
        "annual_interest_rate": 7.92,
        "outstanding_principal": 40_000_000,
        "overdue_amount": 0,
        "status": "active",
        "as_of": "2025-06-30",
        **overrides,
    }


def key() -> dict[str, str]:
    return {"Idempotency-Key": str(uuid.uuid4())}


def post(client: httpx.Client, body: dict[str, Any]) -> httpx.Response:
    return client.post(BANKS, json=body, headers=key())


def post_batch(
    client: httpx.Client, records: list[Any], mode: str = "atomic", **headers: str
) -> httpx.Response:
    return client.post(
        BATCHES,
        params={"mode": mode},
        json={"records": records},
        headers=headers or key(),
    )


def history(client: httpx.Client, loan_id: int) -> list[dict[str, Any]]:
    response = client.get(f"{BANKS}/{loan_id}/history")
    assert response.status_code == 200, response.text
    return response.json()["items"]


def listed(client: httpx.Client, **params: Any) -> dict[str, Any]:
    response = client.get(BANKS, params={"limit": 200, **params})
    assert response.status_code == 200, response.text
    return response.json()


@pytest.fixture(scope="module")
def bank(api: Api) -> httpx.Client:
    """A system of the Social Policy Bank (bank_code VBSP) with its own client credentials."""
    return api.client(api.client_token(*api.create_client("bank", bank_code="VBSP")))


def new_bank(api: Api, code: str) -> httpx.Client:
    return api.client(api.client_token(*api.create_client("bank", bank_code=code)))


def add_member(admin: httpx.Client, club_id: int, nid: str) -> dict[str, Any]:
    born = f"19{nid[4:6]}-04-02"  # the ID's digits 5–6 are the birth year
    payload = member_payload(national_id=nid, birth_date=born, gender="female")
    response = admin.post(f"/api/v1/clubs/{club_id}/members", json=payload)
    assert response.status_code == 201, response.text
    return response.json()


# Outcomes and history


def test_postings_create_update_repeat_and_go_stale_with_every_version_kept(
    bank: httpx.Client,
) -> None:
    first = record(as_of="2025-03-31")
    created = post(bank, first)
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["outcome"] == "created" and body["matching_available"]
    loan = body["bank_loan"]
    assert loan["bank_code"] == "VBSP" and loan["annual_interest_rate"] == 7.92
    assert loan["principal"] == 50_000_000 and loan["matched"] is False

    newer = {**first, "as_of": "2025-06-30", "outstanding_principal": 35_000_000}
    updated = post(bank, newer)
    assert updated.status_code == 200, updated.text
    assert updated.json()["outcome"] == "updated"
    assert updated.json()["bank_loan"]["outstanding_principal"] == 35_000_000

    same = post(bank, newer)
    assert same.status_code == 200 and same.json()["outcome"] == "unchanged"

    older = {**first, "as_of": "2025-04-30", "outstanding_principal": 38_000_000}
    stale = post(bank, older)
    assert stale.status_code == 200 and stale.json()["outcome"] == "stale"
    current = bank.get(f"{BANKS}/{loan['id']}").json()
    assert current["as_of"] == "2025-06-30" and current["outstanding_principal"] == 35_000_000

    versions = history(bank, loan["id"])
    assert [(v["outcome"], v["applied"], v["as_of"]) for v in versions] == [
        ("stale", False, "2025-04-30"),
        ("updated", True, "2025-06-30"),
        ("created", True, "2025-03-31"),
    ]
    assert versions[0]["outstanding_principal"] == 38_000_000


# A posting: (days after 2025-01-31 for `as_of`, outstanding principal in millions).
POSTINGS = st.tuples(st.integers(0, 3), st.sampled_from([40, 35]))


@settings(max_examples=12, deadline=None)
@given(st.lists(st.lists(POSTINGS, min_size=1, max_size=3), min_size=1, max_size=3))
def test_a_loans_history_is_every_kept_posting_newest_first(
    bank: httpx.Client, batches: list[list[tuple[int, int]]]
) -> None:
    """Whatever the order of newer, older and repeated figures, in one batch or several: the
    loan holds the newest applied figures and its history lists every posting but the unchanged
    ones, newest first, with the outcome each had (the current one is kept on the loan, the
    others in the history table)."""
    number = f"VBSP-H{secrets.token_hex(5).upper()}"
    borrower = national_id(1958, "female")  # a loan number keeps its borrower
    stored: rules.LoanValues | None = None
    kept: list[tuple[str, str, int]] = []
    loan_id = None
    for batch in batches:
        records = [
            record(
                loan_number=number,
                borrower_national_id=borrower,
                as_of=(date(2025, 1, 31) + timedelta(days=days)).isoformat(),
                outstanding_principal=millions * 1_000_000,
            )
            for days, millions in batch
        ]
        answer = post_batch(bank, records).json()
        for posted, result in zip(records, answer["results"], strict=True):
            values = reading.parse_record(orjson.dumps(posted), TODAY)[1]
            expected = rules.outcome(stored, values)
            assert result["outcome"] == expected.value
            if expected is not rules.Outcome.UNCHANGED:
                kept.append((expected.value, posted["as_of"], posted["outstanding_principal"]))
            if expected in rules.APPLIED:
                stored = values
            loan_id = result["id"]
    assert stored is not None and loan_id is not None
    loan = bank.get(f"{BANKS}/{loan_id}").json()
    assert (loan["as_of"], loan["outstanding_principal"]) == (
        stored.as_of.isoformat(),
        stored.outstanding_principal,
    )
    versions = history(bank, loan_id)
    assert [(v["outcome"], v["as_of"], v["outstanding_principal"]) for v in versions] == kept[::-1]
    assert [v["applied"] for v in versions] == [v["outcome"] != "stale" for v in versions]


def test_same_day_figures_that_differ_update_the_loan(bank: httpx.Client) -> None:
    first = record()
    post(bank, first)
    corrected = post(bank, {**first, "overdue_amount": 2_000_000, "status": "overdue"})
    assert corrected.json()["outcome"] == "updated"
    assert corrected.json()["bank_loan"]["status"] == "overdue"


def test_a_batch_applies_a_repeated_loan_number_in_order(bank: httpx.Client) -> None:
    base = record(as_of="2025-01-31")
    records = [
        base,
        {**base, "as_of": "2025-02-28", "outstanding_principal": 39_000_000},
        {**base, "as_of": "2025-02-28", "outstanding_principal": 39_000_000},
        {**base, "as_of": "2025-01-15", "outstanding_principal": 45_000_000},
    ]
    response = post_batch(bank, records)
    assert response.status_code == 200, response.text
    answer = response.json()
    assert [r["outcome"] for r in answer["results"]] == ["created", "updated", "unchanged", "stale"]
    assert len({r["id"] for r in answer["results"]}) == 1
    assert answer["counts"] == {
        "created": 1,
        "updated": 1,
        "unchanged": 1,
        "stale": 1,
        "rejected": 0,
        "matched": 0,
        "unmatched": 3,  # the stale posting counts as stale only
    }
    loan = bank.get(f"{BANKS}/{answer['results'][0]['id']}").json()
    assert loan["as_of"] == "2025-02-28" and loan["outstanding_principal"] == 39_000_000
    versions = history(bank, loan["id"])
    assert [(v["outcome"], v["as_of"]) for v in versions] == [
        ("stale", "2025-01-15"),
        ("updated", "2025-02-28"),
        ("created", "2025-01-31"),
    ]
    # The current posting (kept on the loan) pages like the others.
    second = bank.get(f"{BANKS}/{loan['id']}/history", params={"limit": 1, "offset": 1}).json()
    assert second["total"] == 3
    assert [(v["id"], v["outcome"]) for v in second["items"]] == [(versions[1]["id"], "updated")]


def test_a_loan_number_written_with_spaces_or_escapes_finds_its_stored_loan(
    bank: httpx.Client,
) -> None:
    """The stored loan is found by the loan number as validated (stripped, unescaped), not as
    the raw body writes it."""
    spaced, escaped, named = record(), record(), record()
    first = post_batch(bank, [spaced, escaped, named]).json()["results"]
    newer = {"as_of": "2025-07-31", "outstanding_principal": 38_000_000}
    records = [
        {**spaced, **newer, "loan_number": f"  {spaced['loan_number']} "},
        {**escaped, **newer, "loan_number": "ESCAPED"},
        {**named, **newer},
        {**record(), "loan_number": f" {record()['loan_number']}"},
    ]
    as_escape = f"\\u{ord(escaped['loan_number'][0]):04x}{escaped['loan_number'][1:]}"
    body = orjson.dumps({"records": records}).replace(b"ESCAPED", as_escape.encode())
    response = bank.post(
        BATCHES, content=body, headers={**key(), "Content-Type": "application/json"}
    )
    assert response.status_code == 200, response.text
    results = response.json()["results"]
    assert [r["outcome"] for r in results] == ["updated", "updated", "updated", "created"]
    assert [r["id"] for r in results[:3]] == [r["id"] for r in first]


def test_a_batch_announces_its_counts_per_province_and_its_loans_are_fetched(
    admin: httpx.Client, bank: httpx.Client, stack: Stack
) -> None:
    club = make_club(admin)
    member_nid = national_id(1959, "female")
    add_member(admin, club["id"], member_nid)
    first, second = record(as_of="2025-01-31"), record(borrower_national_id=member_nid)
    newer = {**first, "as_of": "2025-02-28", "outstanding_principal": 39_000_000}
    answer = post_batch(bank, [second, first, newer, first]).json()
    assert [r["outcome"] for r in answer["results"]] == ["created", "created", "updated", "stale"]
    ids = sorted({result["id"] for result in answer["results"]})
    engine = make_engine(normalise_url(stack.database_urls["loans"]))
    try:
        with engine.connect() as connection:
            rows = connection.execute(
                text("SELECT data FROM outbox_events WHERE type = 'bank_loan.posted' ORDER BY id")
            ).all()
    finally:
        engine.dispose()
    announced = [orjson.loads(data) if isinstance(data, str) else data for (data,) in rows]
    # One small event per province of the matched members, one for the loans matched to
    # nobody: the batch's id and counts, never the loans themselves.
    ours = [event for event in announced if event["batch_id"] == answer["batch_id"]]
    assert sorted(event["province_code"] or "" for event in ours) == ["", LAO_CAI]
    by_province = {event["province_code"]: event for event in ours}
    assert (by_province[None]["created"], by_province[None]["updated"]) == (1, 0)
    assert by_province[None]["communes"] == {}
    matched = by_province[LAO_CAI]
    assert (matched["created"], matched["updated"]) == (1, 0)
    assert matched["communes"] == {club["commune_code"]: {"created": 1, "updated": 0}}
    assert all("loans" not in event and len(orjson.dumps(event)) < 1000 for event in ours)
    # The loans are fetched, in the reader's scope, from the event's sync token.
    since = listed(bank, changed_since=matched["changed_since"])["items"]
    assert set(ids) <= {loan["id"] for loan in since}
    by_number = {loan["loan_number"]: loan for loan in since}
    assert by_number[first["loan_number"]]["outstanding_principal"] == 39_000_000
    assert by_number[second["loan_number"]]["club_id"] == club["id"]


def test_a_replayed_batch_answers_its_batch_id_again(bank: httpx.Client) -> None:
    headers, records = key(), [record()]
    first = post_batch(bank, records, **headers).json()
    replay = post_batch(bank, records, **headers).json()
    assert first["batch_id"] and replay["batch_id"] == first["batch_id"]
    assert post_batch(bank, [record()]).json()["batch_id"] != first["batch_id"]
    assert post(bank, record()).json()["batch_id"]


# Atomic and partial batches


def test_an_atomic_batch_with_invalid_records_lists_each_and_stores_nothing(
    bank: httpx.Client,
) -> None:
    good = record()
    bad_rate = record(annual_interest_rate=25)
    bad_two = record(principal=0, maturity_on="2020-01-01")
    response = post_batch(bank, [good, bad_rate, bad_two])
    problem = assert_problem(response, 422, "records.1.annual_interest_rate")
    invalid = problem["invalid_records"]
    assert [(r["index"], r["loan_number"]) for r in invalid] == [
        (1, bad_rate["loan_number"]),
        (2, bad_two["loan_number"]),
    ]
    assert {e["field"] for e in invalid[1]["errors"]} == {"principal", "maturity_on"}
    # pydantic's type for the field's own rule, the catalogue's code for the rule across fields
    codes = {e["field"]: e["code"] for e in problem["errors"]}
    assert codes["records.2.maturity_on"] == "date_out_of_order"
    assert codes["records.2.principal"].startswith("greater_than")
    assert listed(bank, loan_number=good["loan_number"])["total"] == 0


def test_a_partial_batch_stores_the_valid_records_and_counts_every_outcome(
    bank: httpx.Client,
) -> None:
    stored = record()
    post(bank, stored)
    records = [
        record(),
        stored,
        {**stored, "as_of": "2025-07-31", "outstanding_principal": 30_000_000},
        {**record(), "programme": "lottery"},
        "not a record",
    ]
    response = post_batch(bank, records, mode="partial")
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["mode"] == "partial" and answer["records"] == 5
    assert [r["outcome"] for r in answer["results"]] == [
        "created",
        "unchanged",
        "updated",
        "rejected",
        "rejected",
    ]
    assert answer["counts"]["created"] == answer["counts"]["updated"] == 1
    assert answer["counts"]["rejected"] == 2 and answer["counts"]["unmatched"] == 3
    assert answer["results"][3]["errors"][0]["field"] == "programme"
    assert answer["results"][4]["errors"][0]["field"] == "record"
    assert answer["results"][4]["loan_number"] is None
    assert listed(bank, loan_number=records[0]["loan_number"])["total"] == 1
    assert listed(bank, loan_number=records[3]["loan_number"])["total"] == 0


REFUSED_NAME = "Người Bị Từ Chối"
"""A borrower name the loans database refuses while `database_refuses_a_name` holds."""


@pytest.fixture
def database_refuses_a_name(stack: Stack) -> Iterator[None]:
    """A rule of the database that validation does not know (as a constraint added by a later
    migration would be): rows with REFUSED_NAME are refused, on SQLite by a trigger."""
    engine = make_engine(normalise_url(stack.database_urls["loans"]))
    postgres = engine.dialect.name == "postgresql"
    add, drop = (
        (
            "ALTER TABLE bank_loans ADD CONSTRAINT refused_name "
            f"CHECK (borrower_name <> '{REFUSED_NAME}') NOT VALID",
            "ALTER TABLE bank_loans DROP CONSTRAINT refused_name",
        )
        if postgres
        else (
            "CREATE TRIGGER refused_name BEFORE INSERT ON bank_loans "
            f"WHEN NEW.borrower_name = '{REFUSED_NAME}' "
            "BEGIN SELECT RAISE(ABORT, 'CHECK constraint failed: refused_name'); END",
            "DROP TRIGGER refused_name",
        )
    )
    try:
        with engine.begin() as connection:
            connection.execute(text(add))
        yield
    finally:
        with engine.begin() as connection:
            connection.execute(text(drop))
        engine.dispose()


@pytest.mark.usefixtures("database_refuses_a_name")
def test_a_record_the_database_refuses_is_rejected_alone_in_a_partial_batch(
    bank: httpx.Client,
) -> None:
    records = [record() for _ in range(40)]
    for index in (3, 17, 39):
        records[index]["borrower_name"] = REFUSED_NAME
    records[20]["programme"] = "lottery"
    response = post_batch(bank, records, mode="partial")
    assert response.status_code == 200, response.text
    answer = response.json()
    rejected = [r for r in answer["results"] if r["outcome"] == "rejected"]
    assert [r["index"] for r in rejected] == [3, 17, 20, 39]
    assert rejected[0]["errors"] == [
        {
            "field": "record",
            "reason": "refused by the database: breaks a rule of the stored data",
            "code": "constraint_violated",
        }
    ]
    assert rejected[2]["errors"][0]["code"] == "enum"  # pydantic's type of the field error
    assert REFUSED_NAME not in response.text  # the answer names no value
    assert answer["counts"]["created"] == 36 and answer["counts"]["rejected"] == 4
    assert listed(bank, loan_number=records[0]["loan_number"])["total"] == 1
    assert listed(bank, loan_number=records[3]["loan_number"])["total"] == 0
    # An atomic batch is all or nothing: the database's refusal stores none of it.
    again = [record(), record(borrower_name=REFUSED_NAME)]
    assert_problem(post_batch(bank, again), 422)
    assert listed(bank, loan_number=again[0]["loan_number"])["total"] == 0


def test_a_batch_of_10000_records_is_stored_and_10001_are_refused_naming_the_limit(
    bank: httpx.Client,
) -> None:
    prefix = f"FULL-{secrets.token_hex(3)}-"
    records = [record(loan_number=f"{prefix}{n:05d}") for n in range(10_000)]
    full = post_batch(bank, records)
    assert full.status_code == 200, full.text
    assert full.json()["counts"]["created"] == 10_000
    assert listed(bank, loan_number=f"{prefix}09999")["total"] == 1

    too_many = post_batch(bank, [*records, record()])
    problem = assert_problem(too_many, 422, "records")
    assert "10,000" in problem["detail"] and "10,001" in problem["detail"]


def test_an_empty_batch_or_a_body_that_is_no_batch_is_refused(bank: httpx.Client) -> None:
    assert_problem(post_batch(bank, []), 422, "records")
    assert_problem(bank.post(BATCHES, json=[record()], headers=key()), 422)
    assert_problem(bank.post(BATCHES, json={"records": [], "x": 1}, headers=key()), 422)
    not_json = bank.post(
        BATCHES, content=b"{", headers={**key(), "Content-Type": "application/json"}
    )
    assert_problem(not_json, 400)


# Retries


def test_a_retried_batch_gets_the_first_answer_and_nothing_is_written_twice(
    bank: httpx.Client,
) -> None:
    records = [record(), record()]
    retry_key = key()
    first = post_batch(bank, records, **retry_key)
    again = post_batch(bank, records, **retry_key)
    assert first.status_code == again.status_code == 200
    assert again.json() == first.json() and again.headers["Idempotent-Replayed"] == "true"
    for result in first.json()["results"]:
        assert len(history(bank, result["id"])) == 1
    other = post_batch(bank, [record()], **retry_key)
    assert_problem(other, 422, "Idempotency-Key")


def test_a_retried_single_record_is_created_once(bank: httpx.Client) -> None:
    body, retry_key = record(), key()
    first = bank.post(BANKS, json=body, headers=retry_key)
    again = bank.post(BANKS, json=body, headers=retry_key)
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert len(history(bank, first.json()["bank_loan"]["id"])) == 1


def test_posting_without_an_idempotency_key_is_refused(bank: httpx.Client) -> None:
    """400, as the IETF's Idempotency-Key draft answers a missing key (it was 428, which a
    standard client's checks do not expect of a missing header)."""
    for answer in (
        bank.post(BANKS, json=record()),
        bank.post(BATCHES, json={"records": [record()]}),
    ):
        refused = assert_problem(answer, 400, "Idempotency-Key")
        assert refused["code"] == "idempotency_key_required"


def test_idempotency_keys_belong_to_each_bank_client(api: Api) -> None:
    one, other = new_bank(api, "VBSP"), new_bank(api, "VBSP")
    shared = {"Idempotency-Key": "batch-2025-06-" + secrets.token_hex(4)}
    first = post_batch(one, [record()], **shared)
    second = post_batch(other, [record()], **shared)
    assert first.status_code == second.status_code == 200
    assert "Idempotent-Replayed" not in second.headers
    assert first.json()["results"][0]["id"] != second.json()["results"][0]["id"]


# Matching borrowers to club members


def test_a_borrower_who_is_an_active_member_is_matched(
    admin: httpx.Client, bank: httpx.Client
) -> None:
    club = make_club(admin)
    member = add_member(admin, club["id"], nid := national_id(1958, "female"))
    response = post_batch(bank, [record(borrower_national_id=nid), record()])
    answer = response.json()
    assert answer["matching_available"] and answer["counts"]["matched"] == 1
    assert [r["matched"] for r in answer["results"]] == [True, False]
    loan = bank.get(f"{BANKS}/{answer['results'][0]['id']}").json()
    assert (loan["member_id"], loan["club_id"]) == (member["id"], club["id"])
    assert (loan["province_code"], loan["commune_code"]) == (LAO_CAI, club["commune_code"])
    assert loan["matched"] and loan["matched_at"]
    by_club = listed(admin, club_id=club["id"])
    assert [item["id"] for item in by_club["items"]] == [loan["id"]]
    assert listed(admin, member_id=member["id"])["total"] == 1
    assert listed(bank, matched="true", loan_number=loan["loan_number"])["total"] == 1


def test_a_borrower_whose_id_is_written_with_spaces_or_escapes_is_matched_too(
    admin: httpx.Client, bank: httpx.Client
) -> None:
    """Borrowers are looked up by the national ID as validated (spaces dropped, unescaped),
    not as the raw body writes it."""
    club = make_club(admin)
    spaced, escaped = national_id(1960, "female"), national_id(1961, "female")
    for nid in (spaced, escaped):
        add_member(admin, club["id"], nid)
    records = [
        record(borrower_national_id=f"{spaced[:4]} {spaced[4:8]} {spaced[8:]}"),
        record(borrower_national_id="ESCAPED"),
    ]
    as_escape = f"\\u{ord(escaped[0]):04x}{escaped[1:]}"  # the first digit as \u0030…
    body = orjson.dumps({"records": records}).replace(b"ESCAPED", as_escape.encode())
    response = bank.post(
        BATCHES, content=body, headers={**key(), "Content-Type": "application/json"}
    )
    answer = response.json()
    assert response.status_code == 200, answer
    assert answer["counts"]["matched"] == 2
    stored = [bank.get(f"{BANKS}/{result['id']}").json() for result in answer["results"]]
    assert [loan["borrower_national_id"] for loan in stored] == [spaced, escaped]


def test_an_unmatched_loan_is_matched_when_the_borrower_joins_a_club(
    admin: httpx.Client, bank: httpx.Client
) -> None:
    nid = national_id(1960, "female")
    posted = post(bank, record(borrower_national_id=nid)).json()["bank_loan"]
    assert not posted["matched"]
    unmatched = listed(bank, matched="false", loan_number=posted["loan_number"])
    assert [item["id"] for item in unmatched["items"]] == [posted["id"]]

    club = make_club(admin)
    member = add_member(admin, club["id"], nid)
    # The clubs service's `member.joined` event reaches the loans service by itself.
    loan = wait_until(
        lambda: (found := admin.get(f"{BANKS}/{posted['id']}").json())["member_id"] and found,
        "the match",
    )
    assert loan["member_id"] == member["id"] and loan["club_id"] == club["id"]
    assert listed(bank, matched="false", loan_number=posted["loan_number"])["total"] == 0


def test_the_matching_run_looks_up_every_unmatched_loan(
    admin: httpx.Client, bank: httpx.Client
) -> None:
    post(bank, record())
    run = finished_job(admin, f"{BANKS}/matching-runs")
    assert run["status"] == "succeeded" and run["kind"] == "bank_matching", run
    counts = run["result"]
    assert counts["examined"] >= 1 and counts["examined"] == counts["matched"] + counts["unmatched"]
    assert run["progress"] == {"done": counts["examined"], "total": counts["examined"]}
    listed_runs = admin.get(f"{BANKS}/matching-runs")
    assert listed_runs.status_code == 200, listed_runs.text
    assert listed_runs.json()["items"][0]["id"] == run["id"]


def test_matching_is_for_admins_only(bank: httpx.Client, as_role: Callable) -> None:
    officer = as_role("officer", provinces=[LAO_CAI])
    for client in (bank, officer):
        assert_problem(client.post(f"{BANKS}/matching-runs"), 403)
        assert_problem(client.get(f"{BANKS}/matching-runs"), 403)
        assert_problem(client.get(f"{BANKS}/matching-runs/1"), 403)


def test_records_are_stored_unmatched_while_the_clubs_service_is_down(
    admin: httpx.Client, bank: httpx.Client, stack: Stack
) -> None:
    club = make_club(admin)
    nid = national_id(1957, "female")
    add_member(admin, club["id"], nid)
    stack.stop_one("clubs")
    try:
        response = post_batch(bank, [record(borrower_national_id=nid)])
    finally:
        stack.start_one("clubs")
        stack.wait_healthy("clubs")
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["matching_available"] is False and answer["counts"]["unmatched"] == 1
    loan_id = answer["results"][0]["id"]
    # Nobody runs matching: the retry worker asks the clubs service again once it answers.
    wait_until(lambda: admin.get(f"{BANKS}/{loan_id}").json()["club_id"] == club["id"],
               "the loan stored unmatched to be matched by the retry worker")  # fmt: skip


def test_the_lookup_reports_a_clubs_service_that_cannot_answer() -> None:
    client = unreachable_service("clubs")
    lookup = MemberLookup(client)
    assert asyncio.run(lookup.memberships_if_available({"010158000001"})) is None
    with pytest.raises(ServiceUnavailable):
        asyncio.run(lookup.memberships({"010158000001"}))


# Who may post and read


def test_a_bank_reads_only_its_own_records(api: Api, bank: httpx.Client) -> None:
    other = new_bank(api, "OTHERBANK")
    theirs = post(other, record()).json()["bank_loan"]
    assert_problem(bank.get(f"{BANKS}/{theirs['id']}"), 404)
    assert_problem(bank.get(f"{BANKS}/{theirs['id']}/history"), 404)
    assert listed(bank, loan_number=theirs["loan_number"])["total"] == 0
    assert listed(other, loan_number=theirs["loan_number"])["total"] == 1
    # The same loan number is another loan at another bank.
    ours = post(bank, record(loan_number=theirs["loan_number"]))
    assert ours.status_code == 201 and ours.json()["bank_loan"]["id"] != theirs["id"]


def test_an_officer_reads_the_loans_matched_to_members_in_their_province(
    admin: httpx.Client, bank: httpx.Client, as_role: Callable
) -> None:
    lao_cai = make_club(admin)
    ha_noi = make_club(admin, province_code=HA_NOI, commune_code=HA_NOI_COMMUNE)
    add_member(admin, lao_cai["id"], in_lao_cai := national_id(1958, "female"))
    add_member(admin, ha_noi["id"], in_ha_noi := national_id(1958, "female"))
    answer = post_batch(
        bank,
        [
            record(borrower_national_id=in_lao_cai),
            record(borrower_national_id=in_ha_noi),
            record(),
        ],
    ).json()
    ours, theirs, unmatched = (r["id"] for r in answer["results"])
    officer = as_role("officer", provinces=[LAO_CAI])
    assert officer.get(f"{BANKS}/{ours}").status_code == 200
    assert len(history(officer, ours)) == 1
    assert_problem(officer.get(f"{BANKS}/{theirs}"), 404)
    assert_problem(officer.get(f"{BANKS}/{unmatched}"), 404)
    seen = listed(officer)
    assert seen["total"] == len(seen["items"]) or seen["total"] > 200
    assert all(item["province_code"] == LAO_CAI for item in seen["items"])
    assert ours in {item["id"] for item in seen["items"]}
    elsewhere = as_role("officer", provinces=[LAO_CAI], communes=["02680"])
    assert_problem(elsewhere.get(f"{BANKS}/{ours}"), 404)


def test_only_bank_systems_post_and_boards_and_partners_read_nothing(
    admin: httpx.Client, as_role: Callable
) -> None:
    club = make_club(admin)
    partner = as_role("partner", funder_id=7)
    board = as_role("club_manager", clubs=[club["id"]])
    officer = as_role("officer", provinces=[LAO_CAI])
    for client in (partner, board, officer, admin):
        assert_problem(client.post(BANKS, json=record(), headers=key()), 403)
        assert_problem(post_batch(client, [record()]), 403)
    for client in (partner, board):
        assert_problem(client.get(BANKS), 403)
        assert_problem(client.get(f"{BANKS}/1"), 403)


# Bad input


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"maturity_on": "2024-03-01"}, "maturity_on"),
        ({"programme": "lottery"}, "programme"),
        ({"annual_interest_rate": 0}, "annual_interest_rate"),
        ({"annual_interest_rate": 20.01}, "annual_interest_rate"),
        ({"annual_interest_rate": 7.925}, "annual_interest_rate"),
        ({"annual_interest_rate": "7.92"}, "annual_interest_rate"),
        ({"principal": 0}, "principal"),
        ({"principal": -5_000_000}, "principal"),
        ({"principal": 10**12 + 1}, "principal"),
        ({"principal": 1.5}, "principal"),
        ({"programme": "poor_households", "principal": 100_000_001}, "principal"),
        ({"outstanding_principal": 50_000_001}, "outstanding_principal"),
        ({"overdue_amount": 40_000_001}, "overdue_amount"),
        ({"overdue_amount": -1}, "overdue_amount"),
        ({"status": "closed"}, "outstanding_principal"),
        ({"status": "overdue"}, "overdue_amount"),
        ({"overdue_amount": 1_000_000}, "status"),
        ({"as_of": str(TODAY + timedelta(days=1))}, "as_of"),
        ({"as_of": "2024-01-01"}, "as_of"),
        ({"as_of": "30/06/2025"}, "as_of"),
        ({"borrower_national_id": "12345"}, "borrower_national_id"),
        ({"borrower_national_id": "999158000001"}, "borrower_national_id"),
        ({"borrower_name": "  "}, "borrower_name"),
        ({"loan_number": "VBSP 12"}, "loan_number"),
        ({"interest_method": "flat"}, "interest_method"),
    ],
)
def test_a_bad_record_is_refused_with_the_field_and_the_reason(
    bank: httpx.Client, overrides: dict[str, Any], field: str
) -> None:
    body = assert_problem(post(bank, record(**overrides)), 422, field)
    assert all(error["reason"] for error in body["errors"])


def test_a_bad_record_gets_every_reason_at_once(bank: httpx.Client) -> None:
    body = record(
        principal=-1,
        maturity_on="2020-01-01",
        as_of=str(TODAY + timedelta(days=3)),
        borrower_national_id="abc",
        status="closed",
    )
    del body["borrower_name"]
    problem = assert_problem(post(bank, body), 422)
    assert {e["field"] for e in problem["errors"]} == {
        "principal",
        "maturity_on",
        "as_of",
        "borrower_national_id",
        "borrower_name",
        "outstanding_principal",
    }


def test_missing_fields_are_named(bank: httpx.Client) -> None:
    body = record()
    del body["as_of"]
    assert_problem(post(bank, body), 422, "as_of")


def test_rates_are_taken_as_percent_and_kept_exactly() -> None:
    assert rules.rate_basis_points(7.92) == 792
    assert rules.rate_basis_points(6.6) == 660
    assert rules.rate_basis_points(0.01) == 1
    assert rules.rate_basis_points(7.925) is None


@pytest.mark.parametrize(
    "overrides",
    [
        {},
        {"maturity_on": "2024-03-15"},
        {"annual_interest_rate": 7.925},
        {"programme": "poor_households", "principal": 100_000_001},
        {"programme": "poor_households", "principal": 100_000_000},
        {"outstanding_principal": 50_000_001},
        {"overdue_amount": 40_000_001},
        {"status": "closed"},
        {"status": "closed", "outstanding_principal": 0},
        {"status": "overdue"},
        {"overdue_amount": 1_000_000},
        {"overdue_amount": 1_000_000, "status": "overdue"},
        {"as_of": str(TODAY + timedelta(days=1))},
        {"as_of": "2024-03-14"},
    ],
)
def test_the_quick_check_of_a_batch_agrees_with_the_reasons(overrides: dict[str, Any]) -> None:
    valid_fields = schemas.RECORD.validate_json(orjson.dumps(record(**overrides)))
    reasons = rules.record_errors(valid_fields, TODAY)
    borrower = blind_index(valid_fields["borrower_national_id"])
    assert (rules.checked_values(valid_fields, TODAY, borrower) is None) is bool(reasons)


FIELD_VALUES = {
    "loan_number": ["VBSP-1", " VBSP-2 ", "VBSP 3", "", 7],
    "borrower_national_id": [
        "010158000001",
        " 010158000001",
        "010 158 000 001",
        "999158000001",
        "010458000001",
        "12345",
        10158000001,
    ],
    "borrower_name": ["Lò Thị Mai", "  ", " Hoa "],
    "programme": ["students", "poor_households", "lottery", "Students", " students", None],
    "principal": [50_000_000, 0, -1, 1.5, "50000000", 10**12 + 1],
    "disbursed_on": ["2024-03-15", "2024-02-30", "15/03/2024", 20240315],
    "maturity_on": ["2027-03-15", "2024-03-01"],
    "annual_interest_rate": [7.92, 0, 20.01, "7.92", 6],
    "outstanding_principal": [40_000_000, -5],
    "overdue_amount": [0, 1_000_000, -1],
    "status": ["active", "overdue", "closed", "written_off", "ACTIVE", "active ", 1],
    "as_of": ["2025-06-30", "2025-13-01"],
}
"""Per field: a valid value first, then values either schema may refuse or take otherwise."""


@st.composite
def posted_records(draw: st.DrawFn) -> dict[str, Any]:
    """A valid record with up to three of its fields changed, sometimes with an unknown one."""
    posted: dict[str, Any] = {name: values[0] for name, values in FIELD_VALUES.items()}
    for name in draw(st.lists(st.sampled_from(sorted(FIELD_VALUES)), max_size=3, unique=True)):
        posted[name] = draw(st.sampled_from(FIELD_VALUES[name]))
    if draw(st.integers(0, 9)) == 0:
        posted["interest_method"] = "flat"
    return posted


@given(st.lists(posted_records(), min_size=1, max_size=3))
def test_the_quick_batch_schema_takes_only_what_the_documented_one_takes_alike(
    records: list[dict[str, Any]],
) -> None:
    body = orjson.dumps({"records": records})
    try:
        quick = reading.QUICK_BATCH.validate_json(body)
    except ValidationError:
        return  # the documented schema judges it
    assert quick == schemas.BATCH.validate_json(body)


def test_a_batch_the_quick_schema_refuses_is_judged_by_the_documented_one() -> None:
    spaced = record(borrower_national_id="010 158 000 001")
    validated = reading.validated_batch(orjson.dumps({"records": [record(), spaced]}))
    assert validated.borrowers[1] == blind_index("010158000001")  # what the clubs are asked
    parsed = reading.parse_batch(validated, TODAY)
    assert parsed.rejected == 0
    values = parsed.postings[1]
    assert values is not None and values.borrower_blind_index == blind_index("010158000001")
    assert keyring().open(values.borrower_national_id_sealed, BORROWER_ID) == "010158000001"


def test_a_refused_record_echoes_its_loan_number_whole(bank: httpx.Client) -> None:
    long_number = "VBSP-" + "7" * 53
    answer = post_batch(bank, [record(loan_number=long_number), record()], mode="partial")
    assert answer.status_code == 200, answer.text
    refused = answer.json()["results"][0]
    assert refused["loan_number"] == long_number and len(long_number) == 58
    assert refused["outcome"] == "rejected"


def test_the_bank_reads_in_bulk_by_loan_numbers_and_by_borrowers(
    api: Api, bank: httpx.Client
) -> None:
    hoa, lan = national_id(1958, "female"), national_id(1961, "female")
    records = [record(borrower_national_id=hoa), record(borrower_national_id=hoa),
               record(borrower_national_id=lan)]  # fmt: skip
    answer = post_batch(bank, records).json()
    numbers = [r["loan_number"] for r in records]
    by_numbers = listed(bank, loan_number=numbers[:2])
    assert sorted(item["loan_number"] for item in by_numbers["items"]) == sorted(numbers[:2])
    searched = bank.post(f"{BANKS}/search", json={"borrower_national_ids": [hoa]})
    assert searched.status_code == 200, searched.text
    assert {item["loan_number"] for item in searched.json()["items"]} == set(numbers[:2])
    asked = {"loan_numbers": [numbers[2]], "borrower_national_ids": [hoa]}
    page = bank.post(f"{BANKS}/search", params={"limit": 2}, json=asked).json()
    assert page["total"] == 3 and len(page["items"]) == 2 and page["next_cursor"]
    later = {"limit": 2, "cursor": page["next_cursor"]}
    rest = bank.post(f"{BANKS}/search", params=later, json=asked)
    ids = [item["id"] for item in page["items"] + rest.json()["items"]]
    assert sorted(ids) == ids == sorted(result["id"] for result in answer["results"])
    # Another bank's search finds nothing of these; an empty search is refused.
    other = new_bank(api, "OTHERBANK2")
    assert other.post(f"{BANKS}/search", json={"borrower_national_ids": [hoa]}).json()["total"] == 0
    problem = assert_problem(bank.post(f"{BANKS}/search", json={}), 422)
    assert problem["errors"][0]["code"] == "missing"
    assert_problem(bank.post(f"{BANKS}/search", json={"borrower_national_ids": ["12"]}), 422)


def test_a_loan_number_keeps_its_borrower_day_and_programme_unless_corrected(
    bank: httpx.Client,
) -> None:
    first = record()
    assert post(bank, first).status_code == 201
    other_borrower = {**first, "borrower_national_id": national_id(1960, "female")}
    problem = assert_problem(post(bank, other_borrower), 409, "borrower_national_id")
    assert problem["code"] == "loan_identity_changed"
    for change in ({"disbursed_on": "2024-03-16"}, {"programme": "poor_households"}):
        assert_problem(post(bank, {**first, **change}), 409)
    corrected = post(bank, {**other_borrower, "correction": True})
    assert corrected.status_code == 200 and corrected.json()["outcome"] == "updated"
    loan_id = corrected.json()["bank_loan"]["id"]
    assert (
        corrected.json()["bank_loan"]["borrower_national_id"]
        == other_borrower["borrower_national_id"]
    )
    history = bank.get(f"{BANKS}/{loan_id}/history").json()["items"]
    assert history[-1]["borrower_national_id"] == first["borrower_national_id"]


def test_one_loan_number_with_two_borrowers_in_a_batch_is_refused(bank: httpx.Client) -> None:
    first = record()
    twin = {**first, "borrower_national_id": national_id(1962, "female")}
    refused = post_batch(bank, [first, twin])
    problem = assert_problem(refused, 422)
    assert [e["code"] for e in problem["errors"]] == ["loan_identity_changed"]
    assert listed(bank, loan_number=first["loan_number"])["total"] == 0  # atomic: nothing
    partial = post_batch(bank, [first, twin], mode="partial").json()
    assert [r["outcome"] for r in partial["results"]] == ["created", "rejected"]
    assert partial["results"][1]["errors"][0]["code"] == "loan_identity_changed"
    assert partial["counts"]["rejected"] == 1
