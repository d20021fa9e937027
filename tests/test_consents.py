"""Members' consents: given on joining or later, withdrawn, and what bank matching does."""

import uuid
from collections.abc import Callable

import httpx
import pytest

from tests.factories import HA_NOI, LAO_CAI, consents, make_club, member_payload, national_id
from tests.support import Api, assert_problem, wait_until
from tests.test_bank_loans import BANKS, record
from tests.test_events import Feeds
from tests.test_members import CONSENT_VI, _import
from tools.stack import Stack


@pytest.fixture(scope="module")
def bank(api: Api) -> httpx.Client:
    return api.client(api.client_token(*api.create_client("bank", bank_code="VBSP")))


def add_member(admin: httpx.Client, **overrides: object) -> dict:
    club = make_club(admin)
    response = admin.post(f"/api/v1/clubs/{club['id']}/members", json=member_payload(**overrides))
    assert response.status_code == 201, response.text
    return response.json()


def consents_of(client: httpx.Client, member_id: int) -> list[dict]:
    response = client.get(f"/api/v1/members/{member_id}/consents")
    assert response.status_code == 200, response.text
    return response.json()


def give(client: httpx.Client, member_id: int, purpose: str, **overrides: str) -> httpx.Response:
    body = {"purpose": purpose, "given_on": "2024-03-01", "form_reference": "Phiếu 7/2024"}
    return client.post(f"/api/v1/members/{member_id}/consents", json={**body, **overrides})


def withdraw(client: httpx.Client, member_id: int, consent_id: int, on: str) -> httpx.Response:
    return client.post(
        f"/api/v1/members/{member_id}/consents/{consent_id}/withdrawal",
        json={"withdrawn_on": on, "reference": "Đơn rút 3/2025"},
    )


# Recording consents ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "reason"),
    [
        (consents("bank_matching"), "consent to membership"),
        (consents("membership", "membership"), "twice"),
        ([], "consent to membership"),
    ],
)
def test_a_member_without_the_membership_basis_is_refused(
    admin: httpx.Client, given: list, reason: str
) -> None:
    club = make_club(admin)
    response = admin.post(
        f"/api/v1/clubs/{club['id']}/members", json=member_payload(consents=given)
    )
    problem = assert_problem(response, 422, "consents")
    assert reason in str(problem["errors"])
    missing = member_payload()
    del missing["consents"]
    assert_problem(admin.post(f"/api/v1/clubs/{club['id']}/members", json=missing), 422, "consents")


def test_consents_given_on_joining_are_listed_with_who_recorded_them(admin: httpx.Client) -> None:
    member = add_member(admin, consents=consents("membership", "funder_figures"))
    listed = consents_of(admin, member["id"])
    assert [(c["purpose"], c["current"]) for c in listed] == [
        ("membership", True),
        ("funder_figures", True),
    ]
    assert listed[0]["recorded_by"].endswith("admin") and listed[0]["given_on"] == "2019-01-15"
    assert listed[0]["withdrawn_on"] is None
    audit = admin.get(f"/api/v1/members/{member['id']}/audit").json()["items"]
    assert [c["purpose"] for c in audit[0]["after"]["consents"]] == [
        "membership",
        "funder_figures",
    ]


def test_a_consent_is_given_later_withdrawn_and_given_again(admin: httpx.Client) -> None:
    member = add_member(admin, consents=consents("membership"))
    given = give(admin, member["id"], "funder_figures")
    assert given.status_code == 201, given.text
    consent = given.json()
    assert consent["current"] and consent["form_reference"] == "Phiếu 7/2024"
    assert_problem(give(admin, member["id"], "funder_figures"), 409)
    assert_problem(withdraw(admin, member["id"], consent["id"], "2024-02-28"), 422, "withdrawn_on")
    withdrawn = withdraw(admin, member["id"], consent["id"], "2025-03-02")
    assert withdrawn.status_code == 200, withdrawn.text
    assert withdrawn.json()["withdrawn_on"] == "2025-03-02" and not withdrawn.json()["current"]
    assert_problem(withdraw(admin, member["id"], consent["id"], "2025-03-03"), 409)
    again = give(admin, member["id"], "funder_figures", given_on="2025-06-01")
    assert again.status_code == 201, again.text
    purposes = [(c["purpose"], c["current"]) for c in consents_of(admin, member["id"])]
    assert purposes == [
        ("membership", True),
        ("funder_figures", False),
        ("funder_figures", True),
    ]
    actions = [
        e["action"] for e in admin.get(f"/api/v1/members/{member['id']}/audit").json()["items"]
    ]
    assert actions.count("consent_given") == 2 and actions.count("consent_withdrawn") == 1


def test_the_membership_basis_is_withdrawn_only_after_leaving(admin: httpx.Client) -> None:
    member = add_member(admin)
    basis = consents_of(admin, member["id"])[0]
    assert basis["purpose"] == "membership"
    problem = assert_problem(withdraw(admin, member["id"], basis["id"], "2025-01-02"), 409)
    assert "/leave" in problem["detail"]
    left = admin.post(f"/api/v1/members/{member['id']}/leave", json={"left_on": "2025-01-01"})
    assert left.status_code == 200, left.text
    assert withdraw(admin, member["id"], basis["id"], "2025-01-02").status_code == 200
    assert_problem(give(admin, member["id"], "bank_matching"), 409)


def test_bad_consents_are_refused_with_the_field(admin: httpx.Client) -> None:
    member = add_member(admin)
    assert_problem(give(admin, member["id"], "marketing"), 422, "purpose")
    assert_problem(
        give(admin, member["id"], "bank_matching", given_on="2999-01-01"), 422, "given_on"
    )
    assert_problem(give(admin, member["id"], "bank_matching", form_reference=""), 422)
    assert_problem(withdraw(admin, member["id"], 2_000_000_000, "2025-01-01"), 404)
    other = add_member(admin)
    foreign = consents_of(admin, other["id"])[0]["id"]
    assert_problem(withdraw(admin, member["id"], foreign, "2025-01-01"), 404)


def test_consents_are_for_those_who_may_see_the_member(
    admin: httpx.Client, as_role: Callable[..., httpx.Client]
) -> None:
    member = add_member(admin, consents=consents("membership"))
    outside = as_role("officer", provinces=[HA_NOI])
    assert_problem(outside.get(f"/api/v1/members/{member['id']}/consents"), 404)
    assert_problem(give(outside, member["id"], "bank_matching"), 404)
    for role, scope in (("partner", {"funder_id": 3}), ("bank", {})):
        client = as_role(role, **scope)
        assert_problem(client.get(f"/api/v1/members/{member['id']}/consents"), 403)
    board = as_role("club_manager", clubs=[member["club_id"]])
    assert give(board, member["id"], "bank_matching").status_code == 201
    officer = as_role("officer", provinces=[LAO_CAI])
    assert len(consents_of(officer, member["id"])) == 2


# Bank matching follows the consent ------------------------------------------------------------


def _post_record(bank: httpx.Client, national: str) -> dict:
    response = bank.post(
        BANKS,
        json=record(borrower_national_id=national),
        headers={"Idempotency-Key": str(uuid.uuid4())},
    )
    assert response.status_code == 201, response.text
    loan: dict = response.json()["bank_loan"]
    return loan


def _matched_to(admin: httpx.Client, loan_id: int) -> int | None:
    member_id: int | None = admin.get(f"{BANKS}/{loan_id}").json()["member_id"]
    return member_id


def test_the_bank_s_records_are_matched_only_to_members_who_consent(
    admin: httpx.Client, bank: httpx.Client
) -> None:
    nid = national_id(1955, "female")
    member = add_member(admin, national_id=nid, consents=consents("membership"))
    loan = _post_record(bank, nid)
    assert loan["matched"] is False
    lookup = admin.post("/api/v1/members/lookup", json={"national_ids": [nid]})
    assert lookup.status_code == 200 and lookup.json() == []

    # Consent given later: the waiting record is matched by the loans service's consumer.
    consent = give(admin, member["id"], "bank_matching").json()
    wait_until(lambda: _matched_to(admin, loan["id"]) == member["id"], "the match")
    assert [
        m["member_id"]
        for m in admin.post("/api/v1/members/lookup", json={"national_ids": [nid]}).json()
    ] == [member["id"]]

    # Withdrawn: the record is unmatched, with when and why kept; a new posting stays unmatched.
    assert withdraw(admin, member["id"], consent["id"], "2025-04-30").status_code == 200
    wait_until(lambda: _matched_to(admin, loan["id"]) is None, "the unmatch")
    (kept,) = admin.get(f"{BANKS}/{loan['id']}/unmatches").json()
    assert kept["member_id"] == member["id"] and kept["effective_on"] == "2025-04-30"
    assert "withdrew the consent" in kept["reason"] and kept["matched_at"]
    assert_problem(bank.get(f"{BANKS}/{loan['id']}/unmatches"), 403)
    again = bank.post(
        BANKS,
        json=record(loan_number=loan["loan_number"], borrower_national_id=nid, as_of="2025-05-31"),
        headers={"Idempotency-Key": str(uuid.uuid4())},
    )
    assert again.status_code == 200, again.text
    assert again.json()["bank_loan"]["matched"] is False


def test_a_member_who_joins_consenting_finds_the_waiting_records(
    admin: httpx.Client, bank: httpx.Client
) -> None:
    nid = national_id(1955, "female")
    loan = _post_record(bank, nid)
    member = add_member(admin, national_id=nid)
    wait_until(lambda: _matched_to(admin, loan["id"]) == member["id"], "the match")


# Importing ------------------------------------------------------------------------------------


def test_an_imported_row_without_its_consent_form_is_refused_naming_the_column(
    admin: httpx.Client,
) -> None:
    club = make_club(admin)
    nid = national_id(1956, "female")
    content = (
        f"Họ và tên,Giới tính,Năm sinh,Hộ,Số CCCD,{CONSENT_VI}\n"
        f"Vàng Thị Dợ,Nữ,1956,Hộ nghèo,{nid},,15/01/2019\n"
    ).encode()
    body = assert_problem(_import(admin, club["id"], content), 422)
    issue = body["report"]["issues"][0]
    assert issue["row"] == 2 and issue["column"] == "Số phiếu đồng ý"
    assert "consent to membership" in issue["reason"]


def test_the_bank_hears_of_late_matches_and_unmatches(
    admin: httpx.Client, bank: httpx.Client, stack: Stack, token_for: Callable[..., str]
) -> None:
    nid = national_id(1955, "female")
    member = add_member(admin, national_id=nid, consents=consents("membership"))
    loan = _post_record(bank, nid)
    posted_at = bank.get(f"{BANKS}/{loan['id']}").json()["updated_at"]
    consent = give(admin, member["id"], "bank_matching").json()
    wait_until(lambda: _matched_to(admin, loan["id"]) == member["id"], "the match")
    assert bank.get(f"{BANKS}/{loan['id']}").json()["updated_at"] > posted_at
    assert withdraw(admin, member["id"], consent["id"], "2025-04-30").status_code == 200
    wait_until(lambda: _matched_to(admin, loan["id"]) is None, "the unmatch")

    feeds = Feeds(stack, token_for("service"))
    changes = [
        (item["matched"], item["member_id"], event["data"]["province_code"])
        for event in feeds.about("loans", "bank:VBSP")
        if event["type"] == "bank_loan.match_changed"
        for item in event["data"]["loans"]
        if item["bank_loan_id"] == loan["id"]
    ]
    assert changes == [(True, member["id"], LAO_CAI), (False, None, LAO_CAI)]
