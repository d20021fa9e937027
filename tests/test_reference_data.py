"""Reference data an administrator extends: kinds of activity, funding sources and funder types,
from the plans' own text (Lào Cai's 184/KH-UBND of 2018, Hải Phòng's 249/KH-UBND of 2020): the
seeds' lists, an item added without a release, one retired, a source named before its amount is
known ("trong dự toán hằng năm"), and the budget table imported as the plan prints it."""

import csv
import io
import secrets
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from services.funding.rules import SEEDS
from tests.support import assert_problem
from tests.test_budget_table import printed_csv, printed_xlsx
from tests.test_funding import PERIODS, make_funder, make_plan, receive
from tools.demo_funding import MILLION, lao_cai_2018_plan

pytestmark = pytest.mark.usefixtures("stack")


def codes(client: httpx.Client, kind: str, **params: Any) -> dict[str, dict]:
    response = client.get(f"/api/v1/reference/{kind}", params={"limit": 200, **params})
    assert response.status_code == 200, response.text
    return {item["code"]: item for item in response.json()["items"]}


def add_item(client: httpx.Client, kind: str, **body: Any) -> dict:
    response = client.post(f"/api/v1/reference/{kind}", json=body)
    assert response.status_code == 201, response.text
    return dict(response.json())


def new_code(prefix: str) -> str:
    """Codes of this session's own: the platform is shared by every test."""
    return f"{prefix}_{secrets.token_hex(3)}"


def plan_with(client: httpx.Client, lines: list[dict], approve: bool = False) -> dict:
    return make_plan(client, approve=approve, lines=lines, total=None)


# The lists ----------------------------------------------------------------------------------


def test_the_lists_start_with_the_seeds_and_the_plans_additions(
    as_role: Callable[..., httpx.Client],
) -> None:
    board = as_role("club_manager", clubs=[1])
    activities = codes(board, "activities")
    for code in ("training", "seed_capital", "review_conference", "communication", "other"):
        assert code in activities
    assert activities["planning"]["name_vi"] == "Xây dựng kế hoạch"
    assert activities["resource_mobilisation"]["name_vi"] == "Vận động nguồn lực"
    assert activities["international_cooperation"]["name_en"] == "International cooperation"
    sources = codes(as_role("partner", funder_id=1), "sources")
    assert sources["provincial_budget"]["name_vi"] == "Ngân sách tỉnh"
    assert (
        sources["elderly_care_fund"]["name_vi"] == "Quỹ Chăm sóc và phát huy vai trò người cao tuổi"
    )
    assert sources["social_security_fund"]["name_vi"] == "Quỹ An sinh xã hội"
    assert sources["credit_fund"]["name_vi"] == "Quỹ tín dụng"
    assert sources["elderly_association"]["name_vi"] == "Hội Người cao tuổi đóng góp"
    funder_types = codes(as_role("officer", provinces=["15"]), "funder-types")
    assert funder_types["enterprise"]["source"] == "socialisation"
    assert funder_types["ngo"]["source"] == "international"
    # The migration's seeds are the ones the code names (services/funding/rules.py).
    for kind, seeds in SEEDS.items():
        listed = codes(board, kind.value)
        for seed in seeds:
            item = listed[seed.code]
            assert (item["name_vi"], item["name_en"], item["source"]) == seed[1:], seed
    one = board.get("/api/v1/reference/sources/credit_fund")
    assert one.status_code == 200 and one.json()["retired"] is False
    assert_problem(board.get("/api/v1/reference/sources/bank"), 404)
    assert_problem(board.get("/api/v1/reference/colours"), 422)
    # The bank's systems have no business with the programme's lists.
    assert_problem(as_role("bank").get("/api/v1/reference/sources"), 403)


def test_an_administrator_adds_an_item_once_and_only_an_administrator(
    admin: httpx.Client, as_role: Callable[..., httpx.Client]
) -> None:
    code = new_code("child_fund")
    body = {"code": code, "name_vi": "Quỹ Bảo trợ trẻ em", "name_en": "Child protection fund"}
    key = {"Idempotency-Key": secrets.token_hex(8)}
    first = admin.post("/api/v1/reference/sources", json=body, headers=key)
    assert first.status_code == 201, first.text
    again = admin.post("/api/v1/reference/sources", json=body, headers=key)
    assert again.status_code == 201 and again.json() == first.json()
    assert first.json()["kind"] == "sources" and first.json()["source"] is None
    assert_problem(admin.post("/api/v1/reference/sources", json=body), 409)
    # The same code may name an item of another list.
    assert add_item(admin, "activities", **body)["kind"] == "activities"

    officer = as_role("officer", provinces=["15"])
    other = {**body, "code": new_code("fund")}
    assert_problem(officer.post("/api/v1/reference/sources", json=other), 403)
    assert_problem(officer.patch(f"/api/v1/reference/sources/{code}", json={"retired": True}), 403)
    assert_problem(
        as_role("partner", funder_id=1).post("/api/v1/reference/sources", json=other), 403
    )
    bad = {**body, "code": "Quỹ trẻ em"}
    assert_problem(admin.post("/api/v1/reference/sources", json=bad), 422, "code")


def test_a_funder_type_names_the_source_its_money_counts_in(admin: httpx.Client) -> None:
    base = {"name_vi": "Quỹ tín dụng nhân dân xã", "name_en": "Commune credit fund"}
    code = new_code("people_credit")
    assert_problem(admin.post("/api/v1/reference/funder-types", json={**base, "code": code}), 422)
    unknown = {**base, "code": code, "source": "bank"}
    body = assert_problem(admin.post("/api/v1/reference/funder-types", json=unknown), 422)
    assert "GET /api/v1/reference/sources" in body["errors"][0]["reason"]
    added = add_item(admin, "funder-types", **base, code=code, source="credit_fund")
    funder = make_funder(admin, added["code"])
    assert (funder["funder_type"], funder["source"]) == (code, "credit_fund")
    listed = admin.get("/api/v1/funders", params={"funder_type": code}).json()["items"]
    assert [item["id"] for item in listed] == [funder["id"]]
    with_source = {**base, "code": new_code("x"), "source": "credit_fund"}
    assert_problem(admin.post("/api/v1/reference/sources", json=with_source), 422, "source")
    refused = admin.post("/api/v1/funders", json={"name": "Quỹ X", "funder_type": "bank"})
    body = assert_problem(refused, 422, "funder_type")
    assert "GET /api/v1/reference/funder-types" in body["errors"][0]["reason"]


# Plans that name them -----------------------------------------------------------------------


def test_a_plan_takes_items_added_without_a_release_and_refuses_unknown_codes(
    admin: httpx.Client,
) -> None:
    source = add_item(
        admin, "sources", code=new_code("child_fund"), name_vi="Quỹ Bảo trợ trẻ em", name_en="C"
    )["code"]
    activity = add_item(
        admin, "activities", code=new_code("visit"), name_vi="Tham quan học tập", name_en="V"
    )["code"]
    line = {"activity": activity, "content": "Tham quan mô hình CLB", "amounts": {source: 12}}
    plan = plan_with(admin, [line])
    assert plan["lines"][0]["activity"] == activity
    assert plan["lines"][0]["amounts"] == {source: 12}
    assert plan["totals_by_source"] == {source: 12}

    wrong = {"activity": "feasting", "content": "x", "amounts": {"bank": 5, source: 1}}
    payload = {**lao_cai_2018_plan(), **next(PERIODS), "lines": [line, wrong], "total": None}
    body = assert_problem(admin.post("/api/v1/plans", json=payload), 422)
    reasons = {error["field"]: error["reason"] for error in body["errors"]}
    assert set(reasons) == {"lines.1.activity", "lines.1.amounts.bank.[key]"}
    assert "GET /api/v1/reference/activities" in reasons["lines.1.activity"]
    assert "GET /api/v1/reference/sources" in reasons["lines.1.amounts.bank.[key]"]
    assert {error["code"] for error in body["errors"]} == {"unknown_reference"}
    changed = admin.put(f"/api/v1/plans/{plan['id']}", json={"title": "x", "lines": [wrong]})
    assert_problem(changed, 422, "lines.0.activity")


def test_a_retired_item_is_refused_for_new_records_and_old_ones_keep_it(
    admin: httpx.Client,
) -> None:
    source = add_item(
        admin, "sources", code=new_code("old_fund"), name_vi="Quỹ cũ", name_en="Old fund"
    )["code"]
    line = {"activity": "training", "content": "Tập huấn", "amounts": {source: 7 * MILLION}}
    plan = plan_with(admin, [line], approve=True)
    retired = admin.patch(f"/api/v1/reference/sources/{source}", json={"retired": True})
    assert retired.status_code == 200 and retired.json()["retired"] is True
    assert source in codes(admin, "sources", retired=True)
    assert source not in codes(admin, "sources", retired=False)

    payload = {**lao_cai_2018_plan(), **next(PERIODS), "lines": [line], "total": None}
    body = assert_problem(admin.post("/api/v1/plans", json=payload), 422)
    assert body["errors"][0]["code"] == "retired_reference"
    assert body["errors"][0]["field"] == f"lines.0.amounts.{source}.[key]"
    kept = admin.get(f"/api/v1/plans/{plan['id']}").json()
    assert kept["lines"][0]["amounts"] == {source: 7 * MILLION}
    revision = admin.post(f"/api/v1/plans/{plan['id']}/revisions")
    assert revision.status_code == 201, revision.text
    assert revision.json()["lines"][0]["amounts"] == {source: 7 * MILLION}
    execution = admin.get(f"/api/v1/plans/{plan['id']}/execution").json()
    assert execution["by_source"][source]["planned"] == 7 * MILLION


def test_money_from_a_funder_of_an_added_type_counts_in_its_source(admin: httpx.Client) -> None:
    line = {
        "activity": "seed_capital",
        "content": "Hỗ trợ vốn từ Quỹ An sinh xã hội",
        "amounts": {"social_security_fund": 40 * MILLION},
    }
    plan = plan_with(admin, [line], approve=True)
    funder = make_funder(admin, "social_security_fund")
    receipt = receive(admin, funder, plan["lines"][0], 10 * MILLION)
    assert receipt["source"] == "social_security_fund"
    execution = admin.get(f"/api/v1/plans/{plan['id']}/execution").json()
    figures = execution["by_source"]["social_security_fund"]
    assert (figures["planned"], figures["received"]) == (40 * MILLION, 10 * MILLION)


# A source named before its amount is known ---------------------------------------------------


def test_a_source_in_the_annual_estimate_is_kept_with_a_null_amount(admin: httpx.Client) -> None:
    # Hải Phòng's plan 249 pays its tasks "trong dự toán hằng năm" of the agencies.
    lines = [
        {
            "activity": "communication",
            "content": "Tuyên truyền về mô hình CLB trên báo, đài Hải Phòng",
            "amounts": {"provincial_budget": None, "socialisation": 5 * MILLION},
        },
        {"activity": "planning", "content": "Xây dựng kế hoạch", "amounts": {"commune_budget": 0}},
    ]
    plan = plan_with(admin, lines, approve=True)
    first, second = plan["lines"]
    assert first["amounts"] == {"provincial_budget": None, "socialisation": 5 * MILLION}
    assert first["total"] == 5 * MILLION and second["amounts"] == {}
    assert plan["totals_by_source"] == {"provincial_budget": 0, "socialisation": 5 * MILLION}
    assert plan["total"] == 5 * MILLION
    listed = admin.get("/api/v1/plans", params={"year": plan["start_year"], "province": "15"})
    assert any(item["total"] == 5 * MILLION for item in listed.json()["items"])
    execution = admin.get(f"/api/v1/plans/{plan['id']}/execution").json()
    assert execution["by_source"]["provincial_budget"]["planned"] == 0

    exported = admin.get(f"/api/v1/plans/{plan['id']}/table", params={"format": "csv"})
    assert exported.status_code == 200, exported.text
    rows = list(csv.reader(io.StringIO(exported.content.decode("utf-8-sig"))))
    assert rows[2][3:5] == ["Ngân sách tỉnh", "Xã hội hóa"]
    assert rows[3][3:6] == ["Trong dự toán", "5", "Truyền thông"]
    draft = make_plan(admin, approve=False, lines=[], total=None)
    imported = admin.put(
        f"/api/v1/plans/{draft['id']}/table", files={"file": ("plan.csv", exported.content)}
    )
    assert imported.status_code == 200, imported.text
    assert imported.json()["lines"][0]["amounts"] == first["amounts"]


# The budget table as the plan prints it ------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "table"), [("184-KH-UBND.xlsx", printed_xlsx), ("184-KH-UBND.csv", printed_csv)]
)
def test_lao_cais_printed_table_imports_with_activities_to_confirm(
    admin: httpx.Client,
    as_role: Callable[..., httpx.Client],
    name: str,
    table: Callable[[], bytes],
) -> None:
    draft = make_plan(admin, approve=False, lines=[], total=None)
    lao_cai = as_role("officer", provinces=["15"])
    imported = lao_cai.put(f"/api/v1/plans/{draft['id']}/table", files={"file": (name, table())})
    assert imported.status_code == 200, imported.text
    plan = imported.json()
    assert [(line["activity"], line["activity_inferred"]) for line in plan["lines"]] == [
        ("training", True),
        ("club_establishment", True),
        ("seed_capital", True),
        ("monitoring", True),
        ("review_conference", True),
    ]
    assert plan["total"] == 529_300_000
    assert plan["totals_by_source"] == {
        "provincial_budget": 129_300_000,
        "elderly_care_fund": 320 * MILLION,
        "socialisation": 80 * MILLION,
    }
    # The officer confirms the activities by giving them: the marks go.
    confirmed = [
        {k: line[k] for k in ("number", "activity", "content", "amounts")} for line in plan["lines"]
    ]
    answer = lao_cai.put(
        f"/api/v1/plans/{draft['id']}", json={"title": plan["title"], "lines": confirmed}
    )
    assert answer.status_code == 200, answer.text
    assert not any(line["activity_inferred"] for line in answer.json()["lines"])
    # Another province's officer reaches neither the plan nor its table.
    ha_noi = as_role("officer", provinces=["01"])
    assert_problem(
        ha_noi.put(f"/api/v1/plans/{draft['id']}/table", files={"file": (name, table())}), 404
    )


def test_the_exported_table_shows_the_lists_names(admin: httpx.Client) -> None:
    source = add_item(
        admin, "sources", code=new_code("coop"), name_vi="Hợp tác xã", name_en="Cooperative"
    )["code"]
    line = {"activity": "other", "content": "Văn phòng phẩm", "amounts": {source: 2 * MILLION}}
    plan = plan_with(admin, [line])
    renamed = admin.patch(
        f"/api/v1/reference/sources/{source}", json={"name_vi": "Nguồn hợp tác xã"}
    )
    assert renamed.status_code == 200, renamed.text
    exported = admin.get(f"/api/v1/plans/{plan['id']}/table", params={"format": "csv"})
    rows = list(csv.reader(io.StringIO(exported.content.decode("utf-8-sig"))))
    assert rows[2][3:] == ["Nguồn hợp tác xã", "Hoạt động"]
    assert rows[3][3:] == ["2", "Hoạt động khác"]
