"""Long operations as jobs: asked for with `202 Accepted`, carried out by a worker.

Re-matching the bank's waiting loans or reconciling the whole platform takes minutes at national
scale: longer than a load balancer or a client waits for an answer, and a web replica that is
replaced meanwhile would lose the work. So such a request only stores a job (its kind and
parameters) and answers `202 Accepted` with the job and its address; a worker of the component
claims it, carries it out and stores its progress, its result or what went wrong, which the
client reads at that address until the job is `succeeded` or `failed`.

Any number of workers share the queue: a worker claims a job with a lease that it renews while
the job runs, and a job whose worker died is claimed again once its lease has run out (up to
`job_max_attempts` times). A job that finds a service or the database down is queued again
after a pause instead of failing. A job asked for while an equal one (same kind, same
parameters) is still queued or running is that one: two clicks start one run.
"""

import asyncio
import contextlib
import hashlib
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum, StrEnum
from typing import Annotated, Any, Generic, TypeVar
from uuid import uuid4

import orjson
from fastapi import APIRouter, Body, Depends, FastAPI
from pydantic import BaseModel, Field
from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    Engine,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    and_,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.engine import Row
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool

from common.auth import Principal, Role, require_roles
from common.clock import utcnow
from common.db import SessionDep, UTCDateTime, reader
from common.events.consumer import UNREACHABLE, describe
from common.idempotency import Idempotency
from common.observability.metrics import add_gauge
from common.paging import page_of
from common.problem_codes import Code
from common.problems import (
    DatabaseBusy,
    FieldError,
    GatewayTimeout,
    NotFound,
    Problem,
    ServiceUnavailable,
)
from common.schemas import IdPath, InputModel, OutputModel, Page, PageDep, PageParams
from common.sealing import SealedText

log = logging.getLogger("ishc.jobs")

PROGRESS_RETRY_SECONDS = 1.0
PROGRESS_SETTLE_SECONDS = 10.0
RETRY_PAUSE_SECONDS = (5.0, 30.0, 120.0)
"""Pauses before a job that met an outage runs again: the first, second, third time…"""


class JobStatus(StrEnum):
    QUEUED = "queued"
    """Waiting for a worker (or for the pause after an outage)."""
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    """Done: `result` holds what it did."""
    FAILED = "failed"
    """Given up: `errors` says why."""


UNFINISHED = (JobStatus.QUEUED, JobStatus.RUNNING)


class JobTable:
    """A component's queue of jobs (`jobs`). A job may concern one object (`subject`, e.g.
    `club:12`, whose readers follow it) and carry an `input` its parameters cannot hold (an
    uploaded file), kept until the job ends: `sealed_input` where it holds personal data."""

    def __init__(self, metadata: MetaData, *, sealed_input: bool = False) -> None:
        self.table = Table(
            "jobs",
            metadata,
            Column("id", Integer, primary_key=True, autoincrement=True),
            Column("kind", String(40), nullable=False),
            Column("parameters", JSON, nullable=False),
            Column("parameters_key", String(64), nullable=False),
            Column("status", String(12), nullable=False),
            Column("requested_by", String(120), nullable=False),
            Column("requested_at", UTCDateTime, nullable=False),
            Column("started_at", UTCDateTime, nullable=True),
            Column("finished_at", UTCDateTime, nullable=True),
            Column("progress_done", BigInteger, nullable=False),
            Column("progress_total", BigInteger, nullable=True),
            Column("result", JSON, nullable=True),
            Column("errors", JSON, nullable=False),
            Column("attempts", Integer, nullable=False),
            Column("not_before", UTCDateTime, nullable=False),
            Column("holder", String(36), nullable=True),
            Column("lease_until", UTCDateTime, nullable=True),
            Column("subject", String(80), nullable=True),
            Column("input", SealedText("jobs.input") if sealed_input else Text, nullable=True),
            Index("ix_jobs_status_not_before", "status", "not_before"),
            Index("ix_jobs_kind_parameters_key", "kind", "parameters_key"),
            Index("ix_jobs_subject", "subject"),
        )
        self.shown_columns = [c for c in self.table.columns if c.name != "input"]
        """What answers read: never the input (a file of members' data, say)."""


# --- what the API shows -----------------------------------------------------------------------

ResultT = TypeVar("ResultT", bound=BaseModel)


class JobProgress(OutputModel):
    done: int = Field(description="Units of work done so far (the kind says which units).")
    total: int | None = Field(description="Units in all, when known.")


class JobError(OutputModel):
    """Why one attempt of the job did not finish: a problem as the API answers it."""

    status: int
    code: str
    detail: str
    errors: list[FieldError] | None = Field(
        default=None, description="The problem's field errors (an import's rows), if any."
    )
    at: datetime


class Job(OutputModel, Generic[ResultT]):
    """A long operation: its state, its progress while it runs, and its result once done."""

    id: int
    kind: str
    status: JobStatus
    parameters: dict[str, Any]
    progress: JobProgress
    result: ResultT | None = Field(description="What it did, once `succeeded`.")
    errors: list[JobError] = Field(
        description="Why attempts did not finish (an outage: the job is queued again after a "
        "pause; anything else, or too many attempts: `failed`)."
    )
    attempts: int = Field(description="Times a worker has started it.")
    requested_by: str = Field(description="Who asked for it (a principal's id).")
    requested_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


def job_view(row: Mapping[Any, Any], model: type[Job[Any]]) -> Job[Any]:
    """A job's row (its `shown_columns`, by name) as the API shows it."""
    return model(
        id=row["id"],
        kind=row["kind"],
        status=JobStatus(row["status"]),
        parameters=row["parameters"],
        progress=JobProgress(done=row["progress_done"], total=row["progress_total"]),
        result=row["result"],
        errors=row["errors"],
        attempts=row["attempts"],
        requested_by=row["requested_by"],
        requested_at=row["requested_at"],
        started_at=row["started_at"],
        finished_at=row["finished_at"],
    )


def _parameters_key(kind: str, parameters: dict[str, Any]) -> str:
    encoded = orjson.dumps([kind, parameters], option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(encoded).hexdigest()


def submit(
    session: Session,
    jobs: JobTable,
    kind: str,
    parameters: dict[str, Any],
    requested_by: str,
    *,
    subject: str | None = None,
    input: str | None = None,
) -> Row[Any]:
    """Queues a job, or finds the equal one (same kind, subject and parameters) still queued
    or running."""
    table = jobs.table
    key = _parameters_key(kind, {"subject": subject, **parameters})
    same = session.execute(
        select(*jobs.shown_columns)
        .where(table.c.kind == kind, table.c.parameters_key == key)
        .where(table.c.status.in_(UNFINISHED))
        .order_by(table.c.id)
        .limit(1)
    ).first()
    if same is not None:
        return same
    now = utcnow()
    job_id = session.execute(
        insert(table)
        .values(
            kind=kind,
            parameters=parameters,
            parameters_key=key,
            status=JobStatus.QUEUED.value,
            requested_by=requested_by,
            requested_at=now,
            progress_done=0,
            errors=[],
            attempts=0,
            not_before=now,
            subject=subject,
            input=input,
        )
        .returning(table.c.id)
    ).scalar_one()
    return session.execute(select(*jobs.shown_columns).where(table.c.id == job_id)).one()


def find(
    session: Session, jobs: JobTable, kind: str, job_id: int, subject: str | None = None
) -> Row[Any] | None:
    """The job of that kind (and subject) by its id, as answers show it."""
    table = jobs.table
    query = select(*jobs.shown_columns).where(table.c.id == job_id, table.c.kind == kind)
    if subject is not None:
        query = query.where(table.c.subject == subject)
    return session.execute(query).first()


def listed(
    session: Session,
    jobs: JobTable,
    kind: str,
    page: PageParams,
    model: type[Job[Any]],
    subject: str | None = None,
) -> Page[Any]:
    """A page of the jobs of that kind (and subject), newest first."""
    table = jobs.table
    query = select(*jobs.shown_columns).where(table.c.kind == kind)
    if subject is not None:
        query = query.where(table.c.subject == subject)
    paged = page_of(session, query, page, table.c.id.desc())
    names = [column.name for column in jobs.shown_columns]
    return paged.page([job_view(dict(zip(names, row, strict=True)), model) for row in paged.rows])


def job_router(
    *,
    jobs: JobTable,
    kind: str,
    path: str,
    model: type[Job[Any]],
    parameters: type[InputModel],
    noun: str,
    roles: tuple[Role, ...] = (Role.ADMIN,),
    tags: list[str | Enum] | None = None,
) -> APIRouter:
    """`POST {path}` (queue a job of `kind`, body `parameters`, optional), `GET {path}` (the
    jobs of that kind, newest first) and `GET {path}/{job_id}`, for `roles`."""
    router = APIRouter(prefix=path, tags=tags, dependencies=[Depends(require_roles(*roles))])

    @router.post(
        "",
        response_model=model,
        status_code=202,
        summary=f"Start {noun} (a job: follow it at its address)",
        description="Answers `202 Accepted` at once with the job and its address (`Location`); "
        "a worker carries it out. Asked again while an equal job is still queued or running, "
        "the answer is that job.",
    )
    def start(
        session: SessionDep,
        principal: Annotated[Principal, Depends(require_roles(*roles))],
        idem: Idempotency,
        payload: Annotated[parameters | None, Body()] = None,  # type: ignore[valid-type]
    ) -> Any:
        given = (payload or parameters()).model_dump(mode="json")
        row = submit(session, jobs, kind, given, principal.subject)
        shown = job_view(row._mapping, model)
        return idem.respond(
            session, shown, status_code=202, headers={"Location": f"{path}/{row.id}"}
        )

    @router.get("", response_model=Page[model], summary=f"List runs of {noun}, newest first")  # type: ignore[valid-type]
    def runs(session: SessionDep, page: PageDep) -> Any:
        return listed(session, jobs, kind, page, model)

    @router.get("/{job_id}", response_model=model, summary=f"One run of {noun}")
    def one(job_id: IdPath, session: SessionDep) -> Any:
        row = find(session, jobs, kind, job_id)
        if row is None:
            raise NotFound(f"No job {job_id} of {noun}.")
        return job_view(row._mapping, model)

    return router


# --- the worker ---------------------------------------------------------------------------------


@dataclass
class JobRun:
    """A job as its handler sees it."""

    id: int
    parameters: dict[str, Any]
    requested_by: str
    subject: str | None
    input: str | None
    report: Callable[[int, int | None], Awaitable[None]]
    latest: tuple[int, int | None] | None = None
    written: tuple[int, int | None] | None = None
    writer: asyncio.Task[None] | None = None

    async def progress(self, done: int, total: int | None = None) -> None:
        """Notes how far the job is (units of its kind), stored by a task of its own: the
        handler never waits for it (a handler's own transaction may hold SQLite's write lock
        while it reports)."""
        self.latest = (done, total)
        if self.writer is None or self.writer.done():
            self.writer = asyncio.create_task(self._store())

    async def _store(self) -> None:
        while self.latest is not None and self.latest != self.written:
            value = self.latest
            try:
                await self.report(*value)
            except Exception as exc:  # the database is busy: the next try stores the latest
                log.debug("job %s's progress not stored yet: %s", self.id, describe(exc))
                await asyncio.sleep(PROGRESS_RETRY_SECONDS)
                continue
            self.written = value

    async def settle(self) -> None:
        """Stores the last progress noted (once the handler's transaction is over)."""
        if self.writer is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.writer, PROGRESS_SETTLE_SECONDS)


Handler = Callable[[FastAPI, JobRun], Awaitable[BaseModel]]
"""Carries out one kind of job and returns its result; raises a `Problem` to fail it."""


class JobQueue:
    """The claims, leases and outcomes of one component's jobs."""

    def __init__(self, engine: Engine, jobs: JobTable, lease: timedelta, max_attempts: int):
        self.engine = engine
        self.jobs = jobs
        self.table = jobs.table
        self.lease = lease
        self.max_attempts = max_attempts

    def claim(self, holder: str, kinds: list[str]) -> Row[Any] | None:
        """The oldest job due (queued, or running with a lease run out), now held by `holder`;
        None if there is none or another worker took it first."""
        table = self.table
        now = utcnow()
        due = or_(
            and_(table.c.status == JobStatus.QUEUED.value, table.c.not_before <= now),
            and_(table.c.status == JobStatus.RUNNING.value, table.c.lease_until < now),
        )
        with Session(self.engine) as session, session.begin():
            found = session.execute(
                select(table.c.id, table.c.holder, table.c.attempts)
                .where(due, table.c.kind.in_(kinds))
                .order_by(table.c.id)
                .limit(1)
            ).first()
            if found is None:
                return None
            if found.attempts >= self.max_attempts:
                self._abandon(session, found.id, found.holder, now)
                return None
            # The conditions again, and the holder read: of two workers that read the same job
            # one moves it (PostgreSQL re-checks them on the row the other committed).
            taken = session.execute(
                update(table)
                .where(table.c.id == found.id, due, _held_by(table, found.holder))
                .values(
                    status=JobStatus.RUNNING.value,
                    holder=holder,
                    lease_until=now + self.lease,
                    attempts=table.c.attempts + 1,
                    started_at=now,
                )
            ).rowcount  # type: ignore[attr-defined]
            if taken != 1:
                return None
            return session.execute(select(table).where(table.c.id == found.id)).one()

    def _abandon(self, session: Session, job_id: int, holder: str | None, now: datetime) -> None:
        problem = Problem(
            f"The job's worker stopped {self.max_attempts} times before finishing it; "
            "ask for it again."
        )
        self._finish(session, job_id, holder, JobStatus.FAILED, None, problem, now)

    def renew(self, job_id: int, holder: str) -> bool:
        """Extends the lease; False if the job is no longer this holder's."""
        table = self.table
        with Session(self.engine) as session, session.begin():
            renewed = session.execute(
                update(table)
                .where(table.c.id == job_id, table.c.holder == holder)
                .where(table.c.status == JobStatus.RUNNING.value)
                .values(lease_until=utcnow() + self.lease)
            ).rowcount  # type: ignore[attr-defined]
        return bool(renewed == 1)

    def progress(self, job_id: int, holder: str, done: int, total: int | None) -> None:
        table = self.table
        with Session(self.engine) as session, session.begin():
            session.execute(
                update(table)
                .where(table.c.id == job_id, table.c.holder == holder)
                .values(progress_done=done, progress_total=total, lease_until=utcnow() + self.lease)
            )

    def succeed(self, job_id: int, holder: str, result: BaseModel) -> None:
        with Session(self.engine) as session, session.begin():
            done = result.model_dump(mode="json")
            self._finish(session, job_id, holder, JobStatus.SUCCEEDED, done, None, utcnow())

    def fail(self, job_id: int, holder: str, problem: Problem, attempts: int) -> None:
        """Stores why the attempt failed: an outage queues the job again after a pause (while
        attempts remain), anything else fails it."""
        now = utcnow()
        retry = _is_outage(problem) and attempts < self.max_attempts
        with Session(self.engine) as session, session.begin():
            if not retry:
                self._finish(session, job_id, holder, JobStatus.FAILED, None, problem, now)
                return
            pause = RETRY_PAUSE_SECONDS[min(attempts, len(RETRY_PAUSE_SECONDS)) - 1]
            table = self.table
            session.execute(
                update(table)
                .where(table.c.id == job_id, table.c.holder == holder)
                .values(
                    status=JobStatus.QUEUED.value,
                    holder=None,
                    lease_until=None,
                    not_before=now + timedelta(seconds=pause),
                    errors=[*self._errors(session, job_id), _error(problem, now)],
                )
            )

    def _errors(self, session: Session, job_id: int) -> list[dict[str, Any]]:
        table = self.table
        found = session.execute(select(table.c.errors).where(table.c.id == job_id)).scalar()
        return list(found or [])

    def _finish(
        self,
        session: Session,
        job_id: int,
        holder: str | None,
        status: JobStatus,
        result: dict[str, Any] | None,
        problem: Problem | None,
        now: datetime,
    ) -> None:
        table = self.table
        errors = self._errors(session, job_id)
        if problem is not None:
            errors.append(_error(problem, now))
        session.execute(
            update(table)
            .where(table.c.id == job_id, _held_by(table, holder))
            .values(
                status=status.value,
                result=result,
                errors=errors,
                finished_at=now,
                holder=None,
                lease_until=None,
                input=None,  # kept only as long as the job may need it
            )
        )

    def depth(self) -> dict[tuple[str, ...], float]:
        """Unfinished jobs by kind and status (the metric)."""
        table = self.table
        with reader(self.engine).connect() as connection:
            rows = connection.execute(
                select(table.c.kind, table.c.status, func.count())
                .where(table.c.status.in_(UNFINISHED))
                .group_by(table.c.kind, table.c.status)
            ).all()
        return {(kind, status): float(count) for kind, status, count in rows}


def _held_by(table: Table, holder: str | None) -> Any:
    return table.c.holder.is_(None) if holder is None else table.c.holder == holder


def _is_outage(problem: Problem) -> bool:
    return isinstance(problem, ServiceUnavailable | GatewayTimeout | DatabaseBusy)


def _error(problem: Problem, at: datetime) -> dict[str, Any]:
    return {
        "status": problem.status,
        "code": problem.code.value,
        "detail": problem.detail,
        "errors": None if problem.errors is None else [e.model_dump() for e in problem.errors],
        "at": at.isoformat(),
    }


def job_worker(jobs: JobTable, handlers: Mapping[str, Handler]) -> Callable[[FastAPI], Any]:
    """The component's worker loop over `jobs`: claims due jobs of the kinds in `handlers` and
    carries them out one at a time (run more workers for more at once)."""

    async def work(app: FastAPI) -> None:
        settings = app.state.settings
        queue = JobQueue(
            app.state.engine,
            jobs,
            timedelta(seconds=settings.job_lease_seconds),
            settings.job_max_attempts,
        )
        add_gauge(
            app,
            "ishc_jobs",
            "Jobs not finished yet, by kind and status (queued: waiting for a worker).",
            lambda: queue.depth(),
            ["kind", "status"],
        )
        holder = str(uuid4())
        while True:
            try:
                claimed = await run_in_threadpool(queue.claim, holder, list(handlers))
            except Exception:  # The loop must outlive a database hiccup; it tries again.
                log.exception("claiming a job failed")
                claimed = None
            if claimed is None:
                await asyncio.sleep(settings.job_poll_seconds)
                continue
            await _carry_out(app, queue, handlers[claimed.kind], claimed, holder)

    return work


async def _carry_out(
    app: FastAPI, queue: JobQueue, handler: Handler, job: Row[Any], holder: str
) -> None:
    async def report(done: int, total: int | None) -> None:
        await run_in_threadpool(queue.progress, job.id, holder, done, total)

    run = JobRun(job.id, job.parameters, job.requested_by, job.subject, job.input, report)
    keeper = asyncio.create_task(_keep_lease(queue, job.id, holder))
    try:
        result = await handler(app, run)
        await run.settle()
    except Problem as problem:
        await run_in_threadpool(queue.fail, job.id, holder, problem, job.attempts)
    except asyncio.CancelledError:
        raise  # the process stops: the lease runs out and another worker takes the job
    except UNREACHABLE as exc:  # the database or a service is down: try again later
        outage = ServiceUnavailable(
            f"Job {job.id} could not reach what it needs: {describe(exc)}",
            code=Code.SERVICE_UNREACHABLE,
        )
        await run_in_threadpool(queue.fail, job.id, holder, outage, job.attempts)
    except Exception:
        # The log has the traceback (never a value: problems carry no personal data, and
        # neither does this); the job says only that it failed.
        log.exception("job %s (%s) failed", job.id, job.kind)
        unexpected = Problem(f"Job {job.id} failed unexpectedly; its worker's log has the cause.")
        await run_in_threadpool(queue.fail, job.id, holder, unexpected, job.attempts)
    else:
        await run_in_threadpool(queue.succeed, job.id, holder, result)
    finally:
        for task in (keeper, run.writer):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task


async def _keep_lease(queue: JobQueue, job_id: int, holder: str) -> None:
    """Renews the lease while the handler runs (it may wait on another service for minutes
    without reporting progress)."""
    pause = queue.lease.total_seconds() / 3
    while True:
        await asyncio.sleep(pause)
        try:
            if not await run_in_threadpool(queue.renew, job_id, holder):
                log.warning("job %s: the lease was lost; its outcome will not be stored", job_id)
                return
        except Exception:
            log.exception("renewing job %s's lease failed", job_id)
