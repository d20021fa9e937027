"""Tables of the loans service's own database."""

from common.db import new_base
from common.idempotency import idempotency_table

LoansBase = new_base("LoansBase")
idempotency_keys = idempotency_table(LoansBase.metadata)
