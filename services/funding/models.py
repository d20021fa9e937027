"""Tables of the funding service's own database."""

from common.db import new_base
from common.events.outbox import Outbox
from common.idempotency import idempotency_table

FundingBase = new_base("FundingBase")
idempotency_keys = idempotency_table(FundingBase.metadata)
outbox = Outbox(FundingBase.metadata)
