from common.migrate import run_env
from services.loans.tables import metadata

run_env(metadata)
