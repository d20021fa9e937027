"""The whole programme end to end through the gateway, with one service restarted in the middle.

A plan approved, money received and allocated, the club's fund credited once, a loan paid out
and repaid, a bank batch posted; then the indicators and an admin's webhooks must show exactly
that. Each run has a province of its own on a platform of its own, so the figures are exact.
"""

import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from common import clock
from common.events.catalogue import EventType
from tests.conftest import ADMIN_PASSWORD, _database_urls, _stack
from tests.factories import (
    HA_NOI,
    HA_NOI_COMMUNE,
    LAO_CAI,
    LAO_CAI_COMMUNE,
    make_club,
    member_payload,
    national_id,
)
from tests.support import Api, settle_events
from tests.test_bank_loans import BANKS, BATCHES, key, record
from tests.test_funding import line_of, make_funder, wait_for_status
from tests.test_loans import RULES, act, repay
from tests.test_webhooks import subscribe_receiver
from tools.demo_funding import MILLION, lao_cai_2018_plan
from tools.stack import FACTORIES, Stack

TODAY = clock.today()


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    tmp: Path = tmp_path_factory.mktemp("programme")
    settings = {
        "FUNDING_TRANSFER_INTERVAL_SECONDS": "0.3",
        "FUNDING_TRANSFER_MAX_BACKOFF_SECONDS": "1",
    }
    for urls in _database_urls(tmp, "programme"):
        yield from _stack(tmp, urls, settings)


@pytest.fixture(scope="module")
def api(platform: Stack) -> Api:
    return Api(platform.gateway_url, ADMIN_PASSWORD)


def ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


def restart(stack: Stack, component: str) -> None:
    stack.start_one(component)
    stack.wait_healthy(component)


@pytest.mark.parametrize(
    ("province", "commune", "stopped"),
    [(LAO_CAI, LAO_CAI_COMMUNE, "loans"), (HA_NOI, HA_NOI_COMMUNE, "gateway")],
    ids=["loans-restarted", "gateway-restarted"],
)
def test_the_programme_end_to_end(
    platform: Stack, api: Api, province: str, commune: str, stopped: str
) -> None:
    admin = api.client(api.admin_token)
    hook, inbox = subscribe_receiver(admin, *(t.value for t in EventType))

    plan_body = {**lao_cai_2018_plan("1648"), "province_code": province, "start_year": TODAY.year}
    plan = ok(admin.post("/api/v1/plans", json=plan_body), 201)
    plan = ok(admin.post(f"/api/v1/plans/{plan['id']}/approve"))
    funder = make_funder(admin)
    line = line_of(plan, "seed_capital")
    receipt = {
        "funder_id": funder["id"],
        "plan_line_id": line["id"],
        "amount": 50 * MILLION,
        "received_on": TODAY.isoformat(),
    }
    ok(admin.post("/api/v1/receipts", json=receipt), 201)

    if stopped == "loans":
        platform.stop_one("loans")  # the club, its members and the allocation arrive meanwhile
    club = make_club(admin, province_code=province, commune_code=commune)
    borrower_id = national_id(1956, "female")
    members = [
        ok(admin.post(f"/api/v1/clubs/{club['id']}/members", json=body), 201)
        for body in (
            member_payload(
                national_id=borrower_id, birth_date="1956-04-04", joined_on=TODAY.isoformat()
            ),
            member_payload(
                gender="male",
                birth_date="1990-01-01",
                national_id=national_id(1990, "male"),
                joined_on=TODAY.isoformat(),
            ),
            member_payload(
                birth_date="1960-02-02",
                national_id=national_id(1960, "female"),
                joined_on=TODAY.isoformat(),
            ),
        )
    ]
    allocation = {
        "funder_id": funder["id"],
        "plan_line_id": line["id"],
        "club_id": club["id"],
        "amount": 20 * MILLION,
        "allocated_on": TODAY.isoformat(),
        "reference": "seed capital",
    }
    allocated = ok(admin.post("/api/v1/allocations", json=allocation), 201)
    if stopped == "loans":
        time.sleep(1)  # the transfer fails and waits for its retry
        restart(platform, "loans")
    else:
        platform.stop_one("gateway")  # the transfer is recorded while no webhook is sent
        time.sleep(1.5)
        restart(platform, "gateway")
        admin = api.client(api.admin_token)
    recorded = wait_for_status(admin, allocated["id"], "recorded")

    settle_events({c: platform.url(c) for c in FACTORIES}, api.token_for("service"))
    funds = {
        f["kind"]: f
        for f in ok(admin.get("/api/v1/funds", params={"club_id": club["id"]}))["items"]
    }
    assert set(funds) == {"income_generation", "activity"}
    revolving = funds["income_generation"]
    entries = ok(admin.get(f"/api/v1/funds/{revolving['id']}/entries"))["items"]
    assert [(e["entry_type"], e["amount"], e["allocation_id"]) for e in entries] == [
        ("capital_in", 20 * MILLION, recorded["id"])
    ]

    ok(admin.put(f"/api/v1/funds/{revolving['id']}/loan-rules", json=RULES), 201)
    borrower = {**club, "member_id": members[0]["id"]}
    application = {
        "club_id": club["id"],
        "member_id": borrower["member_id"],
        "amount": 3 * MILLION,
        "applied_on": TODAY.isoformat(),
        "purpose": "Buy two piglets",
        "form": "cash",
    }
    loan = ok(admin.post("/api/v1/loans", json=application), 201)
    ok(act(admin, loan["id"], "approve"))
    ok(act(admin, loan["id"], "disburse", disbursed_on=TODAY.isoformat()))
    repaid = ok(repay(admin, loan["id"], 500_000, TODAY.isoformat()), 201)

    bank = api.client(api.token_for("bank"))
    batch = [
        record(borrower_national_id=borrower_id),
        record(borrower_national_id=national_id(1970, "male")),
    ]
    posted = ok(bank.post(BATCHES, json={"records": batch}, headers=key()))
    assert posted["counts"]["created"] == 2 and posted["counts"]["matched"] == 1

    # The indicators show exactly that.
    settle_events({c: platform.url(c) for c in FACTORIES}, api.token_for("service"))
    report = ok(
        admin.get("/api/v1/reports/indicators", params={"province": province, "programme": "1648"})
    )
    assert report["missing"] == []
    rows = {f"{r['section']}.{r['name']}": r["value"] for r in report["indicators"]}
    outstanding = 3 * MILLION - repaid["principal"]
    assert rows["clubs.total"] == 1 and rows["clubs.active"] == 1
    assert rows["members.total"] == 3
    assert rows["money.clubs_with_both_funds"] == 1
    assert rows["money.fund_capital"] == 20 * MILLION
    assert rows["money.member_loans_outstanding"] == outstanding
    assert rows["money.members_with_loan"] == 1  # a club and a bank loan: one member
    assert rows["funding.received.elderly_care_fund"] == 50 * MILLION
    assert rows["funding.allocated.elderly_care_fund"] == 20 * MILLION

    # And so do the webhooks: each event once, nothing else about these objects.
    subjects = {
        f"club:{club['id']}",
        f"plan:{plan['series_id']}",
        f"allocation:{recorded['id']}",
        f"loan:{loan['id']}",
        *(f"member:{m['id']}" for m in members),
    }
    expected = Counter(
        {
            "club.created": 1,
            "member.joined": 3,
            "club.membership_changed": 3,  # the club's counts after each member joined
            "plan.approved": 1,
            "allocation.recorded": 1,
            "loan.disbursed": 1,
            "loan.repaid": 1,
            "bank_loan.posted": 2,  # one for the loans matched in the province, one unmatched
        }
    )
    numbers = {r["loan_number"] for r in batch}

    def is_mine(event: dict[str, Any]) -> bool:
        if event["type"] == "bank_loan.posted":
            return bool(event["data"]["batch_id"] == posted["batch_id"])
        return event["subject"] in subjects

    deadline = time.monotonic() + 20
    while True:
        mine = [e for e in inbox.events if is_mine(e)]
        if Counter(e["type"] for e in mine) == expected or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert Counter(e["type"] for e in mine) == expected, mine
    # A posting announces counts; its loans are fetched from the event's sync token.
    announced = [e["data"] for e in mine if e["type"] == "bank_loan.posted"]
    assert sum(data["created"] for data in announced) == 2
    since = {data["changed_since"] for data in announced}.pop()
    fetched = ok(admin.get(BANKS, params={"changed_since": since, "limit": 200}))["items"]
    found = {i["loan_number"]: i["member_id"] for i in fetched if i["loan_number"] in numbers}
    assert found == {batch[0]["loan_number"]: members[0]["id"], batch[1]["loan_number"]: None}
    log = ok(admin.get(f"/api/v1/webhooks/{hook['id']}/deliveries", params={"limit": 200}))["items"]
    assert len({d["event_id"] for d in log}) == len(log)  # no event delivered twice
    assert all(d["status"] == "delivered" for d in log if d["event_id"] in {e["id"] for e in mine})
    assert inbox.server is not None
    inbox.server.shutdown()
    assert admin.delete(f"/api/v1/webhooks/{hook['id']}").status_code == 204
