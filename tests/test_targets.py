"""Targets in the indicators' catalogue, as the plans and the programme phases state them."""

import io
from collections.abc import Callable
from typing import Any

import httpx
from openpyxl import load_workbook

from common import places
from tests.factories import LAO_CAI, make_club
from tests.support import assert_problem, wait_until
from tests.test_activities import add_member, meeting_payload
from tests.test_funding import make_plan
from tests.test_loans import FUND_CAPITAL, disbursed_loan, make_lending_club
from tools.demo_funding import lao_cai_2018_targets

OLD_LAO_CAI, BAT_XAT, OLD_HAI_DUONG = "10", "082", "30"
LAO_CAI_WARD = "02647"


def target(**overrides: Any) -> dict[str, Any]:
    return {
        "indicator": "clubs.founded",
        "area": {"level": "former_province", "code": OLD_LAO_CAI},
        "period_from": "2018-01-01",
        "period_to": "2018-12-31",
        "minimum": 16,
        **overrides,
    }


WOMEN_60_TO_70_PCT = target(
    indicator="members.women_share",
    area={"level": "province", "code": LAO_CAI},
    period_from=None,
    minimum=60,
    maximum=70,
)
"""A plan's "Nữ chiếm 60–70 %": a range of a share, on today's province."""


def add(
    client: httpx.Client,
    plan: dict[str, Any],
    body: dict[str, Any] | None = None,
    /,
    **fields: Any,
) -> dict[str, Any]:
    """Adds `body`, or the `target` these fields make, to the plan."""
    body = target(**fields) if body is None else body
    response = client.post(f"/api/v1/plans/{plan['id']}/targets", json=body)
    assert response.status_code == 201, response.text
    assert (
        response.headers["location"]
        == f"/api/v1/plans/{plan['id']}/targets/{response.json()['id']}"
    )
    return dict(response.json())


def test_the_catalogue_names_every_indicator_in_both_languages(admin: httpx.Client) -> None:
    answer = admin.get("/api/v1/indicators")
    assert answer.status_code == 200, answer.text
    by_code = {item["code"]: item for item in answer.json()}
    assert {"clubs.founded", "members.women_share", "coverage.communes_share"} <= set(by_code)
    women = by_code["members.women_share"]
    assert women["unit"] == "share" and women["numerator"] == "members.women"
    assert women["denominator"] == "members.total" and women["name_vi"] == "Tỷ lệ thành viên là nữ"
    assert by_code["clubs.fund_at_least"]["parameter"]
    assert admin.get("/api/v1/indicators/members.older").json()["counted"] == "on_date"
    assert_problem(admin.get("/api/v1/indicators/members.happiness"), 404)


def test_lao_cai_s_2018_plan_states_its_targets_on_its_old_territory(admin: httpx.Client) -> None:
    # "16 clubs, ≥ 2,000 members, ≥ 700 older members by the end of 2018", on Lào Cai as it was
    # before the 2025 merger; the older members are those aged 55 and over (its quota profile).
    plan = make_plan(admin, approve=False)
    founded = add(admin, plan, target(wording="Thành lập mới 16 câu lạc bộ"))
    members = add(
        admin,
        plan,
        indicator="members.total",
        period_from=None,
        minimum=2000,
        wording="2.000 thành viên",
    )
    older = add(admin, plan, target(indicator="members.older", period_from=None, minimum=700))
    by_district = add(
        admin, plan, target(area={"level": "former_district", "code": BAT_XAT}, minimum=2)
    )
    assert founded["area"] == {
        "level": "former_province",
        "code": OLD_LAO_CAI,
        "name": "Tỉnh Lào Cai",
    }
    assert founded["unit"] == "count" and founded["minimum"] == 16 and founded["maximum"] is None
    assert members["minimum"] == 2000 and members["period_from"] is None
    assert by_district["area"]["name"] == "Huyện Bát Xát"
    listed = admin.get(f"/api/v1/plans/{plan['id']}/targets").json()
    assert [t["id"] for t in listed] == [
        founded["id"],
        members["id"],
        older["id"],
        by_district["id"],
    ]
    one = admin.get(f"/api/v1/plans/{plan['id']}/targets/{older['id']}")
    assert one.status_code == 200 and one.json()["indicator"] == "members.older"


def test_a_range_a_share_and_a_commune_are_stated_as_written(admin: httpx.Client) -> None:
    # "Nữ chiếm 60–70 %", "100 % số xã có câu lạc bộ", a ward of today's Lào Cai.
    plan = make_plan(admin, approve=False)
    women = add(admin, plan, WOMEN_60_TO_70_PCT)
    coverage = add(
        admin,
        plan,
        indicator="coverage.communes_share",
        area={"level": "province", "code": LAO_CAI},
        period_from=None,
        minimum=100,
    )
    ward = add(
        admin,
        plan,
        indicator="clubs.founded",
        area={"level": "commune", "code": LAO_CAI_WARD},
        minimum=1,
    )
    each_year = add(admin, plan, target(minimum=15, each_year=True, period_to="2020-12-31"))
    fund = add(
        admin,
        plan,
        indicator="clubs.fund_at_least_share",
        area={"level": "province", "code": LAO_CAI},
        period_from=None,
        minimum=50,
        parameter=30_000_000,
    )
    assert (women["minimum"], women["maximum"], women["unit"]) == (60, 70, "share")
    assert coverage["minimum"] == 100 and ward["area"]["name"] == "Phường Lào Cai"
    assert each_year["each_year"] is True and fund["parameter"] == 30_000_000


def test_targets_that_do_not_fit_their_indicator_are_refused_on_the_field(
    admin: httpx.Client,
) -> None:
    plan = make_plan(admin, approve=False)
    url = f"/api/v1/plans/{plan['id']}/targets"
    refused = [
        (target(indicator="members.happiness"), "indicator"),
        (target(area={"level": "former_district", "code": "999"}), "area.code"),
        (target(area={"level": "province"}), "area.code"),
        (target(area={"level": "nation"}), "area.level"),  # a province's plan
        (target(area={"level": "former_province", "code": OLD_HAI_DUONG}), "area.code"),
        (target(indicator="coverage.communes", area={"level": "commune", "code": "02647"}),
         "area.level"),
        (target(minimum=None), "minimum"),
        (target(minimum=16.5), "minimum"),
        (target(indicator="members.women_share", period_from=None, minimum=60.125), "minimum"),
        (target(indicator="members.women_share", period_from=None, minimum=101), "minimum"),
        (target(minimum=20, maximum=10), "maximum"),
        (target(period_from="2019-01-01"), "period_to"),
        (target(indicator="members.total"), "period_from"),
        (target(indicator="members.total", period_from=None, each_year=True), "each_year"),
        (target(indicator="clubs.fund_at_least", period_from=None), "parameter"),
        (target(parameter=5), "parameter"),
        (target(minimum=-1), "minimum"),
        ({**target(), "colour": "red"}, "colour"),
    ]  # fmt: skip
    for body, field in refused:
        problem = assert_problem(admin.post(url, json=body), 422)
        fields = [error["field"] for error in problem["errors"]]
        assert any(name == field or name.startswith(f"{field}.") for name in fields), (
            body,
            problem,
        )
    assert admin.get(url).json() == []


def test_an_approved_plan_s_targets_are_fixed_and_a_revision_starts_with_them(
    admin: httpx.Client,
) -> None:
    plan = make_plan(admin, approve=False)
    first = add(admin, plan, target())
    assert admin.post(f"/api/v1/plans/{plan['id']}/approve").status_code == 200
    fixed = assert_problem(admin.post(f"/api/v1/plans/{plan['id']}/targets", json=target()), 409)
    assert fixed["code"] == "plan_approved_is_fixed"
    gone = admin.delete(f"/api/v1/plans/{plan['id']}/targets/{first['id']}")
    assert assert_problem(gone, 409)["code"] == "plan_approved_is_fixed"
    revision = admin.post(f"/api/v1/plans/{plan['id']}/revisions")
    assert revision.status_code == 201, revision.text
    copied = admin.get(f"/api/v1/plans/{revision.json()['id']}/targets").json()
    assert [(t["indicator"], t["minimum"], t["wording"]) for t in copied] == [
        (first["indicator"], first["minimum"], first["wording"])
    ]
    removed = admin.delete(f"/api/v1/plans/{revision.json()['id']}/targets/{copied[0]['id']}")
    assert removed.status_code == 204
    assert admin.get(f"/api/v1/plans/{revision.json()['id']}/targets").json() == []
    assert len(admin.get(f"/api/v1/plans/{plan['id']}/targets").json()) == 1


def test_the_phases_carry_their_own_targets(admin: httpx.Client) -> None:
    phase = admin.get("/api/v1/programmes/1336/targets").json()
    by_indicator = {t["indicator"]: t for t in phase}
    assert by_indicator["clubs.founded"]["minimum"] == 3000
    assert by_indicator["members.older"]["minimum"] == 100001  # "trên 100.000"
    assert by_indicator["members.borrowed_share"]["unit"] == "share"
    assert all(t["area"] == {"level": "nation", "code": None, "name": None} for t in phase)
    later = admin.get("/api/v1/programmes/1648/targets").json()
    assert sorted((t["period_to"], t["minimum"]) for t in later) == [
        ("2030-12-31", 6000),
        ("2035-12-31", 12000),
    ]
    assert_problem(admin.get("/api/v1/programmes/9999/targets"), 404)


def test_admins_write_the_phases_targets_and_the_others_read_them(
    admin: httpx.Client, as_role: Callable[..., httpx.Client]
) -> None:
    body = target(
        indicator="clubs.active",
        area={"level": "province", "code": LAO_CAI},
        period_from=None,
        period_to="2035-12-31",
        minimum=400,
    )
    added = admin.post("/api/v1/programmes/1648/targets", json=body)
    assert added.status_code == 201, added.text
    officer = as_role("officer", provinces=[LAO_CAI])
    assert_problem(officer.post("/api/v1/programmes/1648/targets", json=body), 403)
    assert_problem(officer.delete(f"/api/v1/programmes/1648/targets/{added.json()['id']}"), 403)
    assert officer.get("/api/v1/programmes/1648/targets").status_code == 200
    assert officer.get("/api/v1/indicators").status_code == 200
    removed = admin.delete(f"/api/v1/programmes/1648/targets/{added.json()['id']}")
    assert removed.status_code == 204
    assert_problem(admin.delete(f"/api/v1/programmes/1336/targets/{added.json()['id']}"), 404)


def test_a_plan_s_targets_follow_the_plan_s_scope(
    admin: httpx.Client, as_role: Callable[..., httpx.Client]
) -> None:
    plan = make_plan(admin, approve=False)
    first = add(admin, plan, target())
    own = as_role("officer", provinces=[LAO_CAI])
    other = as_role("officer", provinces=["01"])
    assert own.get(f"/api/v1/plans/{plan['id']}/targets").status_code == 200
    assert own.post(f"/api/v1/plans/{plan['id']}/targets", json=target()).status_code == 201
    assert_problem(other.get(f"/api/v1/plans/{plan['id']}/targets"), 404)
    assert_problem(other.post(f"/api/v1/plans/{plan['id']}/targets", json=target()), 404)
    assert_problem(other.delete(f"/api/v1/plans/{plan['id']}/targets/{first['id']}"), 404)
    assert_problem(other.get(f"/api/v1/plans/{plan['id']}/targets/{first['id']}"), 404)
    # Partners read approved plans only; club boards and the bank no plans at all.
    partner = as_role("partner", funder_id=1)
    assert_problem(partner.get(f"/api/v1/plans/{plan['id']}/targets"), 404)
    for role in ("club_manager", "bank"):
        extra = {"clubs": [1]} if role == "club_manager" else {}
        assert_problem(as_role(role, **extra).get(f"/api/v1/plans/{plan['id']}/targets"), 403)


# The report --------------------------------------------------------------------------------

HAI_PHONG = "31"


def _commune_of_one_former_district() -> tuple[str, str]:
    """A commune of today's Hải Phòng that lay in one former district, and that district."""
    for code, unit in places.communes().items():
        districts = places.former_districts_of().get(code, frozenset())
        if unit.province_code == HAI_PHONG and len(districts) == 1:
            return code, next(iter(districts))
    raise AssertionError("no such commune")


def report_of(client: httpx.Client, **params: Any) -> dict[str, Any]:
    answer = client.get("/api/v1/reports/targets", params=params)
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def test_a_plan_s_targets_are_reported_with_figure_result_gap_and_trend(
    admin: httpx.Client,
) -> None:
    commune, district = _commune_of_one_former_district()
    for founded in ("2019-03-01", "2019-06-01", "2020-02-01"):
        make_club(
            admin,
            province_code=HAI_PHONG,
            commune_code=commune,
            founding_decision_date=founded,
        )
    plan = make_plan(admin, approve=False, province_code=HAI_PHONG)
    year_2019 = {"period_from": "2019-01-01", "period_to": "2019-12-31"}
    in_district = add(
        admin,
        plan,
        target(area={"level": "former_district", "code": district}, minimum=2, **year_2019),
    )
    each_year = add(
        admin,
        plan,
        area={"level": "commune", "code": commune},
        period_from="2019-01-01",
        period_to="2020-12-31",
        minimum=2,
        each_year=True,
    )
    coverage = add(
        admin,
        plan,
        indicator="coverage.units_share",  # communes, wards and special zones alike
        area={"level": "province", "code": HAI_PHONG},
        period_from=None,
        period_to="2020-12-31",
        minimum=100,
    )
    borrowed = add(
        admin,
        plan,
        indicator="members.borrowed",
        area={"level": "province", "code": HAI_PHONG},
        minimum=1,
        **year_2019,
    )
    borrowed_in_district = add(
        admin,
        plan,
        indicator="members.borrowed",
        area={"level": "former_district", "code": district},
        minimum=1,
        **year_2019,
    )
    districts = add(
        admin,
        plan,
        indicator="coverage.former_districts",
        area={"level": "province", "code": HAI_PHONG},
        period_from=None,
        period_to="2020-12-31",
        minimum=1,
    )
    maintained = add(
        admin,
        plan,
        indicator="clubs.maintained_share",
        area={"level": "province", "code": HAI_PHONG},
        period_from="2020-01-01",
        period_to="2020-12-31",
        minimum=100,
    )
    later = add(
        admin,
        plan,
        area={"level": "province", "code": HAI_PHONG},
        period_from="2099-01-01",
        period_to="2099-12-31",
    )
    found = report_of(admin, plan_id=plan["id"], on="2026-12-01")
    by_id = {item["target"]["id"]: item for item in found["results"]}
    district_result = by_id[in_district["id"]]
    assert district_result["verdict"] == "met" and district_result["figure"] >= 2
    assert district_result["gap"] == 0
    assert (district_result["period_from"], district_result["period_to"]) == (
        "2019-01-01",
        "2019-12-31",
    )
    assert [p["period_from"] for p in district_result["previous"]] == ["2018-01-01", "2017-01-01"]
    yearly = by_id[each_year["id"]]
    assert [y["figure"] for y in yearly["years"]] == [2, 1]
    assert yearly["verdict"] == "not_met" and yearly["figure"] == 1 and yearly["gap"] == 1
    communes = [u for u in places.communes().values() if u.province_code == HAI_PHONG]
    covered = by_id[coverage["id"]]
    assert covered["verdict"] == "not_met" and covered["period_from"] is None
    assert 100 / len(communes) <= covered["figure"] < 100
    assert covered["gap"] == round(100 - covered["figure"], 2)
    # Counted by the loans service: nobody in these clubs borrowed in 2019.
    assert by_id[borrowed["id"]]["verdict"] == "not_met"
    assert (by_id[borrowed["id"]]["figure"], by_id[borrowed["id"]]["gap"]) == (0, 1)
    # The loans service counts a former district's clubs as the clubs service lists them.
    in_district_result = by_id[borrowed_in_district["id"]]
    assert (in_district_result["verdict"], in_district_result["figure"]) == ("not_met", 0)
    assert by_id[later["id"]]["verdict"] == "not_started"
    # The 2019 clubs lie in one former district, and both went on through 2020.
    assert by_id[districts["id"]]["verdict"] == "met" and by_id[districts["id"]]["figure"] >= 1
    assert by_id[maintained["id"]]["figure"] == 100
    assert (found["met"], found["not_met"], found["not_counted"]) == (3, 4, 0)
    # Every club's two funds are opened as it is registered (the loans service hears of it).
    both = add(
        admin,
        plan,
        indicator="clubs.with_both_funds_share",
        area={"level": "commune", "code": commune},
        period_from=None,
        period_to="2099-12-31",
        minimum=100,
    )

    def funds_opened() -> dict[str, Any] | None:
        results = report_of(admin, plan_id=plan["id"])["results"]
        found = next(item for item in results if item["target"]["id"] == both["id"])
        return found if found["verdict"] == "met" else None

    assert wait_until(funds_opened, "both funds of the new clubs")["figure"] == 100
    # As far as a day within 2019: the clubs founded by then.
    mid_year = report_of(admin, plan_id=plan["id"], on="2019-04-30")
    partial = {item["target"]["id"]: item for item in mid_year["results"]}[each_year["id"]]
    assert [y["figure"] for y in partial["years"]] == [1] and partial["period_to"] == "2019-04-30"


def test_target_reports_follow_the_plan_s_scope_and_the_phases_are_the_office_s(
    admin: httpx.Client, as_role: Callable[..., httpx.Client]
) -> None:
    plan = make_plan(admin, approve=False)
    add(admin, plan, target())
    own = as_role("officer", provinces=[LAO_CAI])
    assert own.get("/api/v1/reports/targets", params={"plan_id": plan["id"]}).status_code == 200
    other = as_role("officer", provinces=["01"])
    assert_problem(other.get("/api/v1/reports/targets", params={"plan_id": plan["id"]}), 404)
    assert_problem(own.get("/api/v1/reports/targets", params={"programme": "1336"}), 403)
    partner = as_role("partner", funder_id=1)
    assert_problem(partner.get("/api/v1/reports/targets", params={"plan_id": plan["id"]}), 403)
    phase = report_of(admin, programme="1336", on="2025-12-31")
    assert len(phase["results"]) == 7 and phase["programme_code"] == "1336"
    assert_problem(admin.get("/api/v1/reports/targets"), 422)
    both = {"plan_id": plan["id"], "programme": "1336"}
    assert_problem(admin.get("/api/v1/reports/targets", params=both), 422)


def test_the_report_comes_as_a_vietnamese_spreadsheet(admin: httpx.Client) -> None:
    plan = make_plan(admin, approve=False)
    add(admin, plan, target(wording="Thành lập mới 16 câu lạc bộ"))
    add(admin, plan, WOMEN_60_TO_70_PCT)
    answer = admin.get(
        "/api/v1/reports/targets",
        params={"plan_id": plan["id"], "format": "xlsx", "on": "2018-12-31"},
    )
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-disposition"].endswith(f'plan-{plan["id"]}-2018-12-31.xlsx"')
    sheet = load_workbook(io.BytesIO(answer.content)).active
    assert sheet is not None
    rows = list(sheet.iter_rows(values_only=True))
    # Named as the plan is, with its province and years, as the People's Committee files it.
    start, end = plan["start_year"], plan["end_year"]
    years = str(start) if start == end else f"{start}–{end}"
    assert rows[0][0] == (
        f"Kết quả thực hiện chỉ tiêu: {plan['title']} (Lào Cai, {years}); đến ngày 31/12/2018"
    )
    assert rows[1][:3] == ("Chỉ tiêu", "Mã chỉ tiêu", "Địa bàn")
    founded, women = rows[2], rows[3]
    assert (
        founded[0] == "Số CLB thành lập mới" and founded[2] == "Tỉnh (trước sáp nhập) Tỉnh Lào Cai"
    )
    assert founded[5] == "≥ 16" and founded[7] in ("Đạt", "Chưa đạt")
    assert founded[11] == "Thành lập mới 16 câu lạc bộ"
    assert women[5] == "60 % – 70 %" and women[0] == "Tỷ lệ thành viên là nữ"
    csv = admin.get(
        "/api/v1/reports/targets",
        params={"plan_id": plan["id"], "format": "csv", "on": "2018-12-31"},
    )
    assert csv.status_code == 200 and csv.text.lstrip("\ufeff").startswith("Chỉ tiêu,Mã chỉ tiêu")
    founded_line = csv.text.splitlines()[1]
    assert ",01/01/2018,31/12/2018,≥ 16," in founded_line  # the dates as documents print them


def test_members_who_borrowed_in_the_period_are_counted_by_the_loans_service(
    admin: httpx.Client,
) -> None:
    club = make_lending_club(admin)  # a club of Phường Lào Cai with a member
    disbursed_loan(admin, club, disbursed_on="2024-01-15")
    plan = make_plan(admin, approve=False)
    area = {"level": "commune", "code": club["commune_code"]}
    borrowed = add(
        admin,
        plan,
        indicator="members.borrowed",
        area=area,
        period_from="2024-01-01",
        period_to="2024-12-31",
        minimum=1,
    )
    share = add(
        admin,
        plan,
        indicator="members.borrowed_share",
        area=area,
        period_from="2024-01-01",
        period_to="2024-12-31",
        minimum=50,
    )
    # Its fund: 50 million of capital since 2023, 6 million of it lent in 2024.
    fund = add(
        admin,
        plan,
        indicator="clubs.fund_at_least",
        area=area,
        period_from=None,
        period_to="2024-12-31",
        minimum=1,
        parameter=FUND_CAPITAL,
    )
    average = add(
        admin,
        plan,
        indicator="funds.average_per_club",
        area=area,
        period_from=None,
        period_to="2024-12-31",
        minimum=1,
    )
    found = report_of(admin, plan_id=plan["id"])["results"]
    results = {item["target"]["id"]: item for item in found}
    assert results[borrowed["id"]]["verdict"] == "met" and results[borrowed["id"]]["figure"] >= 1
    counted = results[share["id"]]
    assert counted["verdict"] in ("met", "not_met") and 0 < counted["figure"] <= 100
    assert results[fund["id"]]["verdict"] == "met" and results[fund["id"]]["figure"] >= 1
    assert results[average["id"]]["figure"] > 0 and results[average["id"]]["verdict"] == "met"


def test_the_demo_plan_s_targets_are_the_plan_s_own_sentences(admin: httpx.Client) -> None:
    plan = make_plan(admin, approve=False)
    for body in lao_cai_2018_targets():
        add(admin, plan, body)
    found = report_of(admin, plan_id=plan["id"], on="2018-12-31")
    assert [item["target"]["wording"] for item in found["results"]] == [
        "Thành lập mới 16 CLB",
        "Ít nhất 2.000 thành viên",
        "Ít nhất 700 thành viên là người cao tuổi",
    ]
    assert all(item["verdict"] in ("met", "not_met") for item in found["results"])


def test_the_national_office_sees_the_provinces_targets_added_up_and_ranked(
    admin: httpx.Client, as_role: Callable[..., httpx.Client]
) -> None:
    phase = "1648"
    promised = {LAO_CAI: 7, HAI_PHONG: 5}
    for province, clubs in promised.items():
        plan = make_plan(admin, approve=False, province_code=province, programme_code=phase)
        add(
            admin,
            plan,
            area={"level": "province", "code": province},
            period_from="2026-01-01",
            period_to="2030-12-31",
            minimum=clubs,
        )
        add(  # a share is not added up
            admin,
            plan,
            target(
                indicator="members.women_share",
                area={"level": "province", "code": province},
                period_from=None,
                period_to="2030-12-31",
                minimum=60,
            ),
        )
        assert admin.post(f"/api/v1/plans/{plan['id']}/approve").status_code == 200
    answer = admin.get("/api/v1/reports/targets/national", params={"programme": phase})
    assert answer.status_code == 200, answer.text
    found = answer.json()
    assert sorted(t["target"]["minimum"] for t in found["programme"]) == [6000, 12000]
    founded = {t["indicator"]: t for t in found["provinces_targets"]}["clubs.founded"]
    assert founded["provinces_minimum"] >= sum(promised.values())
    assert founded["provinces"] >= 2 and founded["programme_minimum"] in (6000, 12000)
    assert "members.women_share" not in {t["indicator"] for t in found["provinces_targets"]}
    standings = {p["province_code"]: p for p in found["provinces"]}
    assert set(promised) <= set(standings)
    assert standings[HAI_PHONG]["province_name"] == "Thành phố Hải Phòng"
    distances = [p["distance"] for p in found["provinces"]]
    assert distances == sorted(distances, reverse=True)
    officer = as_role("officer", provinces=[LAO_CAI])
    assert_problem(
        officer.get("/api/v1/reports/targets/national", params={"programme": phase}), 403
    )
    assert_problem(admin.get("/api/v1/reports/targets/national", params={"programme": "0"}), 404)


def test_health_checks_given_at_meetings_are_counted(admin: httpx.Client) -> None:
    club = make_club(admin)
    members = [add_member(admin, club) for _ in range(2)]
    held = admin.post(
        f"/api/v1/clubs/{club['id']}/meetings",
        json=meeting_payload(attending_member_ids=members, health_checks=2),
    )
    assert held.status_code == 201, held.text
    plan = make_plan(admin, approve=False)
    checks = add(
        admin,
        plan,
        indicator="support.health_checks",
        area={"level": "commune", "code": club["commune_code"]},
        period_from="2024-01-01",
        period_to="2024-12-31",
        minimum=1,
    )
    (result,) = report_of(admin, plan_id=plan["id"])["results"]
    assert result["target"]["id"] == checks["id"]
    assert result["verdict"] == "met" and result["figure"] >= 2


def test_the_national_report_for_a_date_takes_the_phase_in_force_then(
    admin: httpx.Client,
) -> None:
    # 1336 ran 2020–2025; 1648 began in 2025 and runs to 2035.
    answer = admin.get("/api/v1/reports/targets/national", params={"on": "2023-06-30"})
    assert answer.status_code == 200, answer.text
    assert answer.json()["programme_code"] == "1336"
    assert_problem(
        admin.get("/api/v1/reports/targets/national", params={"on": "2000-06-30"}),
        422,
        field="on",
    )
