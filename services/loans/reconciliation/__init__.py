"""What the platform's reconciliation asks the loans service (service tokens only).

The funding service reconciles the services with each other (`GET /api/v1/reports/
reconciliation`); from here it gets, in pages ordered by a key so a national ledger streams
in bounded memory:
- the ledger entries that carry an allocation id (`/funds/reconciliation/allocation-entries`);
- the bank records matched to members (`/bank-loans/reconciliation/matched`);
- the provinces this service holds money of (`/funds/reconciliation/provinces`);
and the ledger's own check (`/funds/reconciliation/ledger`), done here in set-based SQL because
it needs nothing from another service: every entry balances and posts what its type says, a
reversal mirrors its entry, no fund's account has an impossible sign, no fund's cash ever went
below zero in the order its entries were recorded, and each loan's stored running totals equal
its ledger entries.
"""

from fastapi import APIRouter

from services.loans.reconciliation.ledger import router as ledger_router
from services.loans.reconciliation.pages import router as pages_router

router = APIRouter()
router.include_router(pages_router)
router.include_router(ledger_router)
