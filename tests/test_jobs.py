"""Long operations as jobs (common/jobs.py): the queue's claims, leases and outcomes on a real
database (PostgreSQL in the PostgreSQL run), and jobs through the gateway."""

import asyncio
import threading
import time
import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import httpx
import pytest
from pydantic import BaseModel
from sqlalchemy import Engine, MetaData, select, update
from sqlalchemy.exc import OperationalError
from sqlmodel import Session

from common.clock import utcnow
from common.db import make_engine, normalise_url
from common.jobs import JobQueue, JobRun, JobTable, _carry_out, submit
from common.problems import Conflict, ServiceUnavailable
from services.clubs.members.import_jobs import INLINE_ROWS
from services.clubs.models import jobs as clubs_jobs
from tests.factories import make_club
from tests.support import assert_problem, followed_job
from tests.test_members import _csv, _import, _many_rows, _row, members_of
from tools.stack import Stack

MATCHING_RUNS = "/api/v1/bank-loans/matching-runs"
RECONCILIATION_RUNS = "/api/v1/reports/reconciliation-runs"


@pytest.fixture
def engine(scratch_engine: Engine) -> Engine:
    return scratch_engine


def queue_on(engine: Engine, lease: float = 60.0, max_attempts: int = 3) -> JobQueue:
    metadata = MetaData()
    jobs = JobTable(metadata)
    metadata.create_all(engine)
    return JobQueue(engine, jobs, timedelta(seconds=lease), max_attempts)


def queued(queue: JobQueue, count: int, kind: str = "count") -> list[int]:
    with Session(queue.engine) as session, session.begin():
        return [submit(session, queue.jobs, kind, {"n": n}, "admin").id for n in range(count)]


def state(queue: JobQueue, job_id: int) -> Any:
    with Session(queue.engine) as session:
        return session.execute(select(queue.table).where(queue.table.c.id == job_id)).one()


class Counted(BaseModel):
    n: int


# The queue -----------------------------------------------------------------------------------


def test_workers_at_once_take_each_job_once(engine: Engine) -> None:
    queue = queue_on(engine)
    ids = queued(queue, 40)
    taken: list[int] = []
    lock = threading.Lock()
    deadline = time.monotonic() + 60

    def worker() -> None:
        holder = str(uuid.uuid4())
        while time.monotonic() < deadline:
            with lock:
                if len(taken) == len(ids):
                    return
            job = queue.claim(holder, ["count"])
            if job is None:
                continue  # another worker took the one it read, or none is due yet
            with lock:
                taken.append(job.id)
            queue.succeed(job.id, holder, Counted(n=job.parameters["n"]))

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(taken) == ids  # every job, none twice
    for job_id in ids:
        done = state(queue, job_id)
        assert (done.status, done.attempts) == ("succeeded", 1)
        assert done.result == {"n": done.parameters["n"]}


def test_a_job_whose_worker_stopped_is_taken_again_when_its_lease_runs_out(
    engine: Engine,
) -> None:
    queue = queue_on(engine, lease=0.5)
    [job_id] = queued(queue, 1)
    first = queue.claim("first", ["count"])
    assert first is not None and first.id == job_id
    assert queue.claim("second", ["count"]) is None  # held
    time.sleep(0.7)
    second = queue.claim("second", ["count"])
    assert second is not None and second.attempts == 2
    # The first worker comes back: nothing it does is stored any more.
    assert queue.renew(job_id, "first") is False
    queue.succeed(job_id, "first", Counted(n=-1))
    assert state(queue, job_id).status == "running"
    queue.succeed(job_id, "second", Counted(n=0))
    done = state(queue, job_id)
    assert (done.status, done.result, done.holder) == ("succeeded", {"n": 0}, None)


def test_a_job_that_keeps_losing_its_worker_fails_after_its_attempts(engine: Engine) -> None:
    queue = queue_on(engine, lease=0.2, max_attempts=1)
    [job_id] = queued(queue, 1)
    assert queue.claim("first", ["count"]) is not None
    time.sleep(0.4)
    assert queue.claim("second", ["count"]) is None
    failed = state(queue, job_id)
    assert failed.status == "failed" and failed.finished_at is not None
    assert "stopped 1 times" in failed.errors[-1]["detail"]


def test_an_outage_queues_the_job_again_until_its_attempts_are_used(engine: Engine) -> None:
    queue = queue_on(engine, max_attempts=2)
    [job_id] = queued(queue, 1)
    job = queue.claim("w", ["count"])
    assert job is not None
    queue.fail(job_id, "w", ServiceUnavailable("The clubs service is down."), job.attempts)
    waiting = state(queue, job_id)
    assert (waiting.status, waiting.holder) == ("queued", None)
    assert waiting.not_before > utcnow()  # after a pause
    assert [error["status"] for error in waiting.errors] == [503]
    assert queue.claim("w", ["count"]) is None  # not due yet
    with Session(engine) as session, session.begin():
        session.execute(update(queue.table).values(not_before=utcnow()))
    job = queue.claim("w", ["count"])
    assert job is not None and job.attempts == 2
    queue.fail(job_id, "w", ServiceUnavailable("Still down."), job.attempts)
    failed = state(queue, job_id)
    assert failed.status == "failed"
    assert [error["detail"] for error in failed.errors] == [
        "The clubs service is down.",
        "Still down.",
    ]


def test_a_problem_that_is_no_outage_fails_the_job_at_once(engine: Engine) -> None:
    queue = queue_on(engine)
    [job_id] = queued(queue, 1)
    job = queue.claim("w", ["count"])
    assert job is not None
    queue.fail(job_id, "w", Conflict("Nothing to do."), job.attempts)
    failed = state(queue, job_id)
    assert (failed.status, failed.attempts) == ("failed", 1)
    assert failed.errors[0]["status"] == 409 and failed.errors[0]["code"] == "conflict"


def test_a_job_asked_again_while_unfinished_is_the_same_job(engine: Engine) -> None:
    queue = queue_on(engine)
    jobs = queue.jobs
    with Session(engine) as session, session.begin():
        first = submit(session, jobs, "count", {"n": 1, "m": 2}, "admin")
        again = submit(session, jobs, "count", {"m": 2, "n": 1}, "someone else")
        other = submit(session, jobs, "count", {"n": 2, "m": 2}, "admin")
    assert again.id == first.id and other.id != first.id
    claimed = queue.claim("w", ["count"])
    assert claimed is not None and claimed.id == first.id
    with Session(engine) as session, session.begin():
        assert submit(session, jobs, "count", {"n": 1, "m": 2}, "admin").id == first.id
    queue.succeed(first.id, "w", Counted(n=1))
    with Session(engine) as session, session.begin():
        assert submit(session, jobs, "count", {"n": 1, "m": 2}, "admin").id != first.id


# What a handler's outcome does ---------------------------------------------------------------


def carry_out(queue: JobQueue, handler: Callable[[Any, JobRun], Any]) -> Any:
    [job_id] = queued(queue, 1)
    job = queue.claim("w", ["count"])
    assert job is not None
    asyncio.run(_carry_out(None, queue, handler, job, "w"))  # type: ignore[arg-type]
    return state(queue, job_id)


def test_a_handler_s_result_and_progress_are_stored(engine: Engine) -> None:
    async def counts(_app: Any, run: JobRun) -> Counted:
        await run.progress(3, 5)
        return Counted(n=run.parameters["n"] + 1)

    done = carry_out(queue_on(engine), counts)
    assert (done.status, done.result) == ("succeeded", {"n": 1})
    assert (done.progress_done, done.progress_total) == (3, 5)


def test_an_unexpected_error_fails_the_job_without_its_values(engine: Engine) -> None:
    async def breaks(_app: Any, _run: JobRun) -> Counted:
        raise ValueError("Nguyễn Thị Lan 001234567890")

    failed = carry_out(queue_on(engine), breaks)
    assert failed.status == "failed"
    [error] = failed.errors
    assert error["status"] == 500 and "worker's log" in error["detail"]
    assert "Nguyễn" not in str(failed.errors) and "001234567890" not in str(failed.errors)


def test_a_database_that_cannot_be_reached_is_an_outage(engine: Engine) -> None:
    async def unreachable(_app: Any, _run: JobRun) -> Counted:
        raise OperationalError("SELECT 1", {}, Exception("connection refused"))

    waiting = carry_out(queue_on(engine), unreachable)
    assert waiting.status == "queued" and waiting.errors[0]["status"] == 503


# Through the gateway ---------------------------------------------------------------------------


def test_a_job_is_answered_202_with_its_address_and_followed_there(admin: httpx.Client) -> None:
    started = admin.post(MATCHING_RUNS)
    assert started.status_code == 202, started.text
    job = started.json()
    assert started.headers["location"] == f"{MATCHING_RUNS}/{job['id']}"
    assert job["status"] in ("queued", "running", "succeeded") and job["kind"] == "bank_matching"
    assert job["requested_by"] and job["parameters"] == {}
    followed = admin.get(started.headers["location"])
    assert followed.status_code == 200 and followed.json()["id"] == job["id"]
    listed = admin.get(MATCHING_RUNS, params={"limit": 100}).json()
    assert job["id"] in [item["id"] for item in listed["items"]]


def test_a_retry_with_the_same_idempotency_key_starts_nothing_more(admin: httpx.Client) -> None:
    key = {"Idempotency-Key": str(uuid.uuid4())}
    body = {"checks": ["allocations"]}
    first = admin.post(RECONCILIATION_RUNS, json=body, headers=key)
    assert first.status_code == 202, first.text
    before = admin.get(RECONCILIATION_RUNS).json()["total"]
    again = admin.post(RECONCILIATION_RUNS, json=body, headers=key)
    assert again.status_code == 202 and again.json()["id"] == first.json()["id"]
    assert again.headers["location"] == first.headers["location"]
    assert admin.get(RECONCILIATION_RUNS).json()["total"] == before


def test_bad_job_orders_and_unknown_jobs_are_problems(admin: httpx.Client) -> None:
    unknown = admin.post(RECONCILIATION_RUNS, json={"checks": ["everything"]})
    problem = assert_problem(unknown, 422)
    assert problem["errors"][0]["field"].startswith("checks")
    assert_problem(admin.post(RECONCILIATION_RUNS, json={"checks": []}), 422)
    assert_problem(admin.post(MATCHING_RUNS, json={"chunk": 5}), 422)
    assert_problem(admin.get(f"{MATCHING_RUNS}/999999"), 404)
    assert_problem(admin.get(f"{RECONCILIATION_RUNS}/abc"), 422)


def test_the_worker_shows_its_queue_in_its_metrics(admin: httpx.Client, stack: Stack) -> None:
    admin.post(MATCHING_RUNS)
    metrics = httpx.get(stack.url("loans") + "/metrics").text
    assert "# TYPE ishc_jobs gauge" in metrics


# A big member list -----------------------------------------------------------------------------


def _stored_input(stack: Stack, job_id: int) -> Any:
    engine = make_engine(normalise_url(stack.database_urls["clubs"]))
    try:
        with engine.connect() as connection:
            table = clubs_jobs.table
            return connection.execute(
                select(table.c.input).where(table.c.id == job_id)
            ).scalar_one()
    finally:
        engine.dispose()


def test_a_big_member_list_is_imported_by_a_job(admin: httpx.Client, stack: Stack) -> None:
    club = make_club(admin)
    big = _csv(_many_rows(INLINE_ROWS + 1))
    dry = followed_job(admin, _import(admin, club["id"], big, dry_run=True))
    assert dry["status"] == "succeeded", dry
    assert dry["result"]["dry_run"] and dry["result"]["valid"] and dry["result"]["created"] == 0
    assert dry["progress"] == {"done": INLINE_ROWS + 1, "total": INLINE_ROWS + 1}
    assert members_of(admin, club["id"])["total"] == 0
    job = followed_job(admin, _import(admin, club["id"], big))
    assert job["status"] == "succeeded" and job["kind"] == "member_import", job
    assert job["result"]["created"] == INLINE_ROWS + 1
    assert job["progress"]["done"] == job["progress"]["total"] == 2 * (INLINE_ROWS + 1)
    assert members_of(admin, club["id"])["total"] == INLINE_ROWS + 1
    assert _stored_input(stack, job["id"]) is None  # the file is not kept once imported
    runs = admin.get(f"/api/v1/clubs/{club['id']}/members/imports").json()
    assert [run["id"] for run in runs["items"]] == [job["id"], dry["id"]]
    first = members_of(admin, club["id"], sort="id", limit=1)["items"][0]
    entry = admin.get(f"/api/v1/members/{first['id']}/audit").json()["items"][0]
    assert entry["action"] == "imported" and entry["request_id"] == f"job-{job['id']}"


def test_a_list_with_a_bad_row_fails_its_job_and_imports_nothing(
    admin: httpx.Client, stack: Stack
) -> None:
    club = make_club(admin)
    rows = [_row(), _row(phone="12345")]
    answer = _import_async(admin, club["id"], _csv(rows))
    job = followed_job(admin, answer)
    assert job["status"] == "failed" and job["result"] is None
    assert len(job["errors"]) == 1, job
    (error,) = job["errors"]
    assert error["status"] == 422 and "nothing was imported" in error["detail"]
    assert any("row 3, column 'phone'" in e["reason"] for e in error["errors"])
    assert "12345" not in str(job)  # a row's values are never repeated
    assert members_of(admin, club["id"])["total"] == 0
    assert _stored_input(stack, job["id"]) is None


def test_an_import_job_is_the_club_s_and_the_same_file_twice_is_one_job(
    admin: httpx.Client, as_role: Callable[..., httpx.Client]
) -> None:
    club = make_club(admin)
    content = _csv([_row()])
    first = _import_async(admin, club["id"], content)
    again = _import_async(admin, club["id"], content)
    if again.json()["status"] in ("queued", "running"):  # still the first one's run
        assert again.json()["id"] == first.json()["id"]
    address = first.headers["location"]
    other = as_role("officer", provinces=["01"])
    assert_problem(other.get(address), 404)
    assert_problem(other.get(f"/api/v1/clubs/{club['id']}/members/imports"), 404)
    partner = as_role("partner", funder_id=1)
    assert_problem(partner.get(address), 403)
    assert_problem(admin.get(f"/api/v1/clubs/{club['id']}/members/imports/999999"), 404)
    elsewhere = make_club(admin)
    assert_problem(admin.get(address.replace(f"/{club['id']}/", f"/{elsewhere['id']}/")), 404)
    assert followed_job(admin, first)["status"] == "succeeded"


def _import_async(client: httpx.Client, club_id: int, content: bytes) -> httpx.Response:
    return client.post(
        f"/api/v1/clubs/{club_id}/members/import",
        files={"file": ("members.csv", content, "text/csv")},
        headers={"Prefer": "respond-async"},
    )
