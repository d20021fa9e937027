"""Tables of the funding service's own database."""

from sqlmodel import SQLModel

from common.db import own_registry
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
