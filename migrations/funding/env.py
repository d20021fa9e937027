from common.migrate import run_env
from services.funding.tables import metadata

run_env(metadata)
