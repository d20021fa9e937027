"""An allocation reaches the club's fund exactly once, whatever fails between the services.

A platform of its own, whose funding service talks to the loans service through a proxy that
can lose the loans service's answers: the worst failure, where the fund was credited but the
funding service never heard of it.
"""

import http.server
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import ADMIN_PASSWORD, _database_urls, _stack
from tests.factories import make_club
from tests.support import Api, assert_problem
from tests.test_funding import allocate, capital_entries, funded_line, wait_for_status
from tools.demo_funding import MILLION
from tools.stack import Stack, free_port

ALLOCATIONS_PATH = "/api/v1/funds/allocations"
HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "host"}


class LossyProxy(http.server.ThreadingHTTPServer):
    """Forwards to the loans service; loses the next `lose` answers to allocation posts for the
    club `club_id` after the loans service has handled them (only that club's: other tests'
    allocations may still be on their way)."""

    daemon_threads = True

    def __init__(self) -> None:
        self.target = ""
        self.club_id: int | None = None
        self.lose = 0
        self.forwarded = 0
        super().__init__(("127.0.0.1", free_port()), _Handler)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


def _club_of(body: bytes) -> int | None:
    try:
        club_id = json.loads(body).get("club_id")
    except (ValueError, AttributeError):
        return None
    return club_id if isinstance(club_id, int) else None


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: LossyProxy

    def log_message(self, format: str, *args: object) -> None:
        return

    def _forward(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(length) if length else b""
        headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
        answer = httpx.request(
            self.command, self.server.target + self.path, headers=headers, content=body
        )
        if self.path.startswith(ALLOCATIONS_PATH) and _club_of(body) == self.server.club_id:
            self.server.forwarded += 1
            if self.server.lose > 0:
                self.server.lose -= 1
                self.close_connection = True  # handled by the loans service, answer lost
                return
        self.send_response(answer.status_code)
        for key, value in answer.headers.items():
            if key.lower() not in HOP_BY_HOP:
                self.send_header(key, value)
        self.send_header("content-length", str(len(answer.content)))
        self.end_headers()
        self.wfile.write(answer.content)

    do_GET = do_POST = do_PUT = _forward


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Stack, LossyProxy]]:
    tmp: Path = tmp_path_factory.mktemp("transfers")
    proxy = LossyProxy()
    threading.Thread(target=proxy.serve_forever, daemon=True).start()
    settings = {
        "FUNDING_LOANS_URL": proxy.url,
        "FUNDING_TRANSFER_INTERVAL_SECONDS": "0.3",
        "FUNDING_TRANSFER_MAX_BACKOFF_SECONDS": "1",
    }
    try:
        for urls in _database_urls(tmp, "transfers"):
            for stack in _stack(tmp, urls, settings):
                proxy.target = stack.url("loans")
                yield stack, proxy
    finally:
        proxy.shutdown()


@pytest.fixture(scope="module")
def admin(platform: tuple[Stack, LossyProxy]) -> httpx.Client:
    api = Api(platform[0].gateway_url, ADMIN_PASSWORD)
    return api.client(api.admin_token)


@pytest.fixture
def funded(admin: httpx.Client) -> dict:
    _, funder, line = funded_line(admin)
    return {"funder": funder, "line": line, "club": make_club(admin)}


def test_a_lost_answer_is_retried_and_the_fund_is_credited_once(
    platform: tuple[Stack, LossyProxy], admin: httpx.Client, funded: dict
) -> None:
    _, proxy = platform
    proxy.club_id, proxy.lose, proxy.forwarded = funded["club"]["id"], 2, 0
    before = proxy.forwarded
    created = allocate(admin, funded["funder"], funded["line"], funded["club"], 20 * MILLION)
    assert created.status_code == 201, created.text
    allocation = wait_for_status(admin, created.json()["id"], "recorded")
    assert proxy.forwarded - before >= 3  # two answers lost, then one heard
    assert allocation["attempts"] >= 3
    entries = capital_entries(admin, funded["club"]["id"])
    assert [(e["amount"], e["allocation_id"]) for e in entries] == [
        (20 * MILLION, allocation["id"])
    ]


def test_transfers_survive_both_services_restarting(
    platform: tuple[Stack, LossyProxy], admin: httpx.Client, funded: dict
) -> None:
    stack, _ = platform
    stack.stop_one("loans")
    created = allocate(admin, funded["funder"], funded["line"], funded["club"], 15 * MILLION)
    assert created.status_code == 201, created.text
    failed = wait_for_status(admin, created.json()["id"], "failed")
    assert "loans" in failed["failure_reason"] and failed["next_attempt_at"]
    stack.stop_one("funding")
    stack.start(["loans"])
    time.sleep(0.5)
    stack.start(["funding"])
    allocation = wait_for_status(admin, created.json()["id"], "recorded")
    entries = capital_entries(admin, funded["club"]["id"])
    assert [(e["amount"], e["allocation_id"]) for e in entries] == [
        (15 * MILLION, allocation["id"])
    ]


def test_a_refused_transfer_waits_for_a_manual_retry(
    platform: tuple[Stack, LossyProxy], admin: httpx.Client, funded: dict
) -> None:
    club = funded["club"]
    created = allocate(admin, funded["funder"], funded["line"], club, 5 * MILLION)
    assert created.status_code == 201
    wait_for_status(admin, created.json()["id"], "recorded")
    # Dissolved after an allocation was made but before the next one reached the fund.
    stack, _ = platform
    stack.stop_one("loans")
    second = allocate(admin, funded["funder"], funded["line"], club, 5 * MILLION).json()
    for status in ("suspended", "dissolved"):
        admin.post(f"/api/v1/clubs/{club['id']}/status", json={"status": status, "reason": "t"})
    stack.start(["loans"])
    failed = admin.post(f"/api/v1/allocations/{second['id']}/retry").json()
    assert failed["status"] == "failed" and "dissolved" in failed["failure_reason"], failed
    assert failed["next_attempt_at"] is None
    assert len(capital_entries(admin, club["id"])) == 1


def test_funded_clubs_answer_without_the_clubs_service_and_say_what_is_missing(
    platform: tuple[Stack, LossyProxy], admin: httpx.Client, funded: dict
) -> None:
    created = allocate(admin, funded["funder"], funded["line"], funded["club"], MILLION)
    assert created.status_code == 201
    params = {"funder_id": funded["funder"]["id"]}
    stack, _ = platform
    stack.stop_one("clubs")
    try:
        page = admin.get("/api/v1/funded-clubs", params=params)
        # a file cannot say what it lacks: it is refused until the names can be had
        file = admin.get("/api/v1/funded-clubs", params={**params, "format": "csv"})
    finally:
        stack.start(["clubs"])
    assert assert_problem(file, 503)["code"] == "service_unavailable"
    assert page.status_code == 200, page.text
    body = page.json()
    assert body["missing"] == ["items.club_code", "items.club_name", "items.club_status"]
    assert [(i["club_id"], i["club_name"], i["amount"]) for i in body["items"]] == [
        (funded["club"]["id"], None, MILLION)
    ]
    again = admin.get("/api/v1/funded-clubs", params=params).json()
    assert again["missing"] == [] and again["items"][0]["club_name"] == funded["club"]["name"]
