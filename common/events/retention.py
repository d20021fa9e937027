"""Keeping the event tables bounded: what is older than the retention goes, once an hour.

A reader that stays away longer than `<PREFIX>_EVENT_RETENTION_DAYS` misses the events dropped
meanwhile; its feed then starts after a gap, which it logs (`EventConsumer`).
"""

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from fastapi import FastAPI
from sqlalchemy import Engine
from starlette.concurrency import run_in_threadpool

from common.app import Worker
from common.clock import utcnow

Pruner = Callable[[Engine, datetime], int]
EVERY_SECONDS = 3600
log = logging.getLogger("ishc.events")


def retention_worker(*pruners: Pruner, days_setting: str = "event_retention_days") -> Worker:
    """A worker that runs the pruners hourly with the cut-off of the setting (0: keep all)."""

    async def worker(app: FastAPI) -> None:
        while True:
            await asyncio.sleep(EVERY_SECONDS)
            days = getattr(app.state.settings, days_setting)
            if days <= 0:
                continue
            before = utcnow() - timedelta(days=days)
            try:
                for prune in pruners:
                    dropped = await run_in_threadpool(prune, app.state.engine, before)
                    if dropped:
                        log.info("dropped %d rows older than %s", dropped, before.date())
            except Exception:
                log.exception("pruning failed; it runs again in an hour")

    return worker
