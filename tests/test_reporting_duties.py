"""Reporting duties: which level reports what to whom and when, each period's status, and the
report as sent, kept as it was sent whatever changes later.

Lào Cai's plan 184/KH-UBND (2018) has the province report on the plan to the ministry every
six months and at the year's end; its targets are "16 clubs, ≥ 2,000 members by the end of
2018". Communes report to the province.
"""

import io
import secrets
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

import httpx
import pytest
from openpyxl import load_workbook

from common import clock
from tests.factories import LAO_CAI, LAO_CAI_COMMUNE, make_club
from tests.support import assert_problem
from tests.test_funding import make_plan
from tests.test_targets import add, target

pytestmark = pytest.mark.usefixtures("stack")
DUTIES = "/api/v1/reporting-duties"
TODAY = clock.today()


def duty_body(plan: dict[str, Any], **overrides: Any) -> dict[str, Any]:
    """The province's six-monthly report on its plan to the ministry, due 15 days after."""
    return {
        "title": "Báo cáo kết quả thực hiện Kế hoạch 184/KH-UBND",
        "reporter_level": "province",
        "area_code": LAO_CAI,
        "recipient": "Bộ Y tế",
        "recipient_level": "national",
        "frequency": "six_monthly",
        "plan_id": plan["id"],
        "first_period": "2018-H1",
        "last_period": "2018-H2",
        "due_days": 15,
        **overrides,
    }


def make_duty(client: httpx.Client, body: dict[str, Any]) -> dict[str, Any]:
    answer = client.post(DUTIES, json=body)
    assert answer.status_code == 201, answer.text
    assert answer.headers["location"] == f"{DUTIES}/{answer.json()['id']}"
    return dict(answer.json())


def periods_of(client: httpx.Client, duty: dict[str, Any]) -> dict[str, dict[str, Any]]:
    answer = client.get(f"{DUTIES}/{duty['id']}/periods")
    assert answer.status_code == 200, answer.text
    return {item["period"]: item for item in answer.json()}


def send(
    client: httpx.Client, duty: dict[str, Any], period: str, key: str | None = None
) -> httpx.Response:
    headers = {"Idempotency-Key": key or secrets.token_hex(8)}
    return client.post(f"{DUTIES}/{duty['id']}/reports", json={"period": period}, headers=headers)


def lao_cai_2018_plan_with_targets(client: httpx.Client) -> tuple[dict[str, Any], dict, dict]:
    plan = make_plan(client, approve=False)
    founded = add(client, plan, target(wording="Thành lập mới 16 câu lạc bộ"))
    members = add(
        client,
        plan,
        target(indicator="members.total", period_from=None, minimum=2000, wording="2.000 TV"),
    )
    return plan, founded, members


def result_of(report: dict[str, Any], target_id: int) -> dict[str, Any]:
    return next(item for item in report["results"] if item["target"]["id"] == target_id)


def test_lao_cai_reports_to_the_ministry_and_the_report_stays_as_it_was_sent(
    admin: httpx.Client,
) -> None:
    plan, founded, members = lao_cai_2018_plan_with_targets(admin)
    six_monthly = make_duty(admin, duty_body(plan))
    yearly = make_duty(
        admin,
        duty_body(
            plan,
            frequency="annual",
            recipient="UBND tỉnh",
            recipient_level="province",
            first_period="2018",
            last_period="2018",
        ),
    )
    assert six_monthly["area_name"] == "Lào Cai" and six_monthly["commune_code"] is None
    assert (yearly["first_period"], yearly["recipient_level"]) == ("2018", "province")
    # Long past and never sent: late.
    periods = periods_of(admin, six_monthly)
    assert [(p["period_from"], p["period_to"], p["due_on"]) for p in periods.values()] == [
        ("2018-01-01", "2018-06-30", "2018-07-15"),
        ("2018-07-01", "2018-12-31", "2019-01-15"),
    ]
    assert {p["status"] for p in periods.values()} == {"late"}
    assert periods_of(admin, yearly)["2018"]["due_on"] == "2019-01-15"

    key = secrets.token_hex(8)
    sent = send(admin, six_monthly, "2018-H2", key)
    assert sent.status_code == 201, sent.text
    frozen = sent.json()
    assert sent.headers["location"] == f"{DUTIES}/{six_monthly['id']}/reports/{frozen['id']}"
    assert (frozen["period"], frozen["due_on"], frozen["late"]) == ("2018-H2", "2019-01-15", True)
    assert frozen["report"]["on"] == "2018-12-31" and frozen["report"]["plan_id"] == plan["id"]
    assert len(frozen["report"]["results"]) == 2 and frozen["sent_by"]
    figure = result_of(frozen["report"], founded["id"])["figure"]
    assert figure is not None and result_of(frozen["report"], members["id"])["figure"] is not None
    replayed = send(admin, six_monthly, "2018-H2", key)
    assert replayed.status_code == 201 and replayed.json() == frozen
    assert replayed.headers["idempotent-replayed"] == "true"
    again = assert_problem(send(admin, six_monthly, "2018-H2"), 409)
    assert again["code"] == "report_already_sent" and again["report_id"] == frozen["id"]
    statuses = periods_of(admin, six_monthly)
    assert statuses["2018-H2"]["status"] == "sent_late"
    assert statuses["2018-H2"]["report_id"] == frozen["id"]
    assert statuses["2018-H1"]["status"] == "late"

    # A club founded in 2018 is registered afterwards: the live report counts it, the report
    # as sent does not.
    make_club(admin, founding_decision_date="2018-09-01")
    live = admin.get("/api/v1/reports/targets", params={"plan_id": plan["id"], "on": "2018-12-31"})
    assert live.status_code == 200, live.text
    assert result_of(live.json(), founded["id"])["figure"] >= figure + 1
    kept = admin.get(f"{DUTIES}/{six_monthly['id']}/reports/{frozen['id']}")
    assert kept.status_code == 200 and kept.json() == frozen

    sheet_answer = admin.get(
        f"{DUTIES}/{six_monthly['id']}/reports/{frozen['id']}", params={"format": "xlsx"}
    )
    assert sheet_answer.status_code == 200, sheet_answer.text
    sheet = load_workbook(io.BytesIO(sheet_answer.content)).active
    assert sheet is not None
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][0].startswith(f"Kết quả thực hiện chỉ tiêu: {plan['title']} (Lào Cai")
    assert rows[0][0].endswith("đến ngày 31/12/2018")
    assert rows[1][:3] == ("Chỉ tiêu", "Mã chỉ tiêu", "Địa bàn")
    assert rows[2][0] == "Số CLB thành lập mới" and rows[2][6] == figure
    assert_problem(admin.get(f"{DUTIES}/{yearly['id']}/reports/{frozen['id']}"), 404)


def _last_ended_half() -> tuple[str, date]:
    if TODAY.month >= 7:
        return f"{TODAY.year}-H1", date(TODAY.year, 6, 30)
    return f"{TODAY.year - 1}-H2", date(TODAY.year - 1, 12, 31)


def test_a_report_sent_in_time_is_sent_and_an_open_period_is_due(admin: httpx.Client) -> None:
    plan, _, _ = lao_cai_2018_plan_with_targets(admin)
    ended, end = _last_ended_half()
    current = f"{TODAY.year}-H{1 if TODAY.month < 7 else 2}"
    duty = make_duty(admin, duty_body(plan, first_period=ended, last_period=current, due_days=366))
    periods = periods_of(admin, duty)
    assert periods[ended]["due_on"] == (end + timedelta(days=366)).isoformat()
    assert periods[ended]["status"] == periods[current]["status"] == "due"
    not_ended = assert_problem(send(admin, duty, current), 422, "period")
    assert not_ended["errors"][0]["code"] == "date_in_future"
    assert_problem(send(admin, duty, "2018-H1"), 422, "period")
    assert_problem(send(admin, duty, "2018"), 422, "period")
    sent = send(admin, duty, ended)
    assert sent.status_code == 201, sent.text
    assert sent.json()["late"] is False and sent.json()["report"]["on"] == end.isoformat()
    assert periods_of(admin, duty)[ended]["status"] == "sent"
    # A later change of the due days leaves what was sent as it was.
    changed = admin.patch(f"{DUTIES}/{duty['id']}", json={"due_days": 0, "recipient": "Sở Y tế"})
    assert changed.status_code == 200, changed.text
    assert (changed.json()["due_days"], changed.json()["recipient"]) == (0, "Sở Y tế")
    after = periods_of(admin, duty)
    assert after[ended]["status"] == "sent"
    assert after[current]["due_on"] == after[current]["period_to"]
    assert_problem(admin.patch(f"{DUTIES}/{duty['id']}", json={"due_days": None}), 422)
    assert_problem(admin.patch(f"{DUTIES}/{duty['id']}", json={"frequency": "annual"}), 422)
    lower = admin.patch(f"{DUTIES}/{duty['id']}", json={"recipient_level": "commune"})
    assert_problem(lower, 422, "recipient_level")


def test_a_commune_reports_its_own_targets_to_the_province(admin: httpx.Client) -> None:
    plan, _, _ = lao_cai_2018_plan_with_targets(admin)
    ward = add(
        admin,
        plan,
        target(area={"level": "commune", "code": LAO_CAI_COMMUNE}, minimum=1),
    )
    duty = make_duty(
        admin,
        duty_body(
            plan,
            reporter_level="commune",
            area_code=LAO_CAI_COMMUNE,
            recipient="UBND tỉnh",
            recipient_level="province",
            frequency="annual",
            first_period="2018",
            last_period="2019",
        ),
    )
    assert (duty["province_code"], duty["commune_code"]) == (LAO_CAI, LAO_CAI_COMMUNE)
    assert duty["area_name"] == "Phường Lào Cai"
    assert list(periods_of(admin, duty)) == ["2018", "2019"]
    # Without a last period, the duty runs to the plan's last year.
    last_year = plan["end_year"]  # the plans of a session run from 2040 (tests/test_funding.py)
    to_the_end = make_duty(
        admin, {**duty_body(plan), "first_period": f"{last_year}-H1", "last_period": None}
    )
    assert to_the_end["last_period"] == f"{plan['end_year']}-H2"
    sent = send(admin, duty, "2018")
    assert sent.status_code == 201, sent.text
    assert [item["target"]["id"] for item in sent.json()["report"]["results"]] == [ward["id"]]


def test_the_national_office_reports_at_the_end_of_the_phase(
    admin: httpx.Client, as_role: Callable[..., httpx.Client]
) -> None:
    body = {
        "title": "Báo cáo tổng kết Đề án 1336",
        "reporter_level": "national",
        "recipient": "Thủ tướng Chính phủ",
        "recipient_level": "national",
        "frequency": "end_of_phase",
        "programme_code": "1336",
    }
    duty = make_duty(admin, body)
    assert (duty["first_period"], duty["province_code"]) == ("2021-2025", None)
    (period,) = periods_of(admin, duty).values()
    assert (period["period_to"], period["due_on"]) == ("2025-12-31", "2026-01-15")
    assert period["status"] == ("late" if date(2026, 1, 15) < TODAY else "due")
    sent = send(admin, duty, "2021-2025")
    assert sent.status_code == 201, sent.text
    assert len(sent.json()["report"]["results"]) == 7
    officer = as_role("officer", provinces=[LAO_CAI])
    assert_problem(officer.get(f"{DUTIES}/{duty['id']}"), 404)
    assert_problem(officer.post(DUTIES, json=body), 422, "reporter_level")


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"area_code": None}, "area_code"),
        ({"area_code": "01"}, "area_code"),
        ({"reporter_level": "commune", "area_code": "00004"}, "area_code"),  # in Hà Nội
        ({"reporter_level": "commune", "area_code": "99999"}, "area_code"),
        ({"recipient_level": "commune"}, "recipient_level"),
        ({"plan_id": None}, "plan_id"),
        ({"plan_id": 999_999_999}, "plan_id"),
        ({"programme_code": "1336"}, "programme_code"),
        ({"first_period": None}, "first_period"),
        ({"first_period": "2018"}, "first_period"),
        ({"first_period": "1999-H1"}, "first_period"),
        ({"first_period": "2018-H3"}, "first_period"),
        ({"last_period": "2017-H2"}, "last_period"),
        ({"last_period": "2099-H2", "first_period": "2000-H1"}, "last_period"),
        ({"frequency": "end_of_phase"}, "first_period"),
        ({"frequency": "monthly"}, "frequency"),
        ({"due_days": -1}, "due_days"),
        ({"recipient": ""}, "recipient"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_duties_that_do_not_fit_are_refused_on_the_field(
    admin: httpx.Client, change: dict[str, Any], field: str
) -> None:
    plan = make_plan(admin, approve=False)
    problem = assert_problem(admin.post(DUTIES, json=duty_body(plan, **change)), 422)
    fields = [error["field"] for error in problem["errors"]]
    assert any(name == field or name.startswith(f"{field}.") for name in fields), problem


def test_duties_follow_the_province_and_are_closed_to_partners_and_the_bank(
    admin: httpx.Client, as_role: Callable[..., httpx.Client]
) -> None:
    plan, _, _ = lao_cai_2018_plan_with_targets(admin)
    own = as_role("officer", provinces=[LAO_CAI])
    duty = make_duty(own, duty_body(plan))
    assert own.get(f"{DUTIES}/{duty['id']}").status_code == 200
    assert duty["id"] in [d["id"] for d in own.get(DUTIES, params={"limit": 200}).json()["items"]]
    assert send(own, duty, "2018-H1").status_code == 201
    listed = admin.get(DUTIES, params={"plan_id": plan["id"]}).json()
    assert [d["id"] for d in listed["items"]] == [duty["id"]] and listed["total"] == 1

    other = as_role("officer", provinces=["01"])
    url = f"{DUTIES}/{duty['id']}"
    assert_problem(other.get(url), 404)
    assert_problem(other.patch(url, json={"recipient": "UBND tỉnh"}), 404)
    assert_problem(other.get(f"{url}/periods"), 404)
    assert_problem(send(other, duty, "2018-H2"), 404)
    assert_problem(other.post(DUTIES, json=duty_body(plan)), 422, "plan_id")
    assert duty["id"] not in [d["id"] for d in other.get(DUTIES).json()["items"]]
    for client in (
        as_role("partner", funder_id=1),
        as_role("bank", bank_code="VBSP"),
        as_role("club_manager", clubs=[1]),
    ):
        assert_problem(client.get(url), 403)
        assert_problem(client.get(DUTIES), 403)
        assert_problem(client.post(DUTIES, json=duty_body(plan)), 403)
        assert_problem(send(client, duty, "2018-H2"), 403)


def test_a_revised_plan_s_report_judges_the_targets_of_its_current_version(
    admin: httpx.Client,
) -> None:
    plan, founded, _ = lao_cai_2018_plan_with_targets(admin)
    assert admin.post(f"/api/v1/plans/{plan['id']}/approve").status_code == 200
    annual = {"frequency": "annual", "first_period": "2018", "last_period": "2018"}
    duty = make_duty(admin, duty_body(plan, **annual))
    revision = admin.post(f"/api/v1/plans/{plan['id']}/revisions")
    assert revision.status_code == 201, revision.text
    revised = revision.json()
    added = add(admin, revised, target(indicator="members.older", period_from=None, minimum=700))
    assert admin.post(f"/api/v1/plans/{revised['id']}/approve").status_code == 200
    sent = send(admin, duty, "2018")
    assert sent.status_code == 201, sent.text
    report = sent.json()["report"]
    assert report["plan_id"] == revised["id"]
    judged = {item["target"]["indicator"] for item in report["results"]}
    assert {"clubs.founded", "members.older"} <= judged
    assert added["id"] in {item["target"]["id"] for item in report["results"]}
    assert founded["id"] not in {item["target"]["id"] for item in report["results"]}
