"""A record the bank posted by mistake is retracted: kept and audited, out of every figure, its
loan number closed to postings until it is reinstated."""

import secrets
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from tests.factories import LAO_CAI, make_club, national_id
from tests.support import Api, assert_problem
from tests.test_bank_loans import BANKS, add_member, key, new_bank, post, post_batch, record
from tests.test_events import Feeds
from tools.stack import Stack

PORTFOLIO = "/api/v1/loans/portfolio"


def retract(client: httpx.Client, loan_id: int, reason: str = "posted twice") -> httpx.Response:
    return client.post(f"{BANKS}/{loan_id}/retraction", json={"reason": reason}, headers=key())


def reinstate(client: httpx.Client, loan_id: int) -> httpx.Response:
    return client.post(f"{BANKS}/{loan_id}/reinstatement", headers=key())


def bank_loans_of(admin: httpx.Client, club_id: int) -> int:
    response = admin.get(PORTFOLIO, params={"club_id": club_id})
    assert response.status_code == 200, response.text
    figures: dict[str, Any] = response.json()["bank_loans"]
    return int(figures["loans_outstanding"])


@pytest.fixture()
def matched(api: Api, admin: httpx.Client) -> dict[str, Any]:
    """A bank of its own, and one of its records matched to a member of a Lào Cai club."""
    code = f"R{secrets.token_hex(3).upper()}"
    bank = new_bank(api, code)
    club = make_club(admin)
    member = add_member(admin, club["id"], nid := national_id(1957, "female"))
    body = record(borrower_national_id=nid)
    posted = post(bank, body)
    assert posted.status_code == 201 and posted.json()["bank_loan"]["matched"], posted.text
    return {
        "bank": bank,
        "code": code,
        "club": club,
        "member": member,
        "record": body,
        "loan": posted.json()["bank_loan"],
    }


def test_a_retracted_record_is_kept_unmatched_and_counts_nowhere(
    matched: dict[str, Any], admin: httpx.Client, as_role: Callable[..., httpx.Client]
) -> None:
    bank, loan, club = matched["bank"], matched["loan"], matched["club"]
    officer = as_role("officer", provinces=[LAO_CAI])
    assert officer.get(f"{BANKS}/{loan['id']}").status_code == 200
    assert bank_loans_of(admin, club["id"]) == 1

    answer = retract(bank, loan["id"], "posted for the wrong borrower")
    assert answer.status_code == 200, answer.text
    retracted = answer.json()
    assert retracted["retracted_at"] and not retracted["matched"]
    assert retracted["member_id"] is None and retracted["province_code"] is None
    assert retracted["updated_at"] > loan["updated_at"]
    assert bank.get(f"{BANKS}/{loan['id']}").json()["retracted_at"] == retracted["retracted_at"]
    assert bank_loans_of(admin, club["id"]) == 0
    assert officer.get(f"{BANKS}/{loan['id']}").status_code == 404  # left the area
    (audit,) = bank.get(f"{BANKS}/{loan['id']}/retractions").json()
    assert audit["reason"] == "posted for the wrong borrower"
    assert audit["member_id"] == matched["member"]["id"] and audit["reinstated_at"] is None
    assert len(bank.get(f"{BANKS}/{loan['id']}/history").json()["items"]) == 1  # kept


def test_a_retracted_loan_number_takes_no_posting_and_no_second_retraction(
    matched: dict[str, Any],
) -> None:
    bank, loan = matched["bank"], matched["loan"]
    assert retract(bank, loan["id"]).status_code == 200
    again = post(bank, {**matched["record"], "outstanding_principal": 30_000_000})
    body = assert_problem(again, 409)
    assert body["code"] == "bank_loan_retracted"
    assert [e["field"] for e in body["errors"]] == ["loan_number"]
    partial = post_batch(bank, [matched["record"], record()], mode="partial").json()
    assert [r["outcome"] for r in partial["results"]] == ["rejected", "created"]
    assert partial["results"][0]["errors"][0]["code"] == "bank_loan_retracted"
    assert assert_problem(retract(bank, loan["id"]), 409)["code"] == "bank_loan_retracted"
    assert bank.get(f"{BANKS}/{loan['id']}").json()["outstanding_principal"] == 40_000_000


def test_a_reinstated_record_is_matched_again_and_takes_postings(
    matched: dict[str, Any], admin: httpx.Client
) -> None:
    bank, loan, club = matched["bank"], matched["loan"], matched["club"]
    assert retract(bank, loan["id"]).status_code == 200
    assert assert_problem(reinstate(bank, 999_999_999), 404)
    answer = reinstate(bank, loan["id"])
    assert answer.status_code == 200 and answer.json()["retracted_at"] is None, answer.text
    assert answer.json()["member_id"] == matched["member"]["id"]  # matched again at once
    reads = admin.get(f"/api/v1/members/{matched['member']['id']}/access-log").json()["items"]
    assert any(entry["path"].endswith("/reinstatement") for entry in reads)  # who saw it
    assert bank_loans_of(admin, club["id"]) == 1
    (audit,) = bank.get(f"{BANKS}/{loan['id']}/retractions").json()
    assert audit["reinstated_by"] and audit["reinstated_at"]
    assert assert_problem(reinstate(bank, loan["id"]), 409)["code"] == "bank_loan_not_retracted"
    updated = post(bank, {**matched["record"], "outstanding_principal": 30_000_000})
    assert updated.status_code == 200 and updated.json()["outcome"] == "updated", updated.text


def test_only_the_posting_bank_or_an_admin_retracts(
    matched: dict[str, Any],
    api: Api,
    admin: httpx.Client,
    as_role: Callable[..., httpx.Client],
) -> None:
    loan_id = matched["loan"]["id"]
    other_bank = new_bank(api, f"O{secrets.token_hex(3).upper()}")
    assert assert_problem(retract(other_bank, loan_id), 404)
    officer = as_role("officer", provinces=[LAO_CAI])
    assert assert_problem(retract(officer, loan_id), 403)
    assert assert_problem(officer.get(f"{BANKS}/{loan_id}/retractions"), 403)
    partner = as_role("partner", funder_id=1)
    assert assert_problem(retract(partner, loan_id), 403)
    unkeyed = matched["bank"].post(f"{BANKS}/{loan_id}/retraction", json={"reason": "x"})
    assert assert_problem(unkeyed, 400)
    assert assert_problem(retract(matched["bank"], loan_id, reason=""), 422, "reason")
    assert admin.get(f"{BANKS}/{loan_id}").json()["retracted_at"] is None
    assert retract(admin, loan_id, "the bank asked by letter").status_code == 200


def test_a_retried_retraction_answers_the_first_time_and_the_bank_hears_of_it(
    matched: dict[str, Any], stack: Stack, token_for: Callable[..., str]
) -> None:
    bank, loan = matched["bank"], matched["loan"]
    headers = key()
    first = bank.post(f"{BANKS}/{loan['id']}/retraction", json={"reason": "x"}, headers=headers)
    again = bank.post(f"{BANKS}/{loan['id']}/retraction", json={"reason": "x"}, headers=headers)
    assert first.status_code == again.status_code == 200 and first.json() == again.json()
    assert len(bank.get(f"{BANKS}/{loan['id']}/retractions").json()) == 1
    assert reinstate(bank, loan["id"]).status_code == 200
    feeds = Feeds(stack, token_for("service"))
    subject = f"bank:{matched['code']}"
    (retracted,) = feeds.wait("loans", subject, "bank_loan.retracted")
    assert retracted["data"] == {
        "bank_code": matched["code"],
        "bank_loan_id": loan["id"],
        "loan_number": loan["loan_number"],
        "province_code": LAO_CAI,
        "club_id": matched["club"]["id"],
        "member_id": matched["member"]["id"],
    }
    (reinstated,) = feeds.wait("loans", subject, "bank_loan.reinstated")
    assert reinstated["data"]["province_code"] is None
