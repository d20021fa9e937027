"""The production layout on one machine: replicas that share nothing but their databases.

Two web replicas of the gateway and of each service (`<PREFIX>_PROCESS=web`) sit behind
round-robin balancers (tests/balancer.py: per connection, as a Kubernetes Service balances),
and every component's background work runs in two worker processes of its own
(`<PREFIX>_PROCESS=worker`). The test clients open a new connection per request, so their calls
alternate between the gateways. What a replica must not keep to itself shows here: a token
from one gateway works on the other; the login throttle counts across them; each allocation
credits its club's fund once; each webhook is delivered once; and a worker killed in the middle
of its work and started again loses no event and applies none twice.

As in production, on PostgreSQL, with events through NATS JetStream (a server of the module's
own); the SQLite pass skips it (SQLite is the one-process embedded layout).
"""

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from common.db import make_engine, normalise_url
from gateway.models import User
from tests.balancer import Balancer
from tests.conftest import ADMIN_PASSWORD, BACKEND, TEST_SETTINGS, _database_urls
from tests.factories import make_club
from tests.nats_server import nats_server
from tests.support import Api, assert_problem, wait_until
from tests.test_funding import allocate, capital_entries, funded_line, wait_for_status
from tests.test_webhooks import subscribe_receiver
from tools.stack import ENV_PREFIX, FACTORIES, Stack, free_port

MILLION = 1_000_000
CLUBS = 12


@dataclass
class Replicas:
    web: list[Stack]
    workers: list[Stack]
    balancers: dict[str, Balancer]

    @property
    def gateway_url(self) -> str:
        return self.balancers["gateway"].url


def _platform(tmp: Path, name: str, urls: dict[str, str], env: dict[str, str]) -> Stack:
    return Stack(
        database_urls=urls,
        ports={component: free_port() for component in FACTORIES},
        var_dir=tmp / name,
        admin_password=ADMIN_PASSWORD,
        extra_env={**TEST_SETTINGS, **env},
    )


def _as(process: str) -> dict[str, str]:
    return {f"{prefix}_PROCESS": process for prefix in ENV_PREFIX.values()}


@pytest.fixture(scope="module")
def replicas(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Replicas]:
    if BACKEND != "postgres":
        pytest.skip("the production layout runs on PostgreSQL (the PostgreSQL pass runs it)")
    tmp = tmp_path_factory.mktemp("replicas")
    with nats_server(tmp_path_factory.mktemp("nats")) as nats_url:
        yield from _replicas(tmp, {"ISHC_EVENT_TRANSPORT": "jetstream", "ISHC_NATS_URL": nats_url})


def _replicas(tmp: Path, transport: dict[str, str]) -> Iterator[Replicas]:
    for urls in _database_urls(tmp, "replicas"):
        web_ports = [{c: free_port() for c in FACTORIES} for _ in range(2)]
        balancers = {c: Balancer([ports[c] for ports in web_ports]) for c in FACTORIES}
        reached_at = {c: balancer.url for c, balancer in balancers.items()}
        web = [_platform(tmp, f"web-{n}", urls, {**transport, **_as("web")}) for n in range(2)]
        workers = [
            _platform(tmp, f"worker-{n}", urls, {**transport, **_as("worker")}) for n in range(2)
        ]
        for stack, ports in zip(web, web_ports, strict=True):
            stack.ports = ports
        for stack in [*web, *workers]:
            stack.reached_at = reached_at
        for balancer in balancers.values():
            balancer.__enter__()
        try:
            web[0].migrate()
            for stack in [*web, *workers]:
                stack.start(log_dir=stack.var_dir / "logs")
            yield Replicas(web, workers, balancers)
        finally:
            for stack in [*workers, *web]:
                stack.stop()
            for balancer in balancers.values():
                balancer.__exit__()


@pytest.fixture(scope="module")
def api(replicas: Replicas) -> Api:
    return Api(replicas.gateway_url, ADMIN_PASSWORD)


@pytest.fixture(scope="module")
def admin(api: Api) -> Iterator[httpx.Client]:
    # A connection per request: the balancer sends each to the next gateway.
    with api.client(api.admin_token, limits=httpx.Limits(max_keepalive_connections=0)) as client:
        yield client


def test_a_token_from_one_gateway_works_on_the_other(replicas: Replicas, api: Api) -> None:
    first, second = (stack.gateway_url for stack in replicas.web)
    keys = [httpx.get(url + "/.well-known/jwks.json").json() for url in (first, second)]
    assert keys[0] == keys[1]
    token = httpx.post(
        first + "/auth/token",
        data={"grant_type": "password", "username": "admin", "password": ADMIN_PASSWORD},
    ).json()["access_token"]
    me = httpx.get(second + "/auth/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 200, me.text
    clubs = httpx.get(second + "/api/v1/clubs", headers={"Authorization": f"Bearer {token}"})
    assert clubs.status_code == 200, clubs.text


def test_the_first_admin_is_made_once(replicas: Replicas) -> None:
    engine = make_engine(normalise_url(replicas.web[0].database_urls["gateway"]))
    try:
        with engine.connect() as connection:
            admins = connection.execute(
                select(func.count()).select_from(User).where(User.username == "admin")
            ).scalar_one()
    finally:
        engine.dispose()
    assert admins == 1


def test_the_login_throttle_counts_failures_on_every_gateway(replicas: Replicas, api: Api) -> None:
    username, _password = api.create_user("officer", provinces=["15"])
    gateways = [stack.gateway_url for stack in replicas.web]
    wrong = {"grant_type": "password", "username": username, "password": "not-it"}
    statuses = []
    for attempt in range(8):
        answer = httpx.post(gateways[attempt % 2] + "/auth/token", data=wrong)
        statuses.append(answer.status_code)
        if answer.status_code == 429:
            break
    assert statuses[-1] == 429, statuses
    # Blocked on both gateways, whichever counted the failure that blocked it.
    for url in gateways:
        assert_problem(httpx.post(url + "/auth/token", data=wrong), 429)


def _funds_of(admin: httpx.Client, club_id: int) -> list[dict[str, Any]]:
    answer = admin.get("/api/v1/funds", params={"club_id": club_id})
    assert answer.status_code == 200, answer.text
    return list(answer.json()["items"])


def test_allocations_credit_each_club_once(admin: httpx.Client) -> None:
    _, funder, line = funded_line(admin)
    clubs = [make_club(admin) for _ in range(4)]
    made = []
    for club in clubs:
        answer = allocate(admin, funder, line, club, 5 * MILLION)
        assert answer.status_code == 201, answer.text
        made.append(answer.json())
    for allocation, club in zip(made, clubs, strict=True):
        wait_for_status(admin, allocation["id"], "recorded")
        entries = capital_entries(admin, club["id"])
        assert [e["allocation_id"] for e in entries] == [allocation["id"]]


def test_a_killed_worker_loses_no_event_and_applies_none_twice(
    replicas: Replicas, admin: httpx.Client
) -> None:
    subscription, inbox = subscribe_receiver(admin, "club.created")
    try:
        victim = replicas.workers[0]
        clubs = []
        for n in range(CLUBS):
            clubs.append(make_club(admin))
            if n == CLUBS // 3:  # in the middle of the work: killed, then back
                victim.processes["loans"].kill()
                victim.processes["gateway"].kill()
            if n == 2 * CLUBS // 3:
                for component in ("loans", "gateway"):
                    victim.processes.pop(component)
                    victim.start_one(component, victim.var_dir / "logs")
                    victim.wait_healthy(component)
        for club in clubs:
            inbox.wait_for(f"club:{club['id']}")
            # Each club's funds were opened once, from its club.created event.
            wait_until(
                lambda club=club: len(_funds_of(admin, club["id"])) >= 2,
                f"the funds of club {club['id']}",
            )
            assert len(_funds_of(admin, club["id"])) == 2, club["id"]
        time.sleep(2)  # a second delivery, if any, would have arrived by now
        for club in clubs:
            received = inbox.of(f"club:{club['id']}")
            assert len(received) == 1, (club["id"], received)
        assert len({event["id"] for event in inbox.events}) == len(inbox.events)
    finally:
        admin.delete(f"/api/v1/webhooks/{subscription['id']}")
        assert inbox.server is not None
        inbox.server.shutdown()


def test_a_worker_process_serves_only_its_probes(replicas: Replicas) -> None:
    worker = replicas.workers[1]
    for component in FACTORIES:
        url = worker.url(component)
        assert httpx.get(url + "/healthz").status_code == 200
        assert httpx.get(url + "/readyz").status_code == 200
        assert httpx.get(url + "/api/v1/clubs").status_code == 404, component
