"""The loans service's database: its metadata and the tables every package shares.

Each package keeps its own tables (`ledger/models.py`, …); `migrations/loans/env.py` imports them
all so that Alembic sees the whole schema.
"""

from datetime import datetime

from sqlmodel import Field, SQLModel

from common.clock import utcnow
from common.db import UTCDateTime, own_registry
from common.events.consumer import ConsumerTables
from common.events.outbox import Outbox
from common.idempotency import idempotency_table
from common.jobs import JobTable
from common.sync import SyncLog


class LoansBase(SQLModel, registry=own_registry()):
    """The base of every table of this component's database."""


idempotency_keys = idempotency_table(LoansBase.metadata, sealed=True)  # answers name borrowers
outbox = Outbox(LoansBase.metadata)
sync_log = SyncLog(LoansBase.metadata)
consumer_tables = ConsumerTables(LoansBase.metadata)
jobs = JobTable(LoansBase.metadata)
ACTIVE_CLUB = "active"


class KnownClub(LoansBase, table=True):
    """A club's status as the clubs service's events told it: funds and figures of clubs that
    are no longer active are told apart without asking (a club never heard of counts as
    active, as every club did before the events)."""

    __tablename__ = "known_clubs"

    club_id: int = Field(primary_key=True)
    status: str = Field(max_length=20)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
