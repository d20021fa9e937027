"""Tables of the clubs service's own database."""

from common.db import new_base
from common.idempotency import idempotency_table

ClubsBase = new_base("ClubsBase")
idempotency_keys = idempotency_table(ClubsBase.metadata)
