"""The work a plan holds beyond its budget lines, from Lào Cai's plan 184/KH-UBND (2018): its
tasks as written (lead and partner agencies, timing), the money spent on its lines (training
50.7, launch of 5 clubs 18, monitoring 17.6, review conference 43 million đồng, all from the
provincial budget) in plan against actual, and the events above the club (a training class for
the boards of its 16 clubs, monitoring visits), with the indicators counted from them."""

import secrets
from collections.abc import Callable, Iterator
from datetime import date
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine
from sqlmodel import Session, select

from common.auth import Principal, Role
from common.club_directory import ClubFacts
from services.funding.catalogue.models import Funder, Programme
from services.funding.flows.models import Allocation, Receipt
from services.funding.plans.models import Plan, PlanLine, PlanLineAmount, PlanSeries
from services.funding.tables import metadata
from services.funding.work import indicators
from services.funding.work import service as work
from services.funding.work.indicators import Area
from services.funding.work.schemas import EventCreate, EventKind, EventLevel, SpendingCreate
from tests.factories import HA_NOI, HA_NOI_COMMUNE, LAO_CAI, LAO_CAI_COMMUNE, make_club
from tests.support import assert_problem
from tests.test_funding import allocate, line_of, make_funder, make_plan, receive
from tests.test_targets import add as add_target
from tools.demo_funding import MILLION

pytestmark = pytest.mark.usefixtures("stack")

TRAINING, LAUNCH, SEED, MONITORING, CONFERENCE = 1, 2, 3, 4, 5
"""The line numbers of the Lào Cai 2018 budget table."""
SOLD = "Sở Lao động - Thương binh và Xã hội"


def task_body(plan: dict[str, Any], **overrides: Any) -> dict[str, Any]:
    year = plan["start_year"]
    return {
        "number": "III.3.1",
        "content": "Tập huấn thành lập và quản lý câu lạc bộ cho Ban chủ nhiệm",
        "lead_agency": SOLD,
        "partner_agencies": ["Hội Người cao tuổi tỉnh", "Sở Ngoại vụ", "UBND cấp xã"],
        "timing": f"Quý II/{year}",
        "starts": {"year": year, "quarter": 2},
        "ends": {"year": year, "quarter": 2},
        "line_numbers": [TRAINING],
        "sources": ["provincial_budget"],
        **overrides,
    }


def add_task(client: httpx.Client, plan: dict[str, Any], **overrides: Any) -> dict[str, Any]:
    response = client.post(f"/api/v1/plans/{plan['id']}/tasks", json=task_body(plan, **overrides))
    assert response.status_code == 201, response.text
    assert response.headers["location"].endswith(f"/tasks/{response.json()['id']}")
    return dict(response.json())


def spend(
    client: httpx.Client, plan: dict[str, Any], line_number: int, amount: int, **extra: Any
) -> httpx.Response:
    body = {
        "line_number": line_number,
        "source": "provincial_budget",
        "spent_on": "2018-06-20",
        "amount": amount,
        "document": "Chứng từ số 12/CT",
        "description": "Chi tập huấn",
        **extra,
    }
    return client.post(f"/api/v1/plans/{plan['id']}/spending", json=body)


def spent(
    client: httpx.Client, plan: dict[str, Any], line_number: int, amount: int
) -> dict[str, Any]:
    response = spend(client, plan, line_number, amount)
    assert response.status_code == 201, response.text
    return dict(response.json())


def event_body(**overrides: Any) -> dict[str, Any]:
    return {
        "line_number": TRAINING,
        "kind": "training_class",
        "title": "Tập huấn thành lập và quản lý CLB cho Ban chủ nhiệm 16 CLB",
        "level": "province",
        "started_on": "2018-05-15",
        "days": 2,
        "participants": 48,
        "club_ids": [],
        **overrides,
    }


def record(client: httpx.Client, plan: dict[str, Any], **overrides: Any) -> dict[str, Any]:
    response = client.post(f"/api/v1/plans/{plan['id']}/events", json=event_body(**overrides))
    assert response.status_code == 201, response.text
    return dict(response.json())


def figures(execution: dict[str, Any], number: int) -> dict[str, Any]:
    return dict(next(line for line in execution["lines"] if line["number"] == number))


# Tasks ---------------------------------------------------------------------------------------


def test_a_task_keeps_its_lead_partners_timing_lines_and_sources_as_written(
    admin: httpx.Client,
) -> None:
    plan = make_plan(admin, approve=False)
    training = add_task(admin, plan)
    assert training["lead_agency"] == SOLD
    assert training["partner_agencies"] == ["Hội Người cao tuổi tỉnh", "Sở Ngoại vụ", "UBND cấp xã"]
    assert training["timing"] == f"Quý II/{plan['start_year']}"
    assert training["starts"] == {"year": plan["start_year"], "month": None, "quarter": 2}
    assert training["line_numbers"] == [TRAINING] and training["sources"] == ["provincial_budget"]
    # "Tháng 6-12" of each year, by the Association, with no budget line of its own.
    monitoring = add_task(
        admin,
        plan,
        number="III.3.4",
        content="Giám sát, hỗ trợ kỹ thuật các câu lạc bộ",
        lead_agency="Hội Người cao tuổi tỉnh",
        partner_agencies=[],
        timing="Tháng 6-12",
        starts={"month": 6},
        ends={"month": 12},
        line_numbers=[],
        sources=["provincial_budget", "socialisation"],
    )
    url = f"/api/v1/plans/{plan['id']}/tasks"
    assert [task["id"] for task in admin.get(url).json()] == [training["id"], monitoring["id"]]
    changed = admin.patch(
        f"{url}/{monitoring['id']}",
        json={"line_numbers": [MONITORING], "ends": None, "timing": "Tháng 6"},
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["line_numbers"] == [MONITORING] and changed.json()["ends"] is None
    assert admin.get(f"{url}/{monitoring['id']}").json()["timing"] == "Tháng 6"
    assert admin.delete(f"{url}/{monitoring['id']}").status_code == 204
    assert_problem(admin.get(f"{url}/{monitoring['id']}"), 404)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"line_numbers": [9]}, "line_numbers.0"),
        ({"sources": ["lottery"]}, "sources.0"),
        ({"starts": {"year": 2030, "month": 1}}, "starts.year"),
        ({"starts": {"month": 4, "quarter": 2}}, "starts"),
        ({"starts": {"quarter": 3}, "ends": {"quarter": 2}}, "body"),
        ({"partner_agencies": ["Sở Ngoại vụ", "Sở Ngoại vụ"]}, "partner_agencies"),
        ({"lead_agency": ""}, "lead_agency"),
        ({"chu_tri": SOLD}, "chu_tri"),
    ],
)
def test_a_task_that_does_not_fit_its_plan_is_refused_on_the_field(
    admin: httpx.Client, change: dict[str, Any], field: str
) -> None:
    plan = make_plan(admin, approve=False)
    body = {**task_body(plan, starts=None, ends=None), **change}
    assert_problem(admin.post(f"/api/v1/plans/{plan['id']}/tasks", json=body), 422, field)


def test_a_change_that_puts_the_timing_out_of_order_is_refused(admin: httpx.Client) -> None:
    plan = make_plan(admin, approve=False)
    task = add_task(admin, plan)
    late = {"year": plan["start_year"], "quarter": 4}
    refused = admin.patch(f"/api/v1/plans/{plan['id']}/tasks/{task['id']}", json={"starts": late})
    assert_problem(refused, 422, "ends")
    nulled = admin.patch(f"/api/v1/plans/{plan['id']}/tasks/{task['id']}", json={"content": None})
    assert_problem(nulled, 422, "content")


def test_tasks_are_fixed_once_approved_and_a_revision_copies_them(admin: httpx.Client) -> None:
    plan = make_plan(admin, approve=False)
    task = add_task(admin, plan)
    approved = admin.post(f"/api/v1/plans/{plan['id']}/approve")
    assert approved.status_code == 200, approved.text
    url = f"/api/v1/plans/{plan['id']}/tasks"
    assert_problem(admin.post(url, json=task_body(plan)), 409)
    assert_problem(admin.patch(f"{url}/{task['id']}", json={"timing": "Quý III"}), 409)
    assert_problem(admin.delete(f"{url}/{task['id']}"), 409)
    revision = admin.post(f"/api/v1/plans/{plan['id']}/revisions")
    assert revision.status_code == 201, revision.text
    copied = admin.get(f"/api/v1/plans/{revision.json()['id']}/tasks").json()
    assert len(copied) == 1 and copied[0]["id"] != task["id"]
    kept = ("number", "lead_agency", "partner_agencies", "timing", "starts", "ends", "sources")
    assert {name: copied[0][name] for name in kept} == {name: task[name] for name in kept}


def test_who_reads_and_writes_a_plan_s_tasks(
    admin: httpx.Client, as_role: Callable[..., httpx.Client]
) -> None:
    draft = make_plan(admin, approve=False)
    lao_cai = as_role("officer", provinces=[LAO_CAI])
    task = add_task(lao_cai, draft)
    assert task["created_by"]
    ha_noi = as_role("officer", provinces=[HA_NOI])
    url = f"/api/v1/plans/{draft['id']}/tasks"
    assert_problem(ha_noi.get(url), 404)
    assert_problem(ha_noi.post(url, json=task_body(draft)), 404)
    assert_problem(ha_noi.delete(f"{url}/{task['id']}"), 404)
    partner = as_role("partner", funder_id=make_funder(admin, "ngo")["id"])
    assert_problem(partner.get(url), 404)  # a draft is not the partner's to read
    assert_problem(as_role("bank").get(url), 403)
    admin.post(f"/api/v1/plans/{draft['id']}/approve")
    read = partner.get(url)
    assert read.status_code == 200 and read.json()[0]["created_by"] is None
    assert_problem(partner.post(url, json=task_body(draft)), 403)
    assert_problem(partner.patch(f"{url}/{task['id']}", json={"timing": "Quý III"}), 403)


# Spending ------------------------------------------------------------------------------------


def test_spending_on_the_lao_cai_lines_is_the_plan_s_actual(admin: httpx.Client) -> None:
    # Training 50.7, launch of 5 clubs 18, monitoring 17.6, review conference 43 million đồng,
    # all provincial budget; seed capital reaches the clubs as allocations.
    plan = make_plan(admin)
    first = spent(admin, plan, TRAINING, 30 * MILLION)
    assert first["document"] == "Chứng từ số 12/CT" and first["line_number"] == TRAINING
    assert first["series_id"] == plan["series_id"] and first["source"] == "provincial_budget"
    spent(admin, plan, TRAINING, 20_700_000)
    spent(admin, plan, LAUNCH, 18 * MILLION)
    spent(admin, plan, MONITORING, 10 * MILLION)
    spent(admin, plan, CONFERENCE, 43 * MILLION)
    funder = make_funder(admin, "elderly_care_fund")
    seed = line_of(plan, "seed_capital")
    receive(admin, funder, seed, 20 * MILLION)
    club = make_club(admin)
    assert allocate(admin, funder, seed, club, 20 * MILLION).status_code == 201

    execution = admin.get(f"/api/v1/plans/{plan['id']}/execution").json()
    training = figures(execution, TRAINING)
    assert (training["planned"], training["spent"], training["spent_pct"]) == (
        50_700_000,
        50_700_000,
        100.0,
    )
    assert training["allocated"] == 0 and training["execution_pct"] == 0.0
    monitoring = figures(execution, MONITORING)["by_source"]["provincial_budget"]
    assert (monitoring["spent"], monitoring["spent_pct"]) == (10 * MILLION, 56.8)
    assert figures(execution, SEED)["spent"] == 20 * MILLION
    assert figures(execution, SEED)["allocated"] == 20 * MILLION
    assert execution["by_source"]["provincial_budget"]["spent"] == 121_700_000
    assert execution["total"]["spent"] == 141_700_000
    assert execution["total"]["spent_pct"] == 26.8  # of 529.3 million
    area = admin.get("/api/v1/plans/execution", params={"year": plan["start_year"]}).json()
    assert area["by_activity"]["review_conference"]["spent"] >= 43 * MILLION

    listed = admin.get(f"/api/v1/plans/{plan['id']}/spending", params={"line_number": TRAINING})
    assert listed.status_code == 200 and listed.json()["total"] == 2
    one = admin.get(f"/api/v1/plans/{plan['id']}/spending/{first['id']}")
    assert one.status_code == 200 and one.json()["amount"] == 30 * MILLION


def test_spending_recorded_by_mistake_is_withdrawn_and_kept(admin: httpx.Client) -> None:
    plan = make_plan(admin)
    twice = spent(admin, plan, CONFERENCE, 43 * MILLION)
    spent(admin, plan, CONFERENCE, 43 * MILLION)
    url = f"/api/v1/plans/{plan['id']}/spending/{twice['id']}/withdrawal"
    withdrawn = admin.post(url, json={"reason": "Nhập trùng chứng từ"})
    assert withdrawn.status_code == 200, withdrawn.text
    assert withdrawn.json()["withdrawn_at"] and withdrawn.json()["withdrawal_reason"]
    assert_problem(admin.post(url, json={"reason": "again"}), 409)
    assert_problem(admin.post(url, json={}), 422, "reason")
    execution = admin.get(f"/api/v1/plans/{plan['id']}/execution").json()
    assert figures(execution, CONFERENCE)["spent"] == 43 * MILLION
    kept = admin.get(f"/api/v1/plans/{plan['id']}/spending", params={"withdrawn": True}).json()
    assert [item["id"] for item in kept["items"]] == [twice["id"]]


def test_a_retried_spending_is_recorded_once(admin: httpx.Client) -> None:
    plan = make_plan(admin)
    key = {"Idempotency-Key": secrets.token_hex(16)}
    body = {
        "line_number": TRAINING,
        "source": "provincial_budget",
        "spent_on": "2018-06-20",
        "amount": 5 * MILLION,
        "document": "Chứng từ số 13/CT",
    }
    url = f"/api/v1/plans/{plan['id']}/spending"
    first = admin.post(url, json=body, headers=key)
    again = admin.post(url, json=body, headers=key)
    assert first.status_code == again.status_code == 201
    assert first.json()["id"] == again.json()["id"]
    assert admin.get(url).json()["total"] == 1


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"line_number": SEED, "source": "elderly_care_fund"}, "line_number"),
        ({"source": "socialisation"}, "source"),
        ({"line_number": 9}, "line_number"),
        ({"amount": 0}, "amount"),
        ({"amount": 1.5}, "amount"),
        ({"spent_on": "2099-01-01"}, "spent_on"),
        ({"document": ""}, "document"),
    ],
)
def test_spending_that_does_not_fit_its_line_is_refused(
    admin: httpx.Client, change: dict[str, Any], field: str
) -> None:
    plan = make_plan(admin)
    line_number = change.pop("line_number", TRAINING)
    body = assert_problem(spend(admin, plan, line_number, change.pop("amount", 1), **change), 422)
    assert field in [error["field"] for error in body["errors"]], body


def test_spending_waits_for_approval_and_follows_the_newest_version(admin: httpx.Client) -> None:
    draft = make_plan(admin, approve=False)
    assert assert_problem(spend(admin, draft, TRAINING, MILLION), 409)["code"] == (
        "plan_not_approved"
    )
    plan = make_plan(admin)
    before = spent(admin, plan, TRAINING, MILLION)
    revision = admin.post(f"/api/v1/plans/{plan['id']}/revisions").json()
    assert admin.post(f"/api/v1/plans/{revision['id']}/approve").status_code == 200
    assert assert_problem(spend(admin, plan, TRAINING, MILLION), 409)["code"] == ("plan_superseded")
    listed = admin.get(f"/api/v1/plans/{revision['id']}/spending").json()
    assert [item["id"] for item in listed["items"]] == [before["id"]]
    execution = admin.get(f"/api/v1/plans/{revision['id']}/execution").json()
    assert figures(execution, TRAINING)["spent"] == MILLION


def test_who_records_and_reads_spending(
    admin: httpx.Client, as_role: Callable[..., httpx.Client]
) -> None:
    plan = make_plan(admin)
    lao_cai = as_role("officer", provinces=[LAO_CAI])
    mine = spend(lao_cai, plan, MONITORING, 2 * MILLION)
    assert mine.status_code == 201, mine.text
    url = f"/api/v1/plans/{plan['id']}/spending"
    ha_noi = as_role("officer", provinces=[HA_NOI])
    assert_problem(spend(ha_noi, plan, MONITORING, MILLION), 404)
    assert_problem(ha_noi.get(url), 404)
    assert_problem(ha_noi.get(f"{url}/{mine.json()['id']}"), 404)
    partner = as_role("partner", funder_id=make_funder(admin, "ngo")["id"])
    assert_problem(partner.get(url), 403)
    assert_problem(spend(partner, plan, MONITORING, MILLION), 403)
    withdrawal = partner.post(f"{url}/{mine.json()['id']}/withdrawal", json={"reason": "x"})
    assert_problem(withdrawal, 403)
    execution = partner.get(f"/api/v1/plans/{plan['id']}/execution").json()
    assert figures(execution, MONITORING)["spent"] == 0  # the province's money, not a funder's
    bank = as_role("bank")
    assert_problem(bank.get(url), 403)
    assert_problem(spend(bank, plan, MONITORING, MILLION), 403)


# Events --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def lao_cai_clubs(admin: httpx.Client) -> list[dict[str, Any]]:
    """The 16 clubs the 2018 plan founds."""
    return [make_club(admin, name=f"CLB Liên thế hệ tự giúp nhau số {n}") for n in range(16)]


def test_a_training_class_for_the_boards_of_16_clubs(
    admin: httpx.Client, lao_cai_clubs: list[dict[str, Any]]
) -> None:
    plan = make_plan(admin)
    ids = [club["id"] for club in lao_cai_clubs]
    training = record(admin, plan, club_ids=ids)
    assert training["kind_label"] == "Lớp tập huấn" and training["level"] == "province"
    assert (training["days"], training["participants"]) == (2, 48)
    assert [club["club_id"] for club in training["clubs"]] == ids
    assert {(c["province_code"], c["commune_code"]) for c in training["clubs"]} == {
        (LAO_CAI, LAO_CAI_COMMUNE)
    }
    assert training["line_number"] == TRAINING and training["series_id"] == plan["series_id"]
    one = admin.get(f"/api/v1/plans/{plan['id']}/events/{training['id']}")
    assert one.status_code == 200 and len(one.json()["clubs"]) == 16


def test_a_monitoring_visit_a_launch_and_the_review_conference(
    admin: httpx.Client, lao_cai_clubs: list[dict[str, Any]]
) -> None:
    plan = make_plan(admin)
    visited = [club["id"] for club in lao_cai_clubs[:3]]
    visit = record(
        admin,
        plan,
        line_number=MONITORING,
        kind="monitoring_visit",
        title="Giám sát, hỗ trợ kỹ thuật CLB tại phường Lào Cai",
        level="commune",
        commune_code=LAO_CAI_COMMUNE,
        started_on="2018-09-12",
        days=1,
        participants=None,
        club_ids=visited,
    )
    assert visit["commune_code"] == LAO_CAI_COMMUNE
    assert visit["kind_label"] == "Giám sát, hỗ trợ kỹ thuật"
    record(
        admin,
        plan,
        line_number=LAUNCH,
        kind="club_launch",
        title="Ra mắt 5 CLB",
        club_ids=[club["id"] for club in lao_cai_clubs[3:8]],
    )
    conference = record(
        admin,
        plan,
        line_number=CONFERENCE,
        kind="review_conference",
        title="Hội nghị tổng kết mô hình CLB liên thế hệ tự giúp nhau",
        started_on="2018-12-20",
        days=1,
        participants=120,
    )
    assert conference["clubs"] == [] and conference["participants"] == 120
    url = f"/api/v1/plans/{plan['id']}/events"
    visits = admin.get(url, params={"kind": "monitoring_visit"}).json()
    assert [item["id"] for item in visits["items"]] == [visit["id"]]
    with_club = admin.get(url, params={"club_id": visited[0]}).json()
    assert [item["id"] for item in with_club["items"]] == [visit["id"]]
    assert admin.get(url, params={"from": "2018-12-01"}).json()["total"] == 1

    changed = admin.patch(
        f"{url}/{visit['id']}",
        json={"level": "province", "club_ids": visited[:1], "days": 2},
    )
    assert changed.status_code == 200, changed.text
    body = changed.json()
    assert body["commune_code"] is None and body["days"] == 2
    assert [club["club_id"] for club in body["clubs"]] == visited[:1]
    assert_problem(admin.patch(f"{url}/{visit['id']}", json={"level": "commune"}), 422)
    assert_problem(admin.patch(f"{url}/{visit['id']}", json={"line_number": 9}), 422)


def test_an_event_naming_a_club_outside_the_province_is_refused_naming_the_club(
    admin: httpx.Client, lao_cai_clubs: list[dict[str, Any]]
) -> None:
    plan = make_plan(admin)
    elsewhere = make_club(admin, province_code=HA_NOI, commune_code=HA_NOI_COMMUNE)
    ids = [lao_cai_clubs[0]["id"], elsewhere["id"]]
    body = assert_problem(
        admin.post(f"/api/v1/plans/{plan['id']}/events", json=event_body(club_ids=ids)),
        422,
        "club_ids.1",
    )
    assert f"club {elsewhere['id']}" in body["errors"][0]["reason"]
    missing = admin.post(
        f"/api/v1/plans/{plan['id']}/events", json=event_body(club_ids=[2_000_000_000])
    )
    assert_problem(missing, 422, "club_ids.0")
    refused = [
        (event_body(level="commune"), "body"),
        (event_body(level="commune", commune_code=HA_NOI_COMMUNE), "commune_code"),
        (event_body(commune_code=LAO_CAI_COMMUNE), "body"),
        (event_body(kind="party"), "kind"),
        (event_body(days=0), "days"),
        (event_body(line_number=9), "line_number"),
        (event_body(club_ids=[ids[0], ids[0]]), "club_ids"),
    ]
    for body_, field in refused:
        answer = admin.post(f"/api/v1/plans/{plan['id']}/events", json=body_)
        assert_problem(answer, 422, field)


def test_who_records_and_reads_events(
    admin: httpx.Client,
    as_role: Callable[..., httpx.Client],
    lao_cai_clubs: list[dict[str, Any]],
) -> None:
    plan = make_plan(admin)
    lao_cai = as_role("officer", provinces=[LAO_CAI])
    event = record(lao_cai, plan, club_ids=[lao_cai_clubs[0]["id"]])
    url = f"/api/v1/plans/{plan['id']}/events"
    assert lao_cai.get(f"{url}/{event['id']}").status_code == 200
    ha_noi = as_role("officer", provinces=[HA_NOI])
    assert_problem(ha_noi.post(url, json=event_body()), 404)
    assert_problem(ha_noi.get(url), 404)
    assert_problem(ha_noi.get(f"{url}/{event['id']}"), 404)
    assert_problem(ha_noi.patch(f"{url}/{event['id']}", json={"days": 3}), 404)
    partner = as_role("partner", funder_id=make_funder(admin, "ngo")["id"])
    assert_problem(partner.get(url), 403)
    assert_problem(partner.post(url, json=event_body()), 403)
    bank = as_role("bank")
    assert_problem(bank.get(url), 403)
    assert_problem(bank.patch(f"{url}/{event['id']}", json={"days": 3}), 403)
    draft = make_plan(admin, approve=False)
    assert_problem(admin.post(f"/api/v1/plans/{draft['id']}/events", json=event_body()), 409)


# Indicators, counted straight from the database --------------------------------------------


@pytest.fixture
def session(scratch_engine: Engine) -> Iterator[Session]:
    metadata.create_all(scratch_engine)
    with Session(scratch_engine) as session:
        yield session


def _plan(session: Session, province_code: str) -> tuple[Plan, PlanSeries, Funder]:
    programme = session.get(Programme, "1533") or Programme(
        code="1533", decision="1533/QĐ-TTg", name="1533", start_year=2016, end_year=2020
    )
    series = PlanSeries(
        province_code=province_code, programme_code="1533", start_year=2018, end_year=2018
    )
    session.add_all([programme, series])
    session.flush()
    plan = Plan(
        series_id=series.id or 0, version=1, status="approved", title="184/KH-UBND", created_by="t"
    )
    funder = Funder(
        name=f"Quỹ {province_code}", funder_type="elderly_care_fund", source="elderly_care_fund",
        created_by="t",
    )  # fmt: skip
    session.add_all([plan, funder])
    session.flush()
    for number, activity, source, amount in (
        (TRAINING, "training", "provincial_budget", 50_700_000),
        (SEED, "seed_capital", "elderly_care_fund", 320 * MILLION),
        (MONITORING, "monitoring", "provincial_budget", 17_600_000),
    ):
        line = PlanLine(plan_id=plan.id or 0, number=number, activity=activity, content="x")
        session.add(line)
        session.flush()
        session.add(PlanLineAmount(line_id=line.id or 0, source=source, amount=amount))
    session.flush()
    return plan, series, funder


def _club(club_id: int, province_code: str, commune_code: str) -> ClubFacts:
    return ClubFacts(
        id=club_id,
        code=f"C{club_id}",
        name="CLB",
        province_code=province_code,
        commune_code=commune_code,
        status="active",
        former_province_code="10" if province_code == LAO_CAI else None,
        former_district_code="082" if club_id % 2 else None,
    )


def _money(session: Session, plan: Plan, series: PlanSeries, funder: Funder, **facts: Any) -> None:
    seed = session.exec(
        select(PlanLine).where(PlanLine.plan_id == plan.id, PlanLine.number == SEED)
    ).one()
    flow: dict[str, Any] = {
        "funder_id": funder.id, "plan_id": plan.id, "plan_line_id": seed.id,
        "series_id": series.id, "line_number": SEED, "source": "elderly_care_fund",
        "province_code": series.province_code, "created_by": "t",
    }  # fmt: skip
    session.add(Receipt(**flow, amount=facts["received"], received_on=date(2018, 4, 2)))
    session.add(
        Allocation(
            **flow,
            programme_code="1533",
            commune_code=facts["commune"],
            club_id=1,
            fund_kind="income_generation",
            amount=facts["allocated"],
            allocated_on=date(2018, 5, 2),
            status="recorded",
        )
    )


def test_clubs_trained_and_monitored_are_counted_by_area_and_period(session: Session) -> None:
    admin = Principal(subject="admin", role=Role.ADMIN)
    plan, series, _ = _plan(session, LAO_CAI)
    clubs = [_club(n, LAO_CAI, LAO_CAI_COMMUNE if n <= 10 else "02680") for n in range(1, 17)]

    def event(kind: EventKind, on: date, chosen: list[ClubFacts], line: int = TRAINING) -> None:
        payload = EventCreate(
            line_number=line,
            kind=kind,
            title="x",
            level=EventLevel.PROVINCE,
            started_on=on,
            club_ids=[club.id for club in chosen],
        )
        work.record_event(session, admin, plan, series, payload, chosen)

    event(EventKind.TRAINING_CLASS, date(2018, 5, 15), clubs)
    event(EventKind.TRAINING_CLASS, date(2018, 11, 5), clubs[:4])  # the same boards again
    event(EventKind.MONITORING_VISIT, date(2018, 9, 12), clubs[:3], MONITORING)
    event(EventKind.MONITORING_VISIT, date(2019, 3, 1), clubs[10:12], MONITORING)
    session.flush()
    year = (date(2018, 1, 1), date(2018, 12, 31))
    assert indicators.clubs_trained(session, Area(LAO_CAI), *year) == 16
    assert indicators.clubs_trained(session, Area(), *year) == 16
    assert indicators.clubs_trained(session, Area(LAO_CAI, LAO_CAI_COMMUNE), *year) == 10
    assert indicators.clubs_trained(session, Area(HA_NOI), *year) == 0
    assert indicators.clubs_trained(session, Area(LAO_CAI), date(2018, 6, 1), year[1]) == 4
    assert indicators.clubs_trained(session, Area(former_district_code="082"), *year) == 8
    assert indicators.clubs_trained(session, Area(former_province_code="10"), *year) == 16
    assert indicators.clubs_monitored(session, Area(LAO_CAI), *year) == 3
    assert indicators.clubs_monitored(session, Area(LAO_CAI, "02680"), *year) == 0
    assert indicators.clubs_monitored(session, Area(), date(2018, 1, 1), date(2019, 12, 31)) == 5


def test_spent_and_raised_are_summed_by_area_and_period(session: Session) -> None:
    admin = Principal(subject="admin", role=Role.ADMIN)
    plan, series, funder = _plan(session, LAO_CAI)
    other_plan, other_series, other_funder = _plan(session, HA_NOI)

    def pay(on: date, amount: int, line: int = TRAINING) -> None:
        payload = SpendingCreate(
            line_number=line,
            source="provincial_budget",
            spent_on=on,
            amount=amount,
            document="Chứng từ số 12/CT",
        )
        work.record_spending(session, admin, plan, series, payload)

    pay(date(2018, 5, 16), 50_700_000)
    pay(date(2018, 9, 13), 10 * MILLION, MONITORING)
    pay(date(2019, 1, 10), 7_600_000, MONITORING)  # paid after the year closed
    withdrawn = work.record_spending(
        session,
        admin,
        plan,
        series,
        SpendingCreate(
            line_number=TRAINING,
            source="provincial_budget",
            spent_on=date(2018, 5, 16),
            amount=50_700_000,
            document="Chứng từ số 12/CT",
        ),
    )
    work.withdraw_spending(session, admin, withdrawn, "Nhập trùng")
    _money(session, plan, series, funder, received=100 * MILLION, allocated=20 * MILLION,
           commune=LAO_CAI_COMMUNE)  # fmt: skip
    _money(session, other_plan, other_series, other_funder, received=30 * MILLION,
           allocated=15 * MILLION, commune=HA_NOI_COMMUNE)  # fmt: skip
    session.flush()
    year = (date(2018, 1, 1), date(2018, 12, 31))
    assert indicators.spent(session, Area(LAO_CAI), *year) == 80_700_000
    assert indicators.spent(session, Area(LAO_CAI, LAO_CAI_COMMUNE), *year) == 20 * MILLION
    assert indicators.spent(session, Area(), *year) == 95_700_000
    assert indicators.spent(session, Area(LAO_CAI), date(2019, 1, 1), date(2019, 12, 31)) == (
        7_600_000
    )
    assert indicators.raised(session, Area(LAO_CAI), *year) == 100 * MILLION
    assert indicators.raised(session, Area(), *year) == 130 * MILLION
    assert indicators.raised(session, Area(HA_NOI), date(2019, 1, 1), date(2019, 12, 31)) == 0


def test_the_targets_report_counts_the_clubs_trained_and_the_money_spent(
    admin: httpx.Client, lao_cai_clubs: list[dict[str, Any]]
) -> None:
    # "Tập huấn cho Ban chủ nhiệm 16 CLB", reported on old Lào Cai, and the money spent on
    # the plan's lines, in the province and in one commune (what its clubs were allocated).
    plan = make_plan(admin, approve=False)
    year = {"period_from": "2017-01-01", "period_to": "2017-12-31"}
    trained = add_target(
        admin,
        plan,
        indicator="support.clubs_trained",
        area={"level": "former_province", "code": "10"},
        minimum=16,
        **year,
    )
    monitored = add_target(
        admin,
        plan,
        indicator="support.clubs_monitored",
        area={"level": "commune", "code": LAO_CAI_COMMUNE},
        minimum=5,
        **year,
    )
    money = add_target(
        admin,
        plan,
        indicator="money.spent",
        area={"level": "province", "code": LAO_CAI},
        minimum=50_700_000 + 10 * MILLION,
        **year,
    )
    assert_problem(
        admin.post(
            f"/api/v1/plans/{plan['id']}/targets",
            json={
                "indicator": "money.raised",
                "area": {"level": "commune", "code": LAO_CAI_COMMUNE},
                "period_to": "2017-12-31",
                "minimum": 1,
            },
        ),
        422,
        field="area.level",
    )
    approved = admin.post(f"/api/v1/plans/{plan['id']}/approve")
    assert approved.status_code == 200, approved.text
    ids = [club["id"] for club in lao_cai_clubs]
    record(admin, plan, club_ids=ids, started_on="2017-05-15")
    record(
        admin,
        plan,
        line_number=MONITORING,
        kind="monitoring_visit",
        title="Giám sát CLB",
        level="commune",
        commune_code=LAO_CAI_COMMUNE,
        started_on="2017-09-12",
        club_ids=ids[:3],
    )
    assert spend(admin, plan, TRAINING, 50_700_000, spent_on="2017-06-20").status_code == 201
    answer = admin.get(
        "/api/v1/reports/targets", params={"plan_id": plan["id"], "on": "2018-03-01"}
    )
    assert answer.status_code == 200, answer.text
    by_id = {item["target"]["id"]: item for item in answer.json()["results"]}
    assert (by_id[trained["id"]]["verdict"], by_id[trained["id"]]["figure"]) == ("met", 16)
    assert (by_id[monitored["id"]]["figure"], by_id[monitored["id"]]["gap"]) == (3, 2)
    assert by_id[money["id"]]["verdict"] == "not_met"
    assert (by_id[money["id"]]["figure"], by_id[money["id"]]["gap"]) == (50_700_000, 10 * MILLION)
