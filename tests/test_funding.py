"""The funding service through the gateway: funders, plans and their versions, money flows,
the transfer of allocations to the clubs' funds, plan against actual, funded clubs, scope."""

import csv
import io
import secrets
import time
from collections.abc import Callable, Iterator
from typing import Any
from xml.etree import ElementTree

import httpx
import pytest
from openpyxl import load_workbook

from tests.factories import HA_NOI, HA_NOI_COMMUNE, LAO_CAI, make_club
from tests.support import assert_problem
from tools.demo_funding import MILLION, lao_cai_2018_plan

pytestmark = pytest.mark.usefixtures("stack")


# Far from today, so that the indicator tests, which read the plans of this year, meet none.
def _periods() -> Iterator[dict[str, int]]:
    """Plan periods no two plans of a session share (a province has one plan per programme and
    period): single years from 2040 first, then longer spans, within the years a plan may state."""
    for span in range(61):
        for start in range(2040, 2101 - span):
            yield {"start_year": start, "end_year": start + span}


PERIODS = _periods()


def make_funder(client: httpx.Client, funder_type: str = "elderly_care_fund", **extra: Any) -> dict:
    body = {"name": f"Funder {secrets.token_hex(4)}", "funder_type": funder_type, **extra}
    response = client.post("/api/v1/funders", json=body)
    assert response.status_code == 201, response.text
    return response.json()


def make_plan(client: httpx.Client, approve: bool = True, **overrides: Any) -> dict:
    # Each test gets a period of its own, since a province has one plan per programme and period.
    payload = {**lao_cai_2018_plan(), **next(PERIODS), **overrides}
    response = client.post("/api/v1/plans", json=payload)
    assert response.status_code == 201, response.text
    plan = response.json()
    if approve:
        response = client.post(f"/api/v1/plans/{plan['id']}/approve")
        assert response.status_code == 200, response.text
        plan = response.json()
    return plan


def line_of(plan: dict, activity: str) -> dict:
    return next(line for line in plan["lines"] if line["activity"] == activity)


def receive(client: httpx.Client, funder: dict, line: dict, amount: int) -> dict:
    body = {
        "funder_id": funder["id"],
        "plan_line_id": line["id"],
        "amount": amount,
        "received_on": "2024-03-01",
    }
    response = client.post("/api/v1/receipts", json=body)
    assert response.status_code == 201, response.text
    return response.json()


def funded_line(client: httpx.Client) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """An approved plan, an Elderly Care Fund, and 100 million received on the plan's seed-capital
    line: (plan, funder, line), enough to allocate to clubs from."""
    plan = make_plan(client)
    funder = make_funder(client)
    line = line_of(plan, "seed_capital")
    receive(client, funder, line, 100 * MILLION)
    return plan, funder, line


def allocate(
    client: httpx.Client, funder: dict, line: dict, club: dict, amount: int
) -> httpx.Response:
    body = {
        "funder_id": funder["id"],
        "plan_line_id": line["id"],
        "club_id": club["id"],
        "amount": amount,
        "allocated_on": "2024-04-01",
        "reference": "seed capital",
    }
    return client.post("/api/v1/allocations", json=body)


def wait_for_status(client: httpx.Client, allocation_id: int, status: str) -> dict:
    deadline = time.monotonic() + 20
    while True:
        body = client.get(f"/api/v1/allocations/{allocation_id}").json()
        if body["status"] == status or time.monotonic() > deadline:
            assert body["status"] == status, body
            return body
        time.sleep(0.1)


def capital_entries(client: httpx.Client, club_id: int) -> list[dict]:
    funds = client.get("/api/v1/funds", params={"club_id": club_id, "kind": "income_generation"})
    assert funds.status_code == 200, funds.text
    if not funds.json()["items"]:
        return []
    fund_id = funds.json()["items"][0]["id"]
    entries = client.get(f"/api/v1/funds/{fund_id}/entries").json()["items"]
    return [entry for entry in entries if entry["entry_type"] == "capital_in"]


# Programmes and funders ----------------------------------------------------------------------


def test_programmes_ship_with_their_targets(admin: httpx.Client) -> None:
    body = admin.get("/api/v1/programmes").json()
    codes = [item["code"] for item in body["items"]]
    assert codes == ["1533", "1336", "1648"]
    decision_1336 = admin.get("/api/v1/programmes/1336").json()
    assert decision_1336["new_clubs"] == 3000
    assert decision_1336["members_able_to_borrow_pct"] == 50
    assert decision_1336["clubs_running_all_activities_pct"] == 70
    assert_problem(admin.get("/api/v1/programmes/9999"), 404)


def test_a_funder_counts_in_the_source_column_of_its_type(admin: httpx.Client) -> None:
    enterprise = make_funder(admin, "enterprise")
    assert enterprise["source"] == "socialisation"
    assert make_funder(admin, "ngo")["source"] == "international"
    duplicate = admin.post(
        "/api/v1/funders", json={"name": enterprise["name"], "funder_type": "individual"}
    )
    assert_problem(duplicate, 409)
    assert_problem(
        admin.post("/api/v1/funders", json={"name": "X", "funder_type": "bank"}), 422, "funder_type"
    )


# Plans ---------------------------------------------------------------------------------------


def test_the_lao_cai_2018_plan_adds_up_line_by_line(admin: httpx.Client) -> None:
    plan = make_plan(admin, approve=False)
    totals = {line["number"]: line["total"] for line in plan["lines"]}
    assert totals == {
        1: 50_700_000,
        2: 18_000_000,
        3: 400_000_000,
        4: 17_600_000,
        5: 43_000_000,
    }
    assert line_of(plan, "seed_capital")["amounts"] == {
        "elderly_care_fund": 320_000_000,
        "socialisation": 80_000_000,
    }
    assert plan["totals_by_source"] == {
        "provincial_budget": 129_300_000,
        "elderly_care_fund": 320_000_000,
        "socialisation": 80_000_000,
    }
    assert plan["total"] == 529_300_000
    assert plan["targets"] == {
        # The plan does not say how many clubs to maintain: no target, not 0.
        "clubs_to_found": 16,
        "clubs_to_maintain": None,
        "members": 2000,
        "older_members": 700,
    }
    assert plan["status"] == "draft" and plan["version"] == 1 and not plan["is_current"]
    unstated = make_plan(admin, approve=False, targets={"clubs_to_found": 3})
    assert unstated["targets"] == {
        "clubs_to_found": 3,
        "clubs_to_maintain": None,
        "members": None,
        "older_members": None,
    }


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (
            {
                "lines": [
                    {"activity": "training", "content": "x", "amounts": {"provincial_budget": -1}}
                ]
            },
            "lines.0.amounts.provincial_budget",
        ),
        (
            {
                "lines": [
                    {
                        "activity": "training",
                        "content": "x",
                        "total": 10,
                        "amounts": {"provincial_budget": 4, "socialisation": 5},
                    }
                ]
            },
            "lines.0",
        ),
        ({"total": 1}, "body"),
        ({"province_code": "99"}, "province_code"),
        ({"programme_code": "0000"}, "programme_code"),
        ({"start_year": 2099, "end_year": 2098}, "body"),
        ({"lines": [{"activity": "feasting", "content": "x", "amounts": {}}]}, "lines.0.activity"),
        (
            {"lines": [{"activity": "training", "content": "x", "amounts": {"bank": 5}}]},
            "lines.0.amounts.bank.[key]",
        ),
        ({"targets": {"members": 10, "older_members": 11}}, "targets"),
    ],
)
def test_bad_plans_are_refused_with_the_field(
    admin: httpx.Client, change: dict, field: str
) -> None:
    payload = {**lao_cai_2018_plan(), **next(PERIODS), **change}
    body = assert_problem(admin.post("/api/v1/plans", json=payload), 422)
    fields = [error["field"] for error in body["errors"]]
    assert any(f.startswith(field) for f in fields), body


def test_a_line_whose_sources_do_not_add_up_says_so(admin: httpx.Client) -> None:
    line = {
        "activity": "seed_capital",
        "content": "Vốn",
        "total": 400 * MILLION,
        "amounts": {"elderly_care_fund": 320 * MILLION, "socialisation": 70 * MILLION},
    }
    payload = {**lao_cai_2018_plan(), **next(PERIODS), "lines": [line]}
    body = assert_problem(admin.post("/api/v1/plans", json=payload), 422)
    assert "390000000" in body["detail"] and "400000000" in body["detail"], body


def test_an_approved_plan_is_immutable_and_a_revision_keeps_it(admin: httpx.Client) -> None:
    plan = make_plan(admin)
    assert plan["status"] == "approved" and plan["is_current"]
    content = {"title": "changed", "lines": lao_cai_2018_plan()["lines"][:1]}
    assert_problem(admin.put(f"/api/v1/plans/{plan['id']}", json=content), 409)
    assert_problem(admin.post(f"/api/v1/plans/{plan['id']}/approve"), 409)

    revision = admin.post(f"/api/v1/plans/{plan['id']}/revisions")
    assert revision.status_code == 201, revision.text
    draft = revision.json()
    assert (draft["version"], draft["status"], draft["series_id"]) == (
        2,
        "draft",
        plan["series_id"],
    )
    assert draft["total"] == plan["total"]
    assert_problem(admin.post(f"/api/v1/plans/{plan['id']}/revisions"), 409)  # one draft at once

    changed = admin.put(f"/api/v1/plans/{draft['id']}", json={**content, "title": "Revised"})
    assert changed.status_code == 200, changed.text
    assert changed.json()["total"] == 50_700_000
    approved = admin.post(f"/api/v1/plans/{draft['id']}/approve").json()
    assert approved["is_current"]

    old = admin.get(f"/api/v1/plans/{plan['id']}").json()
    assert old["total"] == 529_300_000 and old["title"] == plan["title"] and not old["is_current"]
    versions = admin.get(f"/api/v1/plans/{plan['id']}/versions").json()
    assert [v["version"] for v in versions] == [1, 2]
    listed = admin.get("/api/v1/plans", params={"year": plan["start_year"], "province": LAO_CAI})
    # Only the current version of the series (other tests' plans may cover the year too).
    mine = [i["id"] for i in listed.json()["items"] if i["series_id"] == plan["series_id"]]
    assert mine == [draft["id"]]


def test_a_second_plan_for_the_same_period_is_a_conflict(admin: httpx.Client) -> None:
    plan = make_plan(admin, approve=False)
    period = {"start_year": plan["start_year"], "end_year": plan["end_year"]}
    body = assert_problem(admin.post("/api/v1/plans", json={**lao_cai_2018_plan(), **period}), 409)
    assert body["plan_id"] == plan["id"]


def test_a_plan_without_lines_cannot_be_approved(admin: httpx.Client) -> None:
    plan = make_plan(admin, approve=False, lines=[], total=None)
    assert_problem(admin.post(f"/api/v1/plans/{plan['id']}/approve"), 409)


def test_plans_are_scoped_to_the_officers_province(
    admin: httpx.Client, as_role: Callable[..., httpx.Client]
) -> None:
    plan = make_plan(admin, approve=False)
    ha_noi = as_role("officer", provinces=[HA_NOI])
    assert_problem(ha_noi.get(f"/api/v1/plans/{plan['id']}"), 404)
    assert_problem(ha_noi.post(f"/api/v1/plans/{plan['id']}/approve"), 404)
    payload = {**lao_cai_2018_plan(), **next(PERIODS)}
    assert_problem(ha_noi.post("/api/v1/plans", json=payload), 422, "province_code")
    lao_cai = as_role("officer", provinces=[LAO_CAI])
    assert lao_cai.get(f"/api/v1/plans/{plan['id']}").status_code == 200
    approved = lao_cai.post(f"/api/v1/plans/{plan['id']}/approve")
    assert approved.status_code == 200 and approved.json()["approved_by"]


def test_partners_read_approved_plans_only_and_never_write_them(
    admin: httpx.Client, as_role: Callable[..., httpx.Client]
) -> None:
    funder = make_funder(admin, "ngo")
    partner = as_role("partner", funder_id=funder["id"])
    draft = make_plan(admin, approve=False)
    assert_problem(partner.get(f"/api/v1/plans/{draft['id']}"), 404)
    approved = make_plan(admin)
    assert partner.get(f"/api/v1/plans/{approved['id']}").status_code == 200
    assert_problem(partner.post(f"/api/v1/plans/{approved['id']}/revisions"), 403)
    payload = {**lao_cai_2018_plan(), **next(PERIODS)}
    assert_problem(partner.post("/api/v1/plans", json=payload), 403)
    bank = as_role("bank")
    assert_problem(bank.get(f"/api/v1/plans/{approved['id']}"), 403)


# Money flows ---------------------------------------------------------------------------------


@pytest.fixture
def funded(admin: httpx.Client) -> dict[str, Any]:
    """An approved plan, an Elderly Care Fund, a club, and 100 million received."""
    plan, funder, line = funded_line(admin)
    return {"plan": plan, "funder": funder, "line": line, "club": make_club(admin)}


def test_an_allocation_reaches_the_clubs_fund_once(admin: httpx.Client, funded: dict) -> None:
    response = allocate(admin, funded["funder"], funded["line"], funded["club"], 20 * MILLION)
    assert response.status_code == 201, response.text
    assert response.json()["status"] in ("pending", "recorded")
    allocation = wait_for_status(admin, response.json()["id"], "recorded")
    assert allocation["fund_id"] and allocation["ledger_entry_id"] and allocation["attempts"] >= 1
    entries = capital_entries(admin, funded["club"]["id"])
    assert [(e["amount"], e["origin"], e["allocation_id"]) for e in entries] == [
        (20 * MILLION, "allocation", allocation["id"])
    ]
    # A manual retry of a recorded allocation changes nothing.
    assert_problem(admin.post(f"/api/v1/allocations/{allocation['id']}/retry"), 409)
    assert len(capital_entries(admin, funded["club"]["id"])) == 1


def test_allocating_more_than_was_received_is_refused(admin: httpx.Client, funded: dict) -> None:
    first = allocate(admin, funded["funder"], funded["line"], funded["club"], 60 * MILLION)
    assert first.status_code == 201, first.text
    body = assert_problem(
        allocate(admin, funded["funder"], funded["line"], funded["club"], 41 * MILLION), 409
    )
    assert (body["received"], body["allocated"], body["available"]) == (
        100 * MILLION,
        60 * MILLION,
        40 * MILLION,
    )
    # Another funder's receipts do not pay for this funder's allocations.
    other = make_funder(admin)
    assert_problem(allocate(admin, other, funded["line"], funded["club"], 1), 409)
    assert (
        allocate(admin, funded["funder"], funded["line"], funded["club"], 40 * MILLION).status_code
        == 201
    )


def test_concurrent_allocations_never_exceed_the_money_received(
    admin: httpx.Client, funded: dict
) -> None:
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(8) as pool:
        answers = list(
            pool.map(
                lambda _: (
                    allocate(
                        admin, funded["funder"], funded["line"], funded["club"], 30 * MILLION
                    ).status_code
                ),
                range(8),
            )
        )
    assert sorted(answers) == [201, 201, 201, 409, 409, 409, 409, 409]


def test_bad_allocations_are_refused(admin: httpx.Client, funded: dict) -> None:
    funder, line, club = funded["funder"], funded["line"], funded["club"]
    assert_problem(allocate(admin, funder, line, club, -5), 422, "amount")
    assert_problem(allocate(admin, funder, line, club, 0), 422, "amount")
    assert_problem(allocate(admin, funder, line, {"id": 2**31 - 2}, 5), 422, "club_id")
    assert_problem(allocate(admin, {"id": 2**31 - 2}, line, club, 5), 422, "funder_id")
    assert_problem(allocate(admin, funder, {"id": 2**31 - 2}, club, 5), 422, "plan_line_id")
    elsewhere = make_club(admin, province_code=HA_NOI, commune_code=HA_NOI_COMMUNE)
    assert_problem(allocate(admin, funder, line, elsewhere, 5), 422, "club_id")
    dissolved = make_club(admin)
    for status in ("suspended", "dissolved"):
        moved = admin.post(
            f"/api/v1/clubs/{dissolved['id']}/status", json={"status": status, "reason": "test"}
        )
        assert moved.status_code == 200, moved.text
    assert_problem(allocate(admin, funder, line, dissolved, 5), 422, "club_id")
    draft = make_plan(admin, approve=False)
    assert_problem(allocate(admin, funder, line_of(draft, "seed_capital"), club, 5), 409)


def test_plan_against_actual_per_line_and_source(admin: httpx.Client, funded: dict) -> None:
    plan, funder, line = funded["plan"], funded["funder"], funded["line"]
    pledge = {
        "funder_id": funder["id"],
        "plan_line_id": line["id"],
        "amount": 150 * MILLION,
        "committed_on": "2024-02-01",
    }
    assert admin.post("/api/v1/commitments", json=pledge).status_code == 201
    allocated = allocate(admin, funder, line, funded["club"], 25 * MILLION)
    assert allocated.status_code == 201
    body = admin.get(f"/api/v1/plans/{plan['id']}/execution").json()
    seed = next(item for item in body["lines"] if item["number"] == line["number"])
    assert seed["planned"] == 400 * MILLION
    ecf = seed["by_source"]["elderly_care_fund"]
    assert (ecf["planned"], ecf["committed"], ecf["received"], ecf["allocated"]) == (
        320 * MILLION,
        150 * MILLION,
        100 * MILLION,
        25 * MILLION,
    )
    assert ecf["execution_pct"] == 7.8 and ecf["received_pct"] == 31.2
    assert body["total"]["planned"] == 529_300_000
    assert body["by_source"]["provincial_budget"]["planned"] == 129_300_000
    assert body["by_source"]["provincial_budget"]["allocated"] == 0
    national = admin.get("/api/v1/plans/execution", params={"year": plan["start_year"]}).json()
    assert national["total"]["allocated"] >= 25 * MILLION
    assert national["by_province"][LAO_CAI]["planned"] >= 529_300_000


# Scope ---------------------------------------------------------------------------------------


def test_a_partner_sees_its_own_funders_money_and_only_counts_of_the_rest(
    admin: httpx.Client, as_role: Callable[..., httpx.Client], funded: dict
) -> None:
    plan, line, club = funded["plan"], funded["line"], funded["club"]
    ours = make_funder(admin, "ngo")
    theirs = funded["funder"]
    receive(admin, ours, line, 10 * MILLION)
    mine = allocate(admin, ours, line, club, 10 * MILLION).json()
    other_club = make_club(admin)
    not_mine = allocate(admin, theirs, line, other_club, 7 * MILLION).json()
    also_theirs = allocate(admin, theirs, line, club, 3 * MILLION).json()
    partner = as_role("partner", funder_id=ours["id"])

    assert partner.get(f"/api/v1/allocations/{mine['id']}").status_code == 200
    for flow in (not_mine, also_theirs):
        assert_problem(partner.get(f"/api/v1/allocations/{flow['id']}"), 404)
    # Another funder is answered like no funder (404), on every route.
    assert_problem(partner.get("/api/v1/allocations", params={"funder_id": theirs["id"]}), 404)
    own = partner.get("/api/v1/allocations").json()["items"]
    assert {item["funder_id"] for item in own} == {ours["id"]}
    receipts = partner.get("/api/v1/receipts", params={"plan_id": plan["id"]}).json()["items"]
    assert {item["funder_id"] for item in receipts} == {ours["id"]}

    page = partner.get("/api/v1/funded-clubs", params={"province": LAO_CAI}).json()
    assert [item["club_id"] for item in page["items"]] == [club["id"]]
    item = page["items"][0]
    assert item["amount"] == 10 * MILLION and item["other_funders"] == 1
    assert [share["funder_id"] for share in item["funders"]] == [ours["id"]]
    assert item["club_name"] == club["name"] and page["missing"] == []
    assert page["summary"]["other_clubs"] >= 1
    asked_for_theirs = partner.get("/api/v1/funded-clubs", params={"funder_id": theirs["id"]})
    assert_problem(asked_for_theirs, 404)

    everything = admin.get("/api/v1/funded-clubs", params={"funder_id": theirs["id"]}).json()
    by_club = {item["club_id"]: item for item in everything["items"]}
    assert by_club[club["id"]]["amount"] == 3 * MILLION
    assert by_club[other_club["id"]]["amount"] == 7 * MILLION

    # The same as a file for a data team: every club, one row per club and funder it may see.
    window = {"province": LAO_CAI, "from": "2024-01-01"}
    answer = partner.get("/api/v1/funded-clubs", params={**window, "format": "csv"})
    assert answer.status_code == 200, answer.text
    assert 'filename="funded-clubs.csv"' in answer.headers["content-disposition"]
    header, *rows = list(csv.reader(io.StringIO(answer.content.decode("utf-8-sig"))))
    (row,) = [dict(zip(header, values, strict=True)) for values in rows]
    assert (row["period_from"], row["period_to"]) == ("2024-01-01", "")
    assert row["club_id"] == str(club["id"]) and row["club_name"] == club["name"]
    assert row["funder_id"] == str(ours["id"]) and row["amount"] == str(10 * MILLION)
    assert row["club_amount"] == str(10 * MILLION) and row["other_funders"] == "1"
    workbook = admin.get("/api/v1/funded-clubs", params={"province": LAO_CAI, "format": "xlsx"})
    sheet = load_workbook(io.BytesIO(workbook.content)).active
    assert sheet is not None
    header = [cell.value for cell in sheet[2]]
    shown = [
        (
            sheet.cell(n, header.index("club_id") + 1).value,
            sheet.cell(n, header.index("funder_id") + 1).value,
        )
        for n in range(3, sheet.max_row + 1)
    ]
    assert {(club["id"], ours["id"]), (club["id"], theirs["id"])} <= set(shown)


def test_partners_record_only_their_own_pledges(
    admin: httpx.Client, as_role: Callable[..., httpx.Client], funded: dict
) -> None:
    ours = make_funder(admin)  # an elderly care fund: the seed-capital line expects its money
    partner = as_role("partner", funder_id=ours["id"])
    pledge = {
        "plan_line_id": funded["line"]["id"],
        "amount": 5 * MILLION,
        "committed_on": "2024-01-02",
    }
    created = partner.post("/api/v1/commitments", json=pledge)
    assert created.status_code == 201, created.text
    assert created.json()["funder_id"] == ours["id"]
    for_other = partner.post(
        "/api/v1/commitments", json={**pledge, "funder_id": funded["funder"]["id"]}
    )
    assert_problem(for_other, 422, "funder_id")
    receipt = {**pledge, "received_on": "2024-01-02"}
    receipt.pop("committed_on")
    assert_problem(partner.post("/api/v1/receipts", json=receipt), 403)
    assert_problem(
        partner.post(
            "/api/v1/allocations",
            json={**receipt, "club_id": funded["club"]["id"], "allocated_on": "2024-01-02"},
        ),
        403,
    )


def test_officers_see_only_their_provinces_money(
    admin: httpx.Client, as_role: Callable[..., httpx.Client], funded: dict
) -> None:
    allocation = allocate(admin, funded["funder"], funded["line"], funded["club"], MILLION).json()
    ha_noi = as_role("officer", provinces=[HA_NOI])
    assert_problem(ha_noi.get(f"/api/v1/allocations/{allocation['id']}"), 404)
    assert (
        ha_noi.get("/api/v1/allocations", params={"club_id": funded["club"]["id"]}).json()["total"]
        == 0
    )
    assert_problem(
        allocate(ha_noi, funded["funder"], funded["line"], funded["club"], 1), 422, "plan_line_id"
    )
    assert ha_noi.get("/api/v1/funded-clubs", params={"province": LAO_CAI}).json()["items"] == []
    assert_problem(ha_noi.get("/api/v1/plans/execution", params={"province": LAO_CAI}), 404)
    lao_cai = as_role("officer", provinces=[LAO_CAI])
    assert lao_cai.get(f"/api/v1/allocations/{allocation['id']}").status_code == 200


def test_club_boards_and_the_bank_are_refused(as_role: Callable[..., httpx.Client]) -> None:
    board, bank = as_role("club_manager", clubs=[1]), as_role("bank")
    for client in (board, bank):
        for path in (
            "/api/v1/funders",
            "/api/v1/plans",
            "/api/v1/allocations",
            "/api/v1/funded-clubs",
        ):
            assert_problem(client.get(path), 403)
    assert board.get("/api/v1/programmes").status_code == 200
    assert_problem(bank.get("/api/v1/programmes"), 403)


def test_service_tokens_record_allocations_only_through_the_loans_service(
    as_role: Callable[..., httpx.Client],
) -> None:
    service = as_role("service")
    body = {
        "allocation_id": 1,
        "club_id": 1,
        "kind": "activity",
        "amount": 5,
        "occurred_on": "2024-01-01",
    }
    # Through the public gateway, service tokens only read.
    assert_problem(service.post("/api/v1/funds/allocations", json=body), 403)


# Budget tables -------------------------------------------------------------------------------


def test_a_plan_goes_out_as_a_table_and_comes_back_the_same(admin: httpx.Client) -> None:
    approved = make_plan(admin)
    for file_format, media in (("xlsx", "spreadsheetml"), ("csv", "text/csv")):
        for unit in ("million", "dong"):
            exported = admin.get(
                f"/api/v1/plans/{approved['id']}/table",
                params={"format": file_format, "unit": unit},
            )
            assert exported.status_code == 200, exported.text
            assert media in exported.headers["content-type"]
            assert "attachment" in exported.headers["content-disposition"]
            draft = make_plan(admin, approve=False, lines=[], total=None)
            imported = admin.put(
                f"/api/v1/plans/{draft['id']}/table",
                params={"unit": unit},
                files={"file": (f"plan.{file_format}", exported.content)},
            )
            assert imported.status_code == 200, imported.text
            body = imported.json()
            strip = [{k: v for k, v in line.items() if k != "id"} for line in body["lines"]]
            expected = [{k: v for k, v in line.items() if k != "id"} for line in approved["lines"]]
            assert strip == expected
            assert body["total"] == 529_300_000


def test_a_table_with_mistakes_lists_them_and_changes_nothing(admin: httpx.Client) -> None:
    draft = make_plan(admin, approve=False)
    table = (
        "STT;Nội dung;Tổng cộng;Ngân sách tỉnh;Quỹ CS NCT\n"
        "1;Tập huấn;50,7;50,7;\n"
        "2;Vốn ban đầu;400;;32x\n"
    ).encode()
    answer = admin.put(
        f"/api/v1/plans/{draft['id']}/table", files={"file": ("plan.csv", table, "text/csv")}
    )
    body = assert_problem(answer, 422)
    assert any("row 3" in error["field"] for error in body["errors"]), body
    assert admin.get(f"/api/v1/plans/{draft['id']}").json()["total"] == 529_300_000
    approved = make_plan(admin)
    good = "STT,Nội dung,Tổng cộng,Ngân sách tỉnh\n1,Tập huấn,1,1\n".encode()
    assert_problem(
        admin.put(f"/api/v1/plans/{approved['id']}/table", files={"file": ("p.csv", good)}), 409
    )
    pdf = admin.put(
        f"/api/v1/plans/{draft['id']}/table",
        files={"file": ("p.pdf", b"%PDF-1.4", "application/pdf")},
    )
    assert_problem(pdf, 415)


def test_the_loans_service_records_an_allocation_once_and_refuses_a_different_repeat(
    admin: httpx.Client,
    as_role: Callable[..., httpx.Client],
    deliberate_break: Callable[..., None],
) -> None:
    club = make_club(admin)
    body = {
        "allocation_id": 2_000_000_000 + secrets.randbelow(100_000_000),
        "club_id": club["id"],
        "kind": "activity",
        "amount": 7 * MILLION,
        "occurred_on": "2024-05-01",
        "reference": "by hand",
    }
    first = admin.post("/api/v1/funds/allocations", json=body)
    assert first.status_code == 201, first.text
    # Capital for an allocation the funding service never made.
    deliberate_break("allocations", allocation_id=body["allocation_id"])
    again = admin.post("/api/v1/funds/allocations", json=body)
    assert again.status_code == 200 and again.json()["id"] == first.json()["id"]
    assert_problem(admin.post("/api/v1/funds/allocations", json={**body, "amount": 8}), 409)
    shown = admin.get(f"/api/v1/funds/allocations/{body['allocation_id']}")
    assert shown.json()["id"] == first.json()["id"]
    unknown = {**body, "allocation_id": body["allocation_id"] + 1, "club_id": 2**31 - 2}
    assert_problem(admin.post("/api/v1/funds/allocations", json=unknown), 422, "club_id")
    officer = as_role("officer", provinces=[LAO_CAI])
    assert_problem(officer.post("/api/v1/funds/allocations", json=body), 403)


def test_a_retried_allocation_with_the_same_key_is_made_once(
    admin: httpx.Client, funded: dict
) -> None:
    body = {
        "funder_id": funded["funder"]["id"],
        "plan_line_id": funded["line"]["id"],
        "club_id": funded["club"]["id"],
        "amount": 9 * MILLION,
        "allocated_on": "2024-04-01",
    }
    headers = {"Idempotency-Key": secrets.token_hex(8)}
    first = admin.post("/api/v1/allocations", json=body, headers=headers)
    second = admin.post("/api/v1/allocations", json=body, headers=headers)
    assert first.status_code == second.status_code == 201
    assert second.headers.get("Idempotent-Replayed") == "true"
    assert first.json()["id"] == second.json()["id"]
    listed = admin.get("/api/v1/allocations", params={"club_id": funded["club"]["id"]}).json()
    assert listed["total"] == 1
    other = admin.post("/api/v1/allocations", json={**body, "amount": 1}, headers=headers)
    assert_problem(other, 422)


def test_another_funder_is_answered_like_no_funder_on_every_route(
    admin: httpx.Client, as_role: Callable[..., httpx.Client]
) -> None:
    """A partner asking about another funder's money gets what it gets for a funder that does
    not exist: 404, on every route that takes a funder, never a 200 with an empty list."""
    mine, theirs = make_funder(admin), make_funder(admin)
    partner = as_role("partner", funder_id=mine["id"])
    routes = ["/api/v1/allocations", "/api/v1/commitments", "/api/v1/receipts",
              "/api/v1/funded-clubs", "/api/v1/reports/indicators"]  # fmt: skip
    for path in routes:
        assert partner.get(path, params={"funder_id": mine["id"]}).status_code == 200, path
        other = assert_problem(partner.get(path, params={"funder_id": theirs["id"]}), 404)
        missing = assert_problem(partner.get(path, params={"funder_id": 99_999_999}), 404)
        assert (other["code"], other["title"]) == (missing["code"], missing["title"]), path
        assert_problem(admin.get(path, params={"funder_id": 99_999_999}), 404)
    assert_problem(admin.get("/api/v1/funded-clubs", params={"programme": "NONE"}), 422)


def test_a_partner_pledges_to_lines_of_its_source_and_withdraws_a_mistaken_pledge(
    admin: httpx.Client, as_role: Callable[..., httpx.Client]
) -> None:
    plan = make_plan(admin)
    funder = make_funder(admin)  # an elderly care fund: the plan's lines name that source
    partner = as_role("partner", funder_id=funder["id"])
    expecting = next(line for line in plan["lines"] if line["amounts"].get(funder["source"], 0) > 0)
    other = next((line for line in plan["lines"] if funder["source"] not in line["amounts"]), None)
    body = {"plan_line_id": expecting["id"], "amount": 5 * MILLION, "committed_on": "2024-02-01"}
    pledge = partner.post("/api/v1/commitments", json=body)
    assert pledge.status_code == 201, pledge.text
    if other is not None:
        refused = partner.post("/api/v1/commitments", json={**body, "plan_line_id": other["id"]})
        assert assert_problem(refused, 422, "plan_line_id")["errors"][0]["code"] == (
            "source_not_in_line"
        )
    execution = f"/api/v1/plans/{plan['id']}/execution"
    committed = admin.get(execution).json()["total"]["committed"]
    withdrawn = partner.post(
        f"/api/v1/commitments/{pledge.json()['id']}/withdrawal", json={"reason": "sent twice"}
    )
    assert withdrawn.status_code == 200, withdrawn.text
    assert withdrawn.json()["withdrawn_at"] and withdrawn.json()["withdrawn_by"] is None
    seen = admin.get(f"/api/v1/commitments/{pledge.json()['id']}").json()
    assert seen["withdrawn_by"].startswith("user:") and seen["withdrawal_reason"] == "sent twice"
    assert admin.get(execution).json()["total"]["committed"] == committed - 5 * MILLION
    again = partner.post(
        f"/api/v1/commitments/{pledge.json()['id']}/withdrawal", json={"reason": "again"}
    )
    assert assert_problem(again, 409)["code"] == "commitment_withdrawn"
    stranger = as_role("partner", funder_id=make_funder(admin)["id"])
    assert_problem(
        stranger.post(f"/api/v1/commitments/{pledge.json()['id']}/withdrawal",
                      json={"reason": "not mine"}), 404)  # fmt: skip


def test_money_lists_come_as_flat_files_with_the_period_and_the_funder(
    admin: httpx.Client, as_role: Callable[..., httpx.Client]
) -> None:
    funder, plan = make_funder(admin), make_plan(admin)
    line = line_of(plan, "seed_capital")
    receive(admin, funder, line, 8 * MILLION)
    club = make_club(admin)
    allocate(admin, funder, line, club, 3 * MILLION)
    partner = as_role("partner", funder_id=funder["id"])
    window = {"from": "2024-01-01", "to": "2024-12-31"}
    answer = partner.get("/api/v1/allocations", params={**window, "format": "csv"})
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/csv")
    assert 'filename="allocations.csv"' in answer.headers["content-disposition"]
    header, *rows = list(csv.reader(io.StringIO(answer.content.decode("utf-8-sig"))))
    assert header[:3] == ["period_from", "period_to", "funder_name"]
    row = dict(zip(header, rows[0], strict=True))
    assert (row["period_from"], row["period_to"]) == ("2024-01-01", "2024-12-31")
    assert row["funder_name"] == funder["name"] and row["amount"] == str(3 * MILLION)
    assert row["created_by"] == ""  # a partner gets no staff username in a file either
    workbook = admin.get("/api/v1/receipts", params={"funder_id": funder["id"], "format": "xlsx"})
    assert workbook.status_code == 200
    sheet = load_workbook(io.BytesIO(workbook.content)).active
    assert sheet is not None
    header = [cell.value for cell in sheet[2]]
    amount = sheet.cell(3, header.index("amount") + 1).value
    assert amount == 8 * MILLION and isinstance(amount, int)  # numbers stay numbers
    assert_problem(admin.get("/api/v1/receipts", params={"format": "pdf"}), 422, "format")


def test_a_funder_s_money_as_iati_activities(
    admin: httpx.Client, as_role: Callable[..., httpx.Client]
) -> None:
    funder = make_funder(admin, iati_org_id="GB-CHC-288180")
    assert funder["iati_org_id"] == "GB-CHC-288180"
    plan = make_plan(admin)
    line = line_of(plan, "seed_capital")
    pledge = {"funder_id": funder["id"], "plan_line_id": line["id"], "amount": 9 * MILLION,
              "committed_on": "2024-02-01"}  # fmt: skip
    assert admin.post("/api/v1/commitments", json=pledge).status_code == 201
    receive(admin, funder, line, 8 * MILLION)
    club = make_club(admin)
    allocate(admin, funder, line, club, 3 * MILLION)
    partner = as_role("partner", funder_id=funder["id"])
    path = f"/api/v1/funders/{funder['id']}/iati-activities"
    answer = partner.get(path, params={"from": "2024-01-01", "to": "2024-12-31"})
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/xml")
    root = ElementTree.fromstring(answer.content)
    assert root.tag == "iati-activities" and root.get("version") == "2.03"
    (activity,) = root.findall("iati-activity")
    assert activity.findtext("iati-identifier", "").startswith("GB-CHC-288180-PLAN-")
    assert activity.get("default-currency") == "VND"
    moved = sorted(
        (t.find("transaction-type").get("code"), int(t.findtext("value", "0")))  # type: ignore[union-attr]
        for t in activity.findall("transaction")
    )
    assert moved == [("2", 9 * MILLION), ("3", 8 * MILLION), ("4", 3 * MILLION)]
    receivers = [t.findtext("receiver-org/narrative") for t in activity.findall("transaction")]
    assert any(club["code"] in (text or "") for text in receivers)
    stranger = as_role("partner", funder_id=make_funder(admin)["id"])
    assert_problem(stranger.get(path), 404)
    bad = admin.post("/api/v1/funders", json={"name": "X", "funder_type": "ngo",
                                              "iati_org_id": "not an id"})  # fmt: skip
    assert_problem(bad, 422, "iati_org_id")


def test_a_partner_s_other_clubs_are_counted_in_the_window_asked_for(
    admin: httpx.Client, as_role: Callable[..., httpx.Client]
) -> None:
    ours, theirs = make_funder(admin), make_funder(admin)
    plan = make_plan(admin)
    line = line_of(plan, "seed_capital")
    for funder in (ours, theirs):
        receive(admin, funder, line, 20 * MILLION)
    shared_club, their_club = make_club(admin), make_club(admin)

    def give(funder: dict, club: dict, on: str) -> None:
        body = {"funder_id": funder["id"], "plan_line_id": line["id"], "club_id": club["id"],
                "amount": MILLION, "allocated_on": on}  # fmt: skip
        assert admin.post("/api/v1/allocations", json=body).status_code == 201

    give(ours, shared_club, "2023-09-10")
    give(theirs, shared_club, "2023-11-10")
    give(theirs, their_club, "2023-11-11")
    partner = as_role("partner", funder_id=ours["id"])
    window = {"from": "2023-11-01", "to": "2023-11-30", "programme": plan["programme_code"]}
    page = partner.get("/api/v1/funded-clubs", params=window).json()
    mine_in_window = [item["club_id"] for item in page["items"]]
    assert shared_club["id"] not in mine_in_window
    # In November only the other funder's money moved, to both clubs (no other test gives
    # money in that month).
    assert page["summary"]["other_clubs"] == 2
    whole = partner.get("/api/v1/funded-clubs", params={"programme": plan["programme_code"]})
    assert shared_club["id"] in [item["club_id"] for item in whole.json()["items"]]
