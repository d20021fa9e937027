"""A report nobody waits for any more stops using the database: the statement timeout."""

import os

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlmodel import Session

from common.db import make_engine, normalise_url, tune_for_report
from common.problems import install_problem_handlers
from tests.support import assert_problem


@pytest.mark.skipif(
    os.environ.get("TEST_DATABASE") != "postgres", reason="statement timeouts are PostgreSQL's"
)
def test_a_report_over_its_time_is_cancelled_and_answered_503() -> None:
    engine = make_engine(normalise_url(os.environ["TEST_POSTGRES_URL"]))
    app = FastAPI()
    install_problem_handlers(app)

    @app.get("/report")
    def report() -> dict:
        with Session(engine) as session:
            assert tune_for_report(session, 0.05)
            session.execute(text("SELECT pg_sleep(2)"))
        return {}

    try:
        with TestClient(app, raise_server_exceptions=False) as client:
            problem = assert_problem(client.get("/report"), 503)
        assert "took longer" in problem["detail"]
    finally:
        engine.dispose()


def test_sqlite_has_no_statement_timeout(tmp_path: pytest.TempPathFactory) -> None:
    engine = make_engine(f"sqlite:///{tmp_path}/report.db")
    try:
        with Session(engine) as session:
            assert tune_for_report(session, 1) is False
    finally:
        engine.dispose()
