from common.migrate import run_env
from services.loans.models import LoansBase

run_env(LoansBase.metadata)
