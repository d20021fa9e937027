"""The retention job: memberships that ended more than `CLUBS_MEMBER_RETENTION_YEARS` ago are
erased as on a request (`erasure.py`), unless a loan of theirs is still not settled.

Safe with two copies running: each membership is erased in its own transaction that locks its
row and skips it if the other copy got there first.
"""

import asyncio
import logging

from fastapi import FastAPI
from sqlalchemy import Engine
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool

from common.auth import Principal, Role
from common.problems import ServiceUnavailable
from common.service_client import ServiceClient
from services.clubs.audit import Actor
from services.clubs.members import erasure

BATCH = 200
RETRY_SECONDS = 60.0
JOB = Actor(Principal(subject="service:clubs (retention)", role=Role.SERVICE))
log = logging.getLogger("ishc.clubs.retention")


def _due(engine: Engine, years: int, limit: int) -> list[int]:
    with Session(engine) as session:
        return erasure.due(session, years, limit)


def _erase(engine: Engine, member_id: int, years: int) -> bool:
    with Session(engine, expire_on_commit=False) as session:
        member = erasure.still_due(session, member_id)
        if member is None:
            return False
        why = erasure.Erasure(
            reason=f"left more than {years} years ago (retention period)",
            request_reference="CLUBS_MEMBER_RETENTION_YEARS",
        )
        erasure.erase(session, JOB, [member], why)
        session.commit()
        return True


async def erase_due(engine: Engine, loans: ServiceClient, years: int) -> int:
    """One pass: how many memberships it erased."""
    erased = 0
    owing: set[int] = set()
    while True:
        limit = BATCH + len(owing)
        found = await run_in_threadpool(_due, engine, years, limit)
        due = [member_id for member_id in found if member_id not in owing]
        if due:
            owing.update(await erasure.outstanding_loans(loans, due))
        for member_id in due:
            if member_id not in owing and await run_in_threadpool(_erase, engine, member_id, years):
                erased += 1
        if len(found) < limit:
            return erased


async def retention_worker(app: FastAPI) -> None:
    """Runs `erase_due` every `member_retention_check_seconds` (0 or no years: never); a pass
    the loans service cannot answer is tried again a minute later."""
    settings = app.state.settings
    if settings.member_retention_years <= 0 or settings.member_retention_check_seconds <= 0:
        return
    pause = RETRY_SECONDS  # the other services may still be starting
    while True:
        await asyncio.sleep(pause)
        pause = settings.member_retention_check_seconds
        try:
            erased = await erase_due(
                app.state.engine, app.state.loans, settings.member_retention_years
            )
            if erased:
                log.info("erased %d memberships past the retention period", erased)
        except ServiceUnavailable as exc:
            log.warning("retention pass put off: %s", exc.detail)
            pause = RETRY_SECONDS
        except Exception:
            log.exception("retention pass failed; it runs again later")
