"""Each process's connections as its settings say: the pool, PgBouncer's transaction mode, and a
read replica for the reports (`<PREFIX>_DB_*`, `<PREFIX>_REPORT_DATABASE_URL`)."""

from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest
from sqlalchemy import text

from common.db import make_engine, normalise_url
from tests.conftest import ADMIN_PASSWORD, BACKEND, _database_urls, _stack
from tests.support import Api, assert_problem
from tools.stack import Stack

PORTFOLIO = "/api/v1/loans/portfolio"

pytestmark = pytest.mark.skipif(
    BACKEND != "postgres", reason="pools, PgBouncer and replicas are PostgreSQL's"
)


@dataclass(frozen=True)
class Options:
    db_pool_size: int = 3
    db_max_overflow: int = 1
    db_pool_timeout_seconds: float = 5.0
    db_connect_timeout_seconds: int = 2
    db_pgbouncer: bool = False
    report_database_url: str = ""


def test_the_pool_and_pgbouncer_mode_follow_the_settings(stack: Stack) -> None:
    url = normalise_url(stack.database_urls["loans"])
    for pgbouncer, threshold in ((False, 5), (True, None)):
        engine = make_engine(url, Options(db_pgbouncer=pgbouncer))
        try:
            with engine.connect() as connection:
                assert connection.execute(text("SELECT 1")).scalar() == 1
                raw = connection.connection.dbapi_connection
                assert raw is not None
                assert raw.prepare_threshold == threshold  # type: ignore[attr-defined]
            assert engine.pool.size() == 3  # type: ignore[attr-defined]
        finally:
            engine.dispose()


@pytest.fixture(scope="module")
def unreachable_replica(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """A platform whose loans service reads its reports from a replica that does not answer."""
    tmp = tmp_path_factory.mktemp("replica")
    for urls in _database_urls(tmp, "replica"):
        replica = urls["loans"].rsplit("/", 1)[0] + "/no_such_replica"
        yield from _stack(tmp, urls, {"LOANS_REPORT_DATABASE_URL": replica})


def test_the_reports_read_the_replica_and_nothing_else_does(unreachable_replica: Stack) -> None:
    api = Api(unreachable_replica.gateway_url, ADMIN_PASSWORD)
    with api.client(api.admin_token) as admin:
        assert_problem(admin.get(PORTFOLIO), 503)
        assert admin.get("/api/v1/funds").status_code == 200


def test_the_reports_read_the_primary_without_a_replica(admin: httpx.Client) -> None:
    assert admin.get(PORTFOLIO).status_code == 200
