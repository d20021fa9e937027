from common.migrate import run_env
from services.loans.ledger import models as ledger_models  # noqa: F401  (registers the tables)
from services.loans.models import LoansBase

run_env(LoansBase.metadata)
