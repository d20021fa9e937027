"""Many writers at once over every money endpoint, with the event consumers running.

Whatever the backend, the answers are the rules' own (201, 200, 409, 422), never a 5xx, and
every fund balances afterwards: no statement line below zero, the balance the sum of its lines.
"""

import random
import threading
import uuid
from collections import Counter
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from tests.support import Api, settle_events, wait_until
from tests.test_funding import allocate, line_of, make_funder, make_plan, receive
from tests.test_loans import DISBURSED_ON, act, apply, make_lending_club, open_fund
from tools.stack import FACTORIES, Stack

WRITERS = 12
ROUNDS = 8
MILLION = 1_000_000
Call = Callable[[httpx.Client], httpx.Response]


class Money:
    """Two lending clubs with their funds, a funder with money received, and what was made."""

    def __init__(self, admin: httpx.Client) -> None:
        self.clubs = [make_lending_club(admin, capital=20 * MILLION) for _ in range(2)]
        for club in self.clubs:
            club["activity_fund_id"] = open_fund(admin, club["id"], "activity")["id"]
        plan = make_plan(admin)
        self.funder = make_funder(admin)
        self.line = line_of(plan, "seed_capital")
        receive(admin, self.funder, self.line, 30 * MILLION)
        self.loans: list[int] = []
        self.entries: list[tuple[int, int]] = []
        self.lock = threading.Lock()

    def remember(self, response: httpx.Response, kind: str, fund_id: int = 0) -> None:
        if response.status_code not in (200, 201):
            return
        with self.lock:
            if kind == "loan":
                self.loans.append(response.json()["id"])
            else:
                self.entries.append((fund_id, response.json()["id"]))

    def calls(self, chance: random.Random) -> list[Call]:
        """One writer's requests, a mix of every money operation, some with a retry key."""
        club = chance.choice(self.clubs)

        def capital(client: httpx.Client) -> httpx.Response:
            body = {"amount": 300_000, "occurred_on": "2024-01-05", "origin": "member_contribution"}
            response = client.post(f"/api/v1/funds/{club['fund_id']}/capital", json=body,
                                   headers=_maybe_key(chance))  # fmt: skip
            self.remember(response, "entry", club["fund_id"])
            return response

        def expense(client: httpx.Client) -> httpx.Response:
            fund_id = club["activity_fund_id"]
            if chance.random() < 0.5:
                body = {"amount": 200_000, "occurred_on": "2024-01-06", "origin": "seed"}
                client.post(f"/api/v1/funds/{fund_id}/capital", json=body)
            body = {"amount": 150_000, "occurred_on": "2024-02-01", "reference": "tea"}
            return client.post(f"/api/v1/funds/{fund_id}/expenses", json=body,
                               headers=_maybe_key(chance))  # fmt: skip

        def lend(client: httpx.Client) -> httpx.Response:
            response = apply(client, club, amount=chance.choice([2, 3, 5]) * MILLION)
            self.remember(response, "loan")
            return response

        def decide(client: httpx.Client) -> httpx.Response:
            action = chance.choice(["approve", "approve", "reject"])
            body = {"reason": "not this month"} if action == "reject" else {}
            return act(client, self._a_loan(chance), action, **body)

        def disburse(client: httpx.Client) -> httpx.Response:
            return act(client, self._a_loan(chance), "disburse", disbursed_on=DISBURSED_ON)

        def repay(client: httpx.Client) -> httpx.Response:
            body = {"amount": 500_000, "paid_on": "2024-03-01", "reference": "meeting"}
            return client.post(f"/api/v1/loans/{self._a_loan(chance)}/repayments", json=body,
                               headers=_maybe_key(chance))  # fmt: skip

        def write_off(client: httpx.Client) -> httpx.Response:
            body = {"written_off_on": "2024-06-01", "reason": "the borrower died"}
            return act(client, self._a_loan(chance), "write-off", **body)

        def reverse(client: httpx.Client) -> httpx.Response:
            with self.lock:
                if not self.entries:
                    return client.get("/healthz")
                fund_id, entry_id = chance.choice(self.entries)
            body = {"occurred_on": "2024-01-07", "reference": "typed twice"}
            return client.post(f"/api/v1/funds/{fund_id}/entries/{entry_id}/reversal", json=body)

        def allocation(client: httpx.Client) -> httpx.Response:
            return allocate(client, self.funder, self.line, club, chance.choice([1, 2]) * MILLION)

        pool = [capital, expense, lend, lend, decide, disburse, repay, write_off, reverse,
                allocation]  # fmt: skip
        return [chance.choice(pool) for _ in range(ROUNDS)]

    def _a_loan(self, chance: random.Random) -> int:
        with self.lock:
            return chance.choice(self.loans) if self.loans else 2**31 - 1


def _maybe_key(chance: random.Random) -> dict[str, str]:
    return {"Idempotency-Key": str(uuid.uuid4())} if chance.random() < 0.5 else {}


def run_writers(api: Api, money: Money) -> Counter[int]:
    barrier = threading.Barrier(WRITERS)
    statuses: Counter[int] = Counter()
    failures: list[str] = []

    def writer(seed: int) -> None:
        chance = random.Random(seed)
        calls = money.calls(chance)
        with api.client(api.admin_token) as client:
            barrier.wait()
            for call in calls:
                response = call(client)
                statuses[response.status_code] += 1
                if response.status_code >= 500:
                    failures.append(f"{response.request.method} {response.request.url.path}: "
                                    f"{response.status_code} {response.text[:300]}")  # fmt: skip

    threads = [threading.Thread(target=writer, args=(seed,)) for seed in range(WRITERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not failures, failures
    return statuses


def _pending_allocations(admin: httpx.Client) -> int:
    """Allocations not yet in a fund that the relay will still send (pending, or failed with a
    retry planned)."""
    pending = admin.get("/api/v1/allocations", params={"status": "pending", "limit": 1}).json()
    failed = admin.get("/api/v1/allocations", params={"status": "failed", "limit": 100}).json()
    return int(pending["total"]) + sum(1 for a in failed["items"] if a["next_attempt_at"])


def assert_balanced(admin: httpx.Client, fund_id: int) -> None:
    lines: list[dict[str, Any]] = []
    while True:
        page = admin.get(f"/api/v1/funds/{fund_id}/entries",
                         params={"limit": 200, "offset": len(lines)}).json()  # fmt: skip
        lines += page["items"]
        if len(lines) >= page["total"]:
            break
    assert all(line["running_balance"] >= 0 for line in lines), fund_id
    fund = admin.get(f"/api/v1/funds/{fund_id}").json()
    assert fund["balance"] == sum(line["cash_change"] for line in lines) >= 0


@pytest.mark.slow
def test_many_writers_over_every_money_endpoint_get_no_5xx_and_funds_balance(
    api: Api, admin: httpx.Client, stack: Stack
) -> None:
    money = Money(admin)
    for _ in range(WRITERS):  # loans to act on from the first moment
        money.remember(apply(admin, random.choice(money.clubs)), "loan")
    statuses = run_writers(api, money)
    assert statuses[201] + statuses[200] > WRITERS, statuses
    settle_events({c: stack.url(c) for c in FACTORIES}, api.token_for("service"))
    # An allocation reaches the fund through the funding service's relay, which backs off after
    # a failed try: the statement is read once no allocation is still on its way
    wait_until(lambda: not _pending_allocations(admin), "the allocations' transfers", 60)
    for club in money.clubs:
        assert_balanced(admin, club["fund_id"])
        assert_balanced(admin, club["activity_fund_id"])
