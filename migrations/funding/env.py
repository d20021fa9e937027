from common.migrate import run_env
from services.funding.models import FundingBase

run_env(FundingBase.metadata)
