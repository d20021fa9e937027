"""A person's rights: their data from every service (JSON and a workbook), erasure across the
services, and the retention job that erases memberships that ended long ago."""

import asyncio
import io
import uuid
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from openpyxl import load_workbook

from common import clock
from common.db import make_engine, normalise_url
from common.service_client import ServiceClient, ServiceTokens
from services.clubs.members import retention
from tests.factories import HA_NOI, make_club, member_payload, national_id
from tests.support import Api, assert_problem, wait_until
from tests.test_activities import add_activity, add_meeting
from tests.test_bank_loans import BANKS, record
from tests.test_events import Feeds
from tests.test_funding import allocate, line_of, make_funder, make_plan, receive
from tests.test_loans import balance, disbursed_loan, make_lending_club, repay
from tools.stack import Stack

NAME = "Lò Thị Xoan"
PHONE = "0987001122"


def personal_data(client: httpx.Client, member_id: int, **params: str) -> httpx.Response:
    return client.get(f"/api/v1/members/{member_id}/personal-data", params=params)


def erase(client: httpx.Client, member_id: int) -> httpx.Response:
    body = {"reason": "Người dân yêu cầu xóa dữ liệu", "request_reference": "Đơn số 12/2026"}
    return client.post(f"/api/v1/members/{member_id}/erasure", json=body)


@pytest.fixture(scope="module")
def bank(api: Api) -> httpx.Client:
    return api.client(api.client_token(*api.create_client("bank", bank_code="VBSP")))


@pytest.fixture
def borrower(admin: httpx.Client, bank: httpx.Client) -> dict[str, Any]:
    """A member of a lending club who owes a loan, attended a meeting and borrows from the
    bank (matched)."""
    club = make_lending_club(admin)
    nid = national_id(1955, "female")
    member = admin.post(
        f"/api/v1/clubs/{club['id']}/members",
        json=member_payload(full_name=NAME, phone=PHONE, national_id=nid),
    ).json()
    lending = {**club, "member_id": member["id"]}
    loan = disbursed_loan(admin, lending)
    add_meeting(admin, club, attending_member_ids=[member["id"]])
    posted = bank.post(
        BANKS,
        json=record(borrower_national_id=nid, borrower_name=NAME),
        headers={"Idempotency-Key": str(uuid.uuid4())},
    )
    assert posted.status_code == 201, posted.text
    bank_loan = posted.json()["bank_loan"]
    wait_until(
        lambda: admin.get(f"{BANKS}/{bank_loan['id']}").json()["member_id"] == member["id"],
        "the bank's record matched",
    )
    return {"club": club, "member": member, "loan": loan, "bank_loan": bank_loan, "nid": nid}


def test_the_person_gets_everything_held_about_them(
    admin: httpx.Client, borrower: dict[str, Any]
) -> None:
    member = borrower["member"]
    assert admin.get(f"/api/v1/members/{member['id']}").status_code == 200
    answer = personal_data(admin, member["id"])
    assert answer.status_code == 200, answer.text
    assert answer.headers["cache-control"] == "no-store"
    held = answer.json()
    (membership,) = held["memberships"]
    assert membership["member"]["full_name"] == NAME
    assert membership["member"]["national_id"] == borrower["nid"]
    assert membership["club"]["id"] == borrower["club"]["id"]
    assert [c["purpose"] for c in membership["consents"]] == [
        "membership",
        "bank_matching",
        "funder_figures",
    ]
    assert [m["held_on"] for m in membership["meetings_attended"]] == ["2024-03-15"]
    assert membership["audit"][0]["action"] == "created"
    (loan,) = held["loans"]
    assert loan["id"] == borrower["loan"]["id"] and loan["instalments"]
    (bank_loan,) = held["bank_loans"]
    assert bank_loan["borrower_name"] == NAME
    assert any(f"/members/{member['id']}" in entry["path"] for entry in held["access_log"])

    # The answer was itself a read of the person's data.
    again = personal_data(admin, member["id"]).json()
    assert again["access_log"][0]["path"].endswith("/personal-data")
    assert again["access_log"][0]["service"] == "gateway"


def test_the_workbook_has_a_sheet_per_kind_with_vietnamese_headers(
    admin: httpx.Client, borrower: dict[str, Any]
) -> None:
    answer = personal_data(admin, borrower["member"]["id"], format="xlsx")
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("application/vnd.openxmlformats")
    assert "attachment" in answer.headers["content-disposition"]
    workbook = load_workbook(io.BytesIO(answer.content))
    assert workbook.sheetnames == [
        "Thành viên",
        "Đồng ý",
        "Sinh hoạt",
        "Khoản vay",
        "Trả nợ",
        "Vay NHCSXH",
        "Lịch sử thay đổi",
        "Nhật ký truy cập",
    ]
    members = list(workbook["Thành viên"].iter_rows(values_only=True))
    assert members[0][:3] == ("Mã thành viên", "Câu lạc bộ", "Họ và tên")
    assert members[1][2] == NAME
    assert len(list(workbook["Khoản vay"].iter_rows())) == 2
    assert_problem(personal_data(admin, borrower["member"]["id"], format="pdf"), 422, "format")


def test_only_admins_and_officers_in_the_area_get_a_person_s_data(
    admin: httpx.Client, as_role: Callable[..., httpx.Client], borrower: dict[str, Any]
) -> None:
    member_id = borrower["member"]["id"]
    club_id = borrower["club"]["id"]
    officer = as_role("officer", provinces=[borrower["club"]["province_code"]])
    assert personal_data(officer, member_id).status_code == 200
    assert_problem(personal_data(as_role("officer", provinces=[HA_NOI]), member_id), 404)
    assert_problem(erase(as_role("officer", provinces=[HA_NOI]), member_id), 404)
    for role, scope in (
        ("club_manager", {"clubs": [club_id]}),
        ("partner", {"funder_id": 3}),
        ("bank", {}),
    ):
        client = as_role(role, **scope)
        assert_problem(personal_data(client, member_id), 403)
        assert_problem(erase(client, member_id), 403)
    assert_problem(personal_data(admin, 2_000_000_000), 404)
    assert_problem(erase(admin, 2_000_000_000), 404)


def _composition(admin: httpx.Client, club_id: int, on: str) -> dict:
    response = admin.get(f"/api/v1/clubs/{club_id}/composition", params={"on": on})
    assert response.status_code == 200, response.text
    body: dict = response.json()
    return body["counts"]


def _identifying(values: Any) -> list[str]:
    text = str(values)
    return [value for value in (NAME, PHONE) if value in text]


def test_erasure_waits_for_the_loan_then_removes_the_person_everywhere(
    admin: httpx.Client,
    borrower: dict[str, Any],
    stack: Stack,
    token_for: Callable[..., str],
) -> None:
    member, loan, club = borrower["member"], borrower["loan"], borrower["club"]
    refused = assert_problem(erase(admin, member["id"]), 409)
    assert refused["loan_ids"] == [loan["id"]]

    owed = assert_problem(repay(admin, loan["id"], 10**9, "2024-02-01"), 422)["owed"]
    paid = repay(admin, loan["id"], owed, "2024-02-01")
    assert paid.status_code == 201, paid.text
    fund_before = balance(admin, club["fund_id"])
    past = {on: _composition(admin, club["id"], on) for on in ("2019-06-01", "2024-06-01")}

    erased = erase(admin, member["id"])
    assert erased.status_code == 200, erased.text
    assert erased.json()["member_ids"] == [member["id"]]
    assert erased.json()["erased_on"] == clock.today().isoformat()

    now = admin.get(f"/api/v1/members/{member['id']}").json()
    assert now["erased_on"] == clock.today().isoformat() and now["left_on"] is not None
    assert now["full_name"] == "" and now["national_id"] is None and now["phone"] is None
    assert now["birth_date"] is None and now["board_role"] is None
    assert now["gender"] == "female" and now["household_status"] == "poor"
    audit = admin.get(f"/api/v1/members/{member['id']}/audit").json()["items"]
    assert audit[-1]["action"] == "erased" and not _identifying(audit)
    assert borrower["nid"] not in str(audit)
    consents = admin.get(f"/api/v1/members/{member['id']}/consents").json()
    assert {c["form_reference"] for c in consents} == {""}

    # The loans service follows: the bank's record is no longer the member's, free text goes.
    bank_loan = borrower["bank_loan"]
    wait_until(
        lambda: admin.get(f"{BANKS}/{bank_loan['id']}").json()["member_id"] is None,
        "the bank's record unlinked",
    )
    kept = admin.get(f"/api/v1/loans/{loan['id']}").json()
    assert kept["purpose"] == "" and kept["status"] == "closed"
    assert kept["amount"] == loan["amount"]
    repayments = admin.get(f"/api/v1/loans/{loan['id']}/repayments").json()["items"]
    assert [r["reference"] for r in repayments] == [""]

    # Money and past figures are as they were.
    assert balance(admin, club["fund_id"]) == fund_before
    for on, counts in past.items():
        assert _composition(admin, club["id"], on) == counts, on

    # Events still in the outbox keep their shape, emptied of the index and the reasons.
    feeds = Feeds(stack, token_for("service"))
    events = {e["type"]: e["data"] for e in feeds.about("clubs", f"member:{member['id']}")}
    assert events["member.joined"]["personal"] == {"national_id_blind_index": None}
    assert events["member.left"]["reason"] == ""
    assert events["member.erased"]["on"] == clock.today().isoformat()

    held = personal_data(admin, member["id"]).json()
    assert not _identifying(held["memberships"]) and held["bank_loans"] == []
    assert_problem(erase(admin, member["id"]), 409)
    changed = admin.patch(f"/api/v1/members/{member['id']}", json={"phone": "0911111111"})
    assert_problem(changed, 409)


def test_a_person_s_memberships_are_erased_together(admin: httpx.Client) -> None:
    nid = national_id(1960, "male")
    first_club, second_club = make_club(admin), make_club(admin)
    first = admin.post(
        f"/api/v1/clubs/{first_club['id']}/members",
        json=member_payload(national_id=nid, gender="male", birth_date="1960-05-01"),
    ).json()
    left = admin.post(f"/api/v1/members/{first['id']}/leave", json={"left_on": "2021-01-01"})
    assert left.status_code == 200, left.text
    second = admin.post(
        f"/api/v1/clubs/{second_club['id']}/members",
        json=member_payload(
            national_id=nid, gender="male", birth_date="1960-05-01", joined_on="2022-01-01"
        ),
    )
    assert second.status_code == 201, second.text
    held = personal_data(admin, second.json()["id"]).json()
    assert [m["member"]["id"] for m in held["memberships"]] == [first["id"], second.json()["id"]]
    erased = erase(admin, first["id"])
    assert erased.status_code == 200, erased.text
    assert erased.json()["member_ids"] == [first["id"], second.json()["id"]]


def _ended_long_ago(admin: httpx.Client, club_id: int, joined: str, left: str) -> int:
    added = admin.post(f"/api/v1/clubs/{club_id}/members", json=member_payload(joined_on=joined))
    assert added.status_code == 201, added.text
    member_id: int = added.json()["id"]
    ended = admin.post(f"/api/v1/members/{member_id}/leave", json={"left_on": left})
    assert ended.status_code == 200, ended.text
    return member_id


def test_the_retention_job_erases_memberships_that_ended_long_ago_once(
    admin: httpx.Client, stack: Stack
) -> None:
    club = make_club(admin, founding_decision_date="2001-01-10")
    old = [_ended_long_ago(admin, club["id"], "2001-02-01", f"2002-0{m}-01") for m in (3, 4)]
    recent = _ended_long_ago(admin, club["id"], "2001-02-01", "2020-01-01")
    engine = make_engine(normalise_url(stack.database_urls["clubs"]))
    tokens = ServiceTokens(stack.gateway_url, "svc-clubs", "dev-only-clubs-secret")

    async def two_jobs_at_once() -> list[int]:
        loans = ServiceClient("loans", stack.url("loans"), tokens)
        try:
            return list(
                await asyncio.gather(
                    retention.erase_due(engine, loans, years=20),
                    retention.erase_due(engine, loans, years=20),
                )
            )
        finally:
            await loans.close()

    try:
        erased = asyncio.run(two_jobs_at_once())
    finally:
        engine.dispose()
    assert sum(erased) >= len(old)
    for member_id in old:
        assert admin.get(f"/api/v1/members/{member_id}").json()["erased_on"] is not None
        actions = [
            e["action"] for e in admin.get(f"/api/v1/members/{member_id}/audit").json()["items"]
        ]
        assert actions.count("erased") == 1
    assert admin.get(f"/api/v1/members/{recent}").json()["erased_on"] is None


# Minimisation: what partners are answered ----------------------------------------------------

PARTNER_NAME = "Hầu Thị Dính"
PARTNER_PHONE = "0968445566"
PARTNER_BIRTH = "1952-07-19"


def _partner_readable_paths(api: Api, ids: dict[str, int]) -> list[str]:
    """Every GET of the merged document whose path parameters this test can fill."""
    document = httpx.get(f"{api.base_url}/openapi.json", timeout=30).json()
    paths = []
    for path, item in document["paths"].items():
        if "get" not in item or not path.startswith("/api/v1/"):
            continue
        for name, value in ids.items():
            path = path.replace("{" + name + "}", str(value))
        if "{" not in path:
            paths.append(path)
    return paths


def test_a_partner_s_answers_carry_no_personal_data(
    admin: httpx.Client, api: Api, as_role: Callable[..., httpx.Client]
) -> None:
    """A partner reads every route it may about a club its money reached: no member's name,
    citizen ID, phone or birth date is in any answer."""
    club = make_club(admin)
    nid = national_id(1952, "female")
    added = admin.post(
        f"/api/v1/clubs/{club['id']}/members",
        json=member_payload(
            full_name=PARTNER_NAME, phone=PARTNER_PHONE, birth_date=PARTNER_BIRTH, national_id=nid
        ),
    )
    assert added.status_code == 201, added.text
    funder, plan = make_funder(admin), make_plan(admin)
    line = line_of(plan, "seed_capital")
    receive(admin, funder, line, 10_000_000)
    allocated = allocate(admin, funder, line, club, 5_000_000)
    assert allocated.status_code == 201, allocated.text
    partner = as_role("partner", funder_id=funder["id"])
    ids = {
        "club_id": club["id"],
        "funder_id": funder["id"],
        "plan_id": plan["id"],
        "allocation_id": allocated.json()["id"],
        "province_code": club["province_code"],
    }
    read = 0
    for path in _partner_readable_paths(api, ids):
        answer = partner.get(path)
        assert answer.status_code < 500, (path, answer.status_code)
        if answer.status_code == 200:
            read += 1
            for value in (PARTNER_NAME, nid, PARTNER_PHONE, PARTNER_BIRTH):
                assert value not in answer.text, path
    assert read >= 20, read


def test_partners_get_no_free_text_and_no_staff_usernames(
    admin: httpx.Client, as_role: Callable[..., httpx.Client]
) -> None:
    """What a board writes about an activity may name a member, and staff usernames are ours:
    a partner gets both as null; the others as written."""
    club = make_club(admin)
    notes = f"Bà {PARTNER_NAME}, thôn Cốc Lếu, được hỗ trợ"
    activity = add_activity(admin, club, notes=notes)
    funder, plan = make_funder(admin), make_plan(admin)
    line = line_of(plan, "seed_capital")
    receive(admin, funder, line, 10_000_000)
    allocation = allocate(admin, funder, line, club, 5_000_000).json()
    partner = as_role("partner", funder_id=funder["id"])
    activities = f"/api/v1/clubs/{club['id']}/activities"
    for answer in (partner.get(activities).json()["items"][0],
                   partner.get(f"{activities}/{activity['id']}").json()):  # fmt: skip
        assert answer["notes"] is None and answer["area"] == activity["area"]
    assert admin.get(f"{activities}/{activity['id']}").json()["notes"] == notes
    one = partner.get(f"/api/v1/allocations/{allocation['id']}").json()
    listed = partner.get("/api/v1/allocations", params={"funder_id": funder["id"]}).json()
    assert one["created_by"] is None and listed["items"][0]["created_by"] is None
    assert admin.get(f"/api/v1/allocations/{allocation['id']}").json()["created_by"]
    shown = partner.get(f"/api/v1/plans/{plan['id']}").json()
    assert shown["created_by"] is None and shown["approved_by"] is None
