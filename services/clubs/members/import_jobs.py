"""Big member lists are imported by a job: answered `202 Accepted` at once, followed at
`/api/v1/clubs/{club_id}/members/imports/{job_id}`.

A club's list (50–70 members) is checked and imported within the request. A file of more than
`INLINE_ROWS` rows takes seconds, longer than the gateway waits, so the request only checks that
the file can be read, stores it sealed with the job (`jobs.input`: it holds citizen IDs and
phones) and answers; the clubs worker imports it exactly as the request would have, all rows or
none, and empties the stored file as the job ends. A client may ask for the job whatever the
size with `Prefer: respond-async` (RFC 7240).
"""

import base64
import hashlib
from typing import Annotated, Any

from anyio import from_thread
from fastapi import APIRouter, FastAPI, Header, Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool

from common import problem_texts_vi
from common.auth import Principal, Role
from common.db import SessionDep
from common.jobs import Job, JobRun, find, job_view, listed, submit
from common.problem_codes import Code
from common.problems import Gone, NotFound, errors_in_vietnamese
from common.schemas import IdPath, Page, PageDep
from common.sealing import blind_index
from common.spreadsheets import Upload
from common.vietnamese import ENGLISH, Language, RequestLanguage
from services.clubs.audit import Actor
from services.clubs.members import importer, tabular
from services.clubs.members.schemas import ImportReport
from services.clubs.models import Club, jobs
from services.clubs.scope import ManagedClub

MEMBER_IMPORT = "member_import"
INLINE_ROWS = 1_000
"""Rows of a file imported within the request (a club's list is 50–70); above, a job."""
RESPOND_ASYNC = "respond-async"

router = APIRouter(prefix="/api/v1/clubs", tags=["members"])


class MemberImportJob(Job[ImportReport]):
    """A member list's import (or dry run) carried out by the clubs worker; progress counts the
    rows checked, then the rows written."""


def wants_job(upload: Upload, prefer: str | None) -> bool:
    """Whether this upload is imported by a job: it asks for one, or it is too big to wait
    for. A file that cannot be read, or has too many rows, is refused here, within the
    request."""
    sheet = tabular.read_sheet(upload)
    header_row = tabular.find_columns(sheet).header_row
    rows = sum(1 for number, _ in sheet.rows if number > header_row)
    if rows > tabular.MAX_ROWS:
        raise tabular.too_many_rows()
    if prefer is not None and RESPOND_ASYNC in {p.strip().lower() for p in prefer.split(",")}:
        return True
    return rows > INLINE_ROWS


def _address(club_id: int, job_id: int) -> str:
    return f"/api/v1/clubs/{club_id}/members/imports/{job_id}"


def start(
    session: Session, principal: Principal, club: Club, upload: Upload, dry_run: bool
) -> JSONResponse:
    """Queues the import (the same file sent again while it runs is that job) and answers
    202 with its job."""
    assert club.id is not None
    parameters = {
        "club_id": club.id,
        "dry_run": dry_run,
        # Tells one file from another without keeping what it says.
        "file": blind_index(hashlib.sha256(upload.data).hexdigest()),
        "file_name": upload.file_name,
        "content_type": upload.content_type,
        # Who asked, as the audit records them: the job writes as they would have.
        "role": principal.role.value,
        "provinces": list(principal.provinces),
        "communes": list(principal.communes),
        "clubs": list(principal.clubs),
    }
    row = submit(
        session,
        jobs,
        MEMBER_IMPORT,
        parameters,
        principal.subject,
        subject=f"club:{club.id}",
        input=base64.b64encode(upload.data).decode(),
    )
    shown = job_view(row._mapping, MemberImportJob)
    return JSONResponse(
        jsonable_encoder(shown), status_code=202, headers={"Location": _address(club.id, row.id)}
    )


def _actor(run: JobRun) -> Actor:
    given = run.parameters
    principal = Principal(
        subject=run.requested_by,
        role=Role(given["role"]),
        provinces=tuple(given["provinces"]),
        communes=tuple(given["communes"]),
        clubs=tuple(given["clubs"]),
    )
    # The audit ties the job's entries together, as one request's would be.
    request = Request({"type": "http", "state": {"request_id": f"job-{run.id}"}})
    return Actor(principal, request)


async def member_import_job(app: FastAPI, run: JobRun) -> ImportReport:
    if run.input is None:
        raise Gone(
            f"Job {run.id}'s file is no longer kept: an earlier attempt finished it.",
            code=Code.GONE,
        )
    given = run.parameters
    upload = Upload(base64.b64decode(run.input), given["file_name"], given["content_type"])

    def progress(stage: str, done: int, total: int) -> None:
        # Writing follows checking: the job's progress counts both passes over the rows.
        passed = done + (total if stage == "writing" else 0)
        from_thread.run(run.progress, passed, total * (1 if given["dry_run"] else 2))

    def carry_out() -> ImportReport:
        with Session(app.state.engine) as session:
            club = session.get(Club, given["club_id"])
            if club is None:
                raise NotFound(f"No club {given['club_id']}.")
            report = importer.import_members(
                session, _actor(run), club, upload, dry_run=given["dry_run"], progress=progress
            )
            session.commit()
            return report

    return await run_in_threadpool(carry_out)


@router.get(
    "/{club_id}/members/imports",
    response_model=Page[MemberImportJob],
    summary="The club's member imports done by a job, newest first",
)
def list_imports(
    club: ManagedClub, session: SessionDep, page: PageDep, language: RequestLanguage
) -> Any:
    found = listed(session, jobs, MEMBER_IMPORT, page, MemberImportJob, subject=f"club:{club.id}")
    found.items = [in_language(job, language) for job in found.items]
    return found


@router.get(
    "/{club_id}/members/imports/{job_id}",
    response_model=MemberImportJob,
    summary="One member import done by a job: its progress, then its report",
)
def get_import(
    club: ManagedClub, job_id: IdPath, session: SessionDep, language: RequestLanguage
) -> Any:
    row = find(session, jobs, MEMBER_IMPORT, job_id, subject=f"club:{club.id}")
    if row is None:
        raise NotFound(f"No import {job_id} of club {club.id}.")
    return in_language(job_view(row._mapping, MemberImportJob), language)


def in_language(job: Job[Any], language: Language) -> Job[Any]:
    """The job as its reader asks for it: the job stores its report and its refusals in
    English; a reader who prefers Vietnamese reads them (reasons, warnings) in Vietnamese."""
    if language == ENGLISH:
        return job
    result = job.result
    if isinstance(result, ImportReport):
        result = importer.in_language(result, language)
    errors = [
        error.model_copy(
            update={
                "detail": problem_texts_vi.detail(
                    _code(error.code),
                    error.detail,
                    [(e.field, e.reason) for e in errors_in_vietnamese(error.errors) or ()],
                ),
                "errors": errors_in_vietnamese(error.errors),
            }
        )
        for error in job.errors
    ]
    return job.model_copy(update={"result": result, "errors": errors})


def _code(code: str) -> Code:
    try:
        return Code(code)
    except ValueError:
        return Code.INTERNAL_ERROR


PreferHeader = Annotated[
    str | None,
    Header(
        description="`respond-async`: import by a job (`202 Accepted`) whatever the file's size."
    ),
]
