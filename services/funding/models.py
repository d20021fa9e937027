"""Tables of the funding service's own database."""

from typing import Any

from sqlalchemy import Column
from sqlmodel import SQLModel

from common.db import own_registry, references
from common.events.outbox import Outbox
from common.idempotency import idempotency_table
from common.jobs import JobTable
from common.sync import SyncLog


class FundingBase(SQLModel, registry=own_registry()):
    """The base of every table of this component's database."""


idempotency_keys = idempotency_table(FundingBase.metadata)
outbox = Outbox(FundingBase.metadata)
sync_log = SyncLog(FundingBase.metadata)
jobs = JobTable(FundingBase.metadata)


def link(table: str, column: str, target: str) -> Column[Any]:
    """`table.column`, which must name a row of `target` by its id."""
    return references(f"{target}.id", f"fk_{table}_{column}_{target}")
