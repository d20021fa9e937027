"""Who read whose personal data: every answer through the gateway that shows members' personal
fields is logged with the members it showed, and admins and officers can ask the log."""

import uuid
from collections.abc import Callable
from datetime import datetime, timedelta

import httpx
import pytest

from common import clock
from common.personal_data import SUBJECTS_HEADER
from tests.factories import HA_NOI, LAO_CAI, make_club, member_payload
from tests.support import Api, assert_problem
from tests.test_bank_loans import BANKS, record

LOG = "/api/v1/personal-data/access-log"


def add_members(admin: httpx.Client, count: int) -> tuple[dict, list[dict]]:
    club = make_club(admin)
    members = []
    for _ in range(count):
        response = admin.post(f"/api/v1/clubs/{club['id']}/members", json=member_payload())
        assert response.status_code == 201, response.text
        members.append(response.json())
    return club, members


def reads_of(client: httpx.Client, member_id: int) -> list[dict]:
    response = client.get(f"/api/v1/members/{member_id}/access-log")
    assert response.status_code == 200, response.text
    items: list[dict] = response.json()["items"]
    return items


def entries(admin: httpx.Client, **params: object) -> list[dict]:
    response = admin.get(LOG, params={"limit": 200, **params})
    assert response.status_code == 200, response.text
    items: list[dict] = response.json()["items"]
    return items


def test_reading_a_member_is_logged_with_who_when_route_and_request(admin: httpx.Client) -> None:
    _, (member,) = add_members(admin, 1)
    assert reads_of(admin, member["id"]) == []  # adding is not reading
    read = admin.get(f"/api/v1/members/{member['id']}")
    assert read.status_code == 200 and SUBJECTS_HEADER.lower() not in read.headers
    (entry,) = reads_of(admin, member["id"])
    assert entry["principal"] == "user:admin" and entry["role"] == "admin"
    assert entry["method"] == "GET" and entry["path"] == f"/api/v1/members/{member['id']}"
    assert entry["request_id"] == read.headers["X-Request-Id"] and entry["service"] == "clubs"
    assert entry["members"] == 1 and entry["client"] is None
    at = datetime.fromisoformat(entry["at"])
    assert abs((clock.utcnow() - at).total_seconds()) < 60


def test_a_list_is_one_entry_naming_every_member_it_showed(
    admin: httpx.Client, as_role: Callable[..., httpx.Client]
) -> None:
    club, members = add_members(admin, 3)
    officer = as_role("officer", provinces=[LAO_CAI])
    listed = officer.get(f"/api/v1/clubs/{club['id']}/members", params={"q": "Hoa"})
    assert listed.status_code == 200 and listed.json()["total"] == 3
    me = officer.get("/auth/me").json()["subject"]
    (entry,) = [
        e for e in entries(admin, principal=me) if e["request_id"] == listed.headers["X-Request-Id"]
    ]
    assert entry["member_ids"] == sorted(m["id"] for m in members) and entry["members"] == 3
    assert entry["path"] == f"/api/v1/clubs/{club['id']}/members"  # never the query (a name)
    for member in members:
        assert [e["id"] for e in reads_of(admin, member["id"])] == [entry["id"]]
    before = len(entries(admin, principal=me))
    board = officer.get(f"/api/v1/clubs/{club['id']}/board")
    assert board.status_code == 200 and len(entries(admin, principal=me)) == before  # no seats


def test_answers_without_personal_data_are_not_logged(
    admin: httpx.Client, as_role: Callable[..., httpx.Client]
) -> None:
    club, _ = add_members(admin, 1)
    officer = as_role("officer", provinces=[LAO_CAI])
    me = officer.get("/auth/me").json()["subject"]
    before = len(entries(admin, principal=me))
    for path in (f"/api/v1/clubs/{club['id']}", f"/api/v1/clubs/{club['id']}/composition"):
        assert officer.get(path).status_code == 200
    assert len(entries(admin, principal=me)) == before


def test_a_bank_reading_a_matched_borrower_s_record_is_logged_with_its_client(
    api: Api, admin: httpx.Client
) -> None:
    client_id, secret = api.create_client("bank", bank_code="VBSP")
    bank = api.client(api.client_token(client_id, secret))
    _, (member,) = add_members(admin, 1)
    posted = bank.post(
        BANKS,
        json=record(borrower_national_id=member["national_id"]),
        headers={"Idempotency-Key": str(uuid.uuid4())},
    )
    assert posted.status_code == 201 and posted.json()["bank_loan"]["matched"]
    loan_id = posted.json()["bank_loan"]["id"]
    assert bank.get(f"{BANKS}/{loan_id}").status_code == 200
    logged = [e for e in reads_of(admin, member["id"]) if e["path"] == f"{BANKS}/{loan_id}"]
    assert [(e["client"], e["role"], e["service"]) for e in logged] == [
        (client_id, "bank", "loans")
    ]
    unmatched = bank.post(BANKS, json=record(), headers={"Idempotency-Key": str(uuid.uuid4())})
    bank.get(f"{BANKS}/{unmatched.json()['bank_loan']['id']}")
    assert len(entries(admin, principal=f"client:{client_id}")) == 1  # nobody's data


def test_a_lookup_by_citizen_id_is_a_read_of_who_holds_it(admin: httpx.Client) -> None:
    _, (member,) = add_members(admin, 1)
    found = admin.post("/api/v1/members/lookup", json={"national_ids": [member["national_id"]]})
    assert [item["member_id"] for item in found.json()] == [member["id"]]
    assert [e["path"] for e in reads_of(admin, member["id"])] == ["/api/v1/members/lookup"]


def test_the_member_s_log_is_for_admins_and_the_officer_of_its_area(
    admin: httpx.Client, as_role: Callable[..., httpx.Client]
) -> None:
    club, (member,) = add_members(admin, 1)
    path = f"/api/v1/members/{member['id']}/access-log"
    assert as_role("officer", provinces=[LAO_CAI]).get(path).status_code == 200
    assert_problem(as_role("officer", provinces=[HA_NOI]).get(path), 404)
    for role, scope in (
        ("club_manager", {"clubs": [club["id"]]}),
        ("partner", {"funder_id": 3}),
        ("bank", {}),
    ):
        assert_problem(as_role(role, **scope).get(path), 403)
    assert_problem(as_role("officer", provinces=[LAO_CAI]).get(LOG), 403)
    assert_problem(admin.get("/api/v1/members/2000000000/access-log"), 404)


def test_the_whole_log_is_asked_by_principal_window_and_member(admin: httpx.Client) -> None:
    _, (member,) = add_members(admin, 1)
    admin.get(f"/api/v1/members/{member['id']}")
    today = clock.today()
    in_window = entries(admin, member_id=member["id"], **{"from": today.isoformat()})
    assert len(in_window) == 1 and in_window[0]["member_ids"] == [member["id"]]
    yesterday = (today - timedelta(days=1)).isoformat()
    assert entries(admin, member_id=member["id"], to=yesterday) == []
    backwards = admin.get(LOG, params={"from": today.isoformat(), "to": yesterday})
    assert_problem(backwards, 422, "to")
    assert_problem(admin.get(LOG, params={"from": "not a day"}), 422, "from")


@pytest.mark.parametrize("count", [200])
def test_a_full_page_is_logged_whole(admin: httpx.Client, count: int) -> None:
    club, _ = add_members(admin, 0)
    body = [member_payload() for _ in range(count)]
    for payload in body:
        assert admin.post(f"/api/v1/clubs/{club['id']}/members", json=payload).status_code == 201
    page = admin.get(f"/api/v1/clubs/{club['id']}/members", params={"limit": count})
    assert len(page.json()["items"]) == count
    request_id = page.headers["X-Request-Id"]
    (entry,) = [e for e in entries(admin, principal="user:admin") if e["request_id"] == request_id]
    assert entry["members"] == count and len(entry["member_ids"]) == count
