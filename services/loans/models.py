"""The loans service's database: its metadata and the tables every package shares.

Each package keeps its own tables (`ledger/models.py`, …); `migrations/loans/env.py` imports them
all so that Alembic sees the whole schema.
"""

from common.db import new_base
from common.events.consumer import ConsumerTables
from common.events.outbox import Outbox
from common.idempotency import idempotency_table

LoansBase = new_base("LoansBase")
idempotency_keys = idempotency_table(LoansBase.metadata)
outbox = Outbox(LoansBase.metadata)
consumer_tables = ConsumerTables(LoansBase.metadata)
