"""The test platform: the real gateway and services as processes, on SQLite or PostgreSQL.

`TEST_DATABASE=postgres` (with `TEST_POSTGRES_URL`) gives each component a fresh PostgreSQL
database for the session; the default is one SQLite file per component in a temp folder.
"""

import io
import os
import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from sqlalchemy import Engine

from common import clock, sealing
from common.db import make_engine, normalise_url
from services.clubs.settings import ClubsSettings
from tests import personal_data_scan
from tests.support import Api, postgres_databases
from tools.reconcile import CannotRun, fetch, show, verdict
from tools.stack import FACTORIES, Stack, free_port

BACKEND = os.environ.get("TEST_DATABASE", "sqlite")
ADMIN_PASSWORD = "admin-" + secrets.token_hex(8)
PERSONAL_DATA_KEYS = f"test-a:{sealing.new_key()},test-b:{sealing.new_key()}"
"""Two keys, as during a rotation: the first seals, both open."""
PERSONAL_DATA_INDEX_KEY = sealing.new_key()
TOKEN_MINUTES = 240


def _session_calendar() -> str:
    """The calendar of this session's business dates: one that stays on one day for hours.

    Test modules take today's date once (`TODAY = clock.today()`) and the platform takes it at
    every request; a run that crossed midnight in Hà Nội (17:00 UTC) saw the two disagree. So a
    run that starts in Hà Nội's evening (18:00 or later, hours from midnight) keeps UTC's
    calendar, which is on the same date there and 7 hours from its own midnight; every other
    run keeps Vietnam's, at least 6 hours from its midnight. Every process of the session
    (this one and every platform it starts) reads the same setting. The tests that are about
    Vietnam's calendar itself name it (`vietnam_calendar`).
    """
    vietnam_hour = clock.utcnow().astimezone(ZoneInfo(clock.DEFAULT_TIME_ZONE)).hour
    return clock.DEFAULT_TIME_ZONE if vietnam_hour < 18 else "UTC"


os.environ.setdefault(clock.TIME_ZONE_SETTING, _session_calendar())
clock.business_zone.cache_clear()


@pytest.fixture(autouse=True)
def _session_calendar_after_each_test() -> Iterator[None]:
    """A process reads its calendar's setting once (`clock.business_zone`); a test that reads
    settings with an environment of its own (ISHC_TIME_ZONE removed, as a compose file or a
    manifest gives it) left Vietnam's in this process while the platform kept the session's,
    and a later test compared the two (a run started in Hà Nội's evening failed). Set up before
    and so torn down after `monkeypatch`: the calendar is read again once the environment is
    back."""
    yield
    clock.business_zone.cache_clear()


@pytest.fixture
def vietnam_calendar(monkeypatch: pytest.MonkeyPatch) -> None:
    """This process reads Vietnam's calendar for one test (whatever the session's is)."""
    monkeypatch.setenv(clock.TIME_ZONE_SETTING, clock.DEFAULT_TIME_ZONE)
    clock.business_zone.cache_clear()


TEST_SETTINGS = {
    # A slow machine's run outlasts a 15-minute token (tests hold tokens for the session):
    # the tests' tokens last longer; expiry itself is tested with tokens made to expire.
    "GATEWAY_PERSON_TOKEN_MINUTES": str(TOKEN_MINUTES),
    "GATEWAY_CLIENT_TOKEN_MINUTES": str(TOKEN_MINUTES),
    # Short waits keep the tests fast; the behaviour is the same as with the defaults.
    "GATEWAY_UPSTREAM_TIMEOUT_SECONDS": "3",
    # Below the gateway's, as in production: a slow service is a `missing` section, not a 504.
    "FUNDING_REPORT_TIMEOUT_SECONDS": "2.5",
    "GATEWAY_CONNECT_TIMEOUT_SECONDS": "1",
    "GATEWAY_KEYS_REFRESH_SECONDS": "1",
    "GATEWAY_LOGIN_BASE_DELAY_SECONDS": "30",
    "GATEWAY_ENVIRONMENT": "test",
    "GATEWAY_CORS_ORIGINS": "https://dashboard.example.vn",
    "GATEWAY_CORS_LOCAL_ORIGINS": "true",
    "CLUBS_EVENT_POLL_SECONDS": "0.2",
    "LOANS_EVENT_POLL_SECONDS": "0.2",
    "FUNDING_EVENT_POLL_SECONDS": "0.2",
    "GATEWAY_EVENT_POLL_SECONDS": "0.2",
    "LOANS_EVENT_IDLE_POLL_SECONDS": "0.4",
    "GATEWAY_EVENT_IDLE_POLL_SECONDS": "0.4",
    "LOANS_OVERDUE_SCAN_SECONDS": "1",
    "LOANS_MATCHING_RETRY_SECONDS": "0.5",
    "LOANS_PORTFOLIO_BALANCES_SECONDS": "1",
    "CLUBS_JOB_POLL_SECONDS": "0.2",
    "LOANS_JOB_POLL_SECONDS": "0.2",
    "FUNDING_JOB_POLL_SECONDS": "0.2",
    # Tests write memberships that ended years ago; tests/test_personal_data_rights.py runs
    # the retention pass itself.
    "CLUBS_MEMBER_RETENTION_YEARS": "0",
    "GATEWAY_WEBHOOK_POLL_SECONDS": "0.2",
    "GATEWAY_WEBHOOK_RETRY_BASE_SECONDS": "0.3",
    "GATEWAY_WEBHOOK_MAX_ATTEMPTS": "4",
    "GATEWAY_WEBHOOK_TIMEOUT_SECONDS": "2",
    # The tests' receivers listen on 127.0.0.1 (`test_webhooks` checks the refusal itself).
    "GATEWAY_WEBHOOK_ALLOW_PRIVATE_ADDRESSES": "true",
    **{
        f"{service}_{name}": value
        for service in ("CLUBS", "LOANS")
        for name, value in (
            ("PERSONAL_DATA_KEYS", PERSONAL_DATA_KEYS),
            ("PERSONAL_DATA_INDEX_KEY", PERSONAL_DATA_INDEX_KEY),
        )
    },
}
# The tests read sealed columns too (and seal what they write by hand) with the services' keys.
sealing.configure(
    ClubsSettings(
        personal_data_keys=PERSONAL_DATA_KEYS, personal_data_index_key=PERSONAL_DATA_INDEX_KEY
    )
)


def pytest_report_header() -> str:
    return f"ISHC test database backend: {BACKEND}"


def _database_urls(tmp: Path, label: str) -> Iterator[dict[str, str]]:
    if BACKEND == "postgres":
        url = os.environ.get("TEST_POSTGRES_URL")
        if not url:
            raise pytest.UsageError("TEST_DATABASE=postgres needs TEST_POSTGRES_URL")
        with postgres_databases(url, list(FACTORIES), label) as urls:
            yield urls
    else:
        yield {component: f"sqlite:///{tmp / f'{component}.db'}" for component in FACTORIES}


def _stack(
    tmp: Path,
    urls: dict[str, str],
    extra_env: dict[str, str] | None = None,
    launcher: list[str] | None = None,
) -> Iterator[Stack]:
    stack = Stack(
        database_urls=urls,
        ports={c: free_port() for c in FACTORIES},
        var_dir=tmp,
        admin_password=ADMIN_PASSWORD,
        extra_env={**TEST_SETTINGS, **(extra_env or {})},
    )
    if launcher:
        stack.launcher = launcher
    stack.migrate()
    stack.start(log_dir=tmp / "logs")
    try:
        yield stack
    finally:
        stack.stop()


@dataclass
class DeliberateBreaks:
    """Breaks that tests make on the session's platform on purpose, e.g. capital recorded by
    hand for an allocation the funding service never made. Each is registered with the
    objects that break (`deliberate_break("allocations", allocation_id=7)`); the
    reconciliation after all tests excuses exactly those, and fails if it does not find them."""

    made: list[tuple[str, dict[str, Any], str]] = field(default_factory=list)

    def add(self, check: str, test: str, objects: dict[str, Any]) -> None:
        self.made.append((check, objects, test))

    def matching(self, check: str, objects: dict[str, Any]) -> list[int]:
        """The registered breaks (their indexes) that a break of `check` on `objects` is."""
        return [
            index
            for index, (name, expected, _) in enumerate(self.made)
            if name == check and all(objects.get(k) == v for k, v in expected.items())
        ]


DELIBERATE_BREAKS = DeliberateBreaks()


@pytest.fixture
def deliberate_break(request: pytest.FixtureRequest) -> Callable[..., None]:
    def register(check: str, **objects: Any) -> None:
        DELIBERATE_BREAKS.add(check, request.node.nodeid, objects)

    return register


def reconcile_after_all_tests(platform: Stack) -> None:
    """Runs the reconciliation against the session's platform, with everything the tests
    wrote, and fails the run with the printed breaks if anything breaks (or cannot be
    checked), apart from the breaks tests made on purpose."""
    out = io.StringIO()
    try:
        results = fetch(platform.gateway_url, ADMIN_PASSWORD)
    except CannotRun as exc:
        pytest.fail(f"The reconciliation after the integration tests could not run: {exc}")
    found: set[int] = set()
    for result in results:
        kept, excused = [], []
        for item in result["breaks"]:
            made = DELIBERATE_BREAKS.matching(result["name"], item["objects"])
            found.update(made)
            if made:
                test = DELIBERATE_BREAKS.made[made[0]][2]
                excused.append(f"{item['reason']} (made on purpose by {test})")
            else:
                kept.append(item)
        result["breaks_total"] -= len(excused)
        result["breaks"] = kept
        show(result, out)
        for line in excused:
            print(f"    excused: {line}", file=out)
    status = verdict(results, out)
    unfound = [made for index, made in enumerate(DELIBERATE_BREAKS.made) if index not in found]
    for check, objects, test in unfound:
        print(f"NOT FOUND: the {check} break {test} made on purpose ({objects})", file=out)
    if status != 0 or unfound:
        pytest.fail(
            "The reconciliation after the integration tests did not pass:\n" + out.getvalue(),
            pytrace=False,
        )


def find_no_personal_data_in_plain_text(platform: Stack, log_dir: Path) -> None:
    """Fails the run if a citizen ID or phone number stands in plain text in a database or
    a log after all tests (what a dump or a leaked log file would show)."""
    found = personal_data_scan.scan(platform, log_dir)
    if found:
        shown = "\n".join(found[:40])
        pytest.fail(
            f"{len(found)} personal values in plain text after the tests:\n{shown}", pytrace=False
        )


@pytest.fixture
def scratch_engine(tmp_path: Path) -> Iterator[Engine]:
    """A bare database of the test's own, set up as the components set theirs up (PostgreSQL in
    the PostgreSQL run): for plumbing tested below the platform (outbox, consumers, jobs)."""
    if BACKEND == "postgres":
        with postgres_databases(os.environ["TEST_POSTGRES_URL"], ["scratch"], "scratch") as urls:
            engine = make_engine(normalise_url(urls["scratch"]))
            yield engine
            engine.dispose()
    else:
        engine = make_engine(normalise_url(f"sqlite:///{tmp_path / 'scratch.db'}"))
        yield engine
        engine.dispose()


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    tmp = tmp_path_factory.mktemp("platform")
    for urls in _database_urls(tmp, "main"):
        for platform in _stack(tmp, urls):
            yield platform
            # After the last test that used the platform, before it stops.
            reconcile_after_all_tests(platform)
            find_no_personal_data_in_plain_text(platform, tmp / "logs")


@pytest.fixture(scope="session")
def api(stack: Stack) -> Api:
    return Api(stack.gateway_url, ADMIN_PASSWORD)


@pytest.fixture(scope="session")
def admin(api: Api) -> httpx.Client:
    return api.client(api.admin_token)


@pytest.fixture(scope="session")
def token_for(api: Api) -> Callable[..., str]:
    """`token_for("officer", provinces=["15"])`: a real user of that role and scope, logged in."""
    return api.token_for


@pytest.fixture(scope="session")
def as_role(api: Api) -> Callable[..., httpx.Client]:
    def client(role: str, **scope: Any) -> httpx.Client:
        return api.client(api.token_for(role, **scope))

    return client
