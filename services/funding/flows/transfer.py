"""Allocations reach the loans service as capital in the club's fund exactly once.

An allocation is committed here first, as `pending`. Then it is sent to the loans service's
`POST /api/v1/funds/allocations`, which records it at most once (its allocation id is unique in
the ledger) and answers the same entry to every repeat. So sending again is always safe, and
the relay sends until the loans service has answered with the entry:
- right after the allocation is committed (the route wakes the relay);
- and every `transfer_interval_seconds`, for what is still pending or failed and due, which
  also picks up what a restart of either service left behind.
A network failure or a 5xx is retried with backoff (2, 4, 8 … s up to
`transfer_max_backoff_seconds`); a refusal (4xx: the club was dissolved meanwhile, say) stays
`failed` with the reason until someone retries it by hand.
"""

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import or_, update
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select
from starlette.concurrency import run_in_threadpool

from common.clock import utcnow
from common.problems import ServiceUnavailable
from common.service_client import ServiceClient
from services.funding import events
from services.funding.flows.models import Allocation
from services.funding.models import outbox
from services.funding.rules import TransferStatus

log = logging.getLogger("ishc.funding.transfer")
BATCH = 100
FIRST_BACKOFF_SECONDS = 2.0


@dataclass(frozen=True)
class Outcome:
    status: TransferStatus
    reason: str | None = None
    retry: bool = False
    fund_id: int | None = None
    entry_id: int | None = None


def _problem_detail(response: httpx.Response) -> str:
    try:
        return str(response.json().get("detail") or response.text)[:400]
    except ValueError:
        return response.text[:400]


class Transfers:
    """Sends allocations to the loans service and records the answer."""

    def __init__(
        self, engine: Engine, loans: ServiceClient, interval: float, max_backoff: float
    ) -> None:
        self.engine = engine
        self.loans = loans
        self.interval = interval
        self.max_backoff = max_backoff
        self._wake = asyncio.Event()

    def wake(self) -> None:
        self._wake.set()

    async def run_forever(self) -> None:
        while True:
            try:
                await self.run_due()
            except Exception:  # The relay must outlive a database hiccup; it tries again.
                log.exception("transfer round failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.interval)
            self._wake.clear()

    async def run_due(self) -> int:
        """Sends every allocation that is pending or failed and due; returns how many."""
        sent = 0
        while ids := await run_in_threadpool(self._due):
            for allocation_id in ids:
                await self.send(allocation_id)
            sent += len(ids)
            if len(ids) < BATCH:
                break
        return sent

    def _due(self) -> list[int]:
        now = utcnow()
        with Session(self.engine) as session:
            rows = session.exec(
                select(Allocation.id)
                .where(
                    col(Allocation.status).in_(
                        [TransferStatus.PENDING.value, TransferStatus.FAILED.value]
                    ),
                    or_(
                        col(Allocation.next_attempt_at).is_(None)
                        & (Allocation.status == TransferStatus.PENDING.value),
                        col(Allocation.next_attempt_at) <= now,
                    ),
                )
                .order_by(col(Allocation.id))
                .limit(BATCH)
            ).all()
        return [row for row in rows if row is not None]

    async def send(self, allocation_id: int) -> None:
        allocation = await run_in_threadpool(self.load, allocation_id)
        if allocation is None or allocation.status == TransferStatus.RECORDED.value:
            return
        outcome = await self._post(allocation)
        await run_in_threadpool(self._save, allocation, outcome)

    def load(self, allocation_id: int) -> Allocation | None:
        """The allocation as committed now (outside any request's transaction)."""
        with Session(self.engine, expire_on_commit=False) as session:
            return session.get(Allocation, allocation_id)

    async def _post(self, allocation: Allocation) -> Outcome:
        body = {
            "allocation_id": allocation.id,
            "club_id": allocation.club_id,
            "kind": allocation.fund_kind,
            "amount": allocation.amount,
            "occurred_on": allocation.allocated_on.isoformat(),
            "reference": (allocation.reference or f"allocation {allocation.id}")[:200],
        }
        try:
            response = await self.loans.request("POST", "/api/v1/funds/allocations", json=body)
        except ServiceUnavailable as exc:
            return Outcome(TransferStatus.FAILED, exc.detail, retry=True)
        if response.status_code in (200, 201):
            entry = response.json()
            return Outcome(TransferStatus.RECORDED, fund_id=entry["fund_id"], entry_id=entry["id"])
        reason = f"the loans service answered {response.status_code}: {_problem_detail(response)}"
        return Outcome(TransferStatus.FAILED, reason, retry=response.status_code == 429)

    def _save(self, allocation: Allocation, outcome: Outcome) -> None:
        now = utcnow()
        values: dict[str, Any] = {
            "status": outcome.status.value,
            "attempts": Allocation.attempts + 1,
        }
        if outcome.status is TransferStatus.RECORDED:
            values |= {
                "fund_id": outcome.fund_id,
                "ledger_entry_id": outcome.entry_id,
                "recorded_at": now,
                "failure_reason": None,
                "next_attempt_at": None,
            }
        else:
            backoff = min(FIRST_BACKOFF_SECONDS * 2**allocation.attempts, self.max_backoff)
            values |= {
                "failure_reason": outcome.reason,
                "next_attempt_at": now + timedelta(seconds=backoff) if outcome.retry else None,
            }
            log.warning("allocation %s not transferred: %s", allocation.id, outcome.reason)
        with Session(self.engine) as session:
            # A twin attempt may have recorded it meanwhile: never turn recorded back.
            changed = session.exec(
                update(Allocation)
                .where(
                    col(Allocation.id) == allocation.id,
                    col(Allocation.status) != TransferStatus.RECORDED.value,
                )
                .values(**values)
            )
            recorded_now = changed.rowcount == 1
            if outcome.status is TransferStatus.RECORDED and recorded_now:
                assert outcome.fund_id is not None and outcome.entry_id is not None
                event = events.allocation_recorded(allocation, outcome.fund_id, outcome.entry_id)
                outbox.emit(session, event)
            session.commit()


def transfers(app: FastAPI) -> Transfers:
    worker: Transfers = app.state.transfers
    return worker


async def relay(app: FastAPI) -> None:
    """The app's background worker: sends due transfers until the app stops."""
    await transfers(app).run_forever()
