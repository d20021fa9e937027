"""Announcing instalments that fell due unpaid (`loan.overdue`), once each.

A worker looks at the instalments that fell due in the last quarter, now and then
(`LOANS_OVERDUE_SCAN_SECONDS`), and notes each one it announces, so none is announced twice,
also with several loans services on one database (the second note of one is refused).
"""

import asyncio
import logging
from datetime import date, timedelta

from fastapi import FastAPI
from sqlalchemy import Engine, exists, or_
from sqlmodel import Session, col, select
from starlette.concurrency import run_in_threadpool

from common import clock
from services.loans import events
from services.loans.lending.models import Loan, LoanInstalment, OverdueNotice
from services.loans.lending.rules import LoanStatus
from services.loans.models import outbox

WINDOW = timedelta(days=92)
"""Instalments that fell due longer ago were announced then (or the loan predates the watch)."""
PER_RUN = 1_000
log = logging.getLogger("ishc.loans.overdue")


def announce_overdue(session: Session, today: date, limit: int = PER_RUN) -> int:
    """Notes and announces up to `limit` unannounced instalments due before `today` and unpaid;
    returns how many."""
    noticed = exists().where(
        col(OverdueNotice.loan_id) == col(LoanInstalment.loan_id),
        col(OverdueNotice.instalment_number) == col(LoanInstalment.number),
    )
    rows = session.exec(
        select(Loan, LoanInstalment)
        .join(LoanInstalment, col(LoanInstalment.loan_id) == col(Loan.id))
        .where(
            Loan.status == LoanStatus.DISBURSED.value,
            col(LoanInstalment.due_on) < today,
            col(LoanInstalment.due_on) >= today - WINDOW,
            or_(
                col(Loan.principal_repaid) < col(LoanInstalment.cumulative_principal),
                col(Loan.interest_paid) < col(LoanInstalment.cumulative_interest),
            ),
            ~noticed,
        )
        .order_by(col(LoanInstalment.due_on), col(LoanInstalment.loan_id))
        .limit(limit)
    ).all()
    for loan, instalment in rows:
        assert loan.id is not None  # a stored loan
        session.add(
            OverdueNotice(
                loan_id=loan.id, instalment_number=instalment.number, due_on=instalment.due_on
            )
        )
        due = instalment.cumulative_principal + instalment.cumulative_interest
        unpaid = due - loan.principal_repaid - loan.interest_paid
        outbox.emit(
            session, events.loan_overdue(loan, instalment.number, instalment.due_on, unpaid)
        )
    return len(rows)


def _scan(engine: Engine) -> int:
    total = 0
    while True:
        with Session(engine) as session, session.begin():
            found = announce_overdue(session, clock.today())
        total += found
        if found < PER_RUN:
            return total


async def watch_overdue(app: FastAPI) -> None:
    """The worker: a scan every `overdue_scan_seconds` (0 turns it off), and one as each
    Vietnamese day begins, when yesterday's due dates become overdue."""
    interval = app.state.settings.overdue_scan_seconds
    if interval <= 0:
        return
    while True:
        # A second past midnight, so the scan surely reads the new day.
        await asyncio.sleep(min(interval, clock.seconds_to_next_day() + 1))
        try:
            found = await run_in_threadpool(_scan, app.state.engine)
        except Exception:
            log.exception("the overdue scan failed; it runs again in %s s", interval)
            continue
        if found:
            log.info("announced %d overdue instalments", found)
