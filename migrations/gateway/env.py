from common.migrate import run_env
from gateway.tables import metadata

run_env(metadata)
