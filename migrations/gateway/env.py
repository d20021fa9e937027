from common.migrate import run_env
from gateway.models import GatewayBase

run_env(GatewayBase.metadata)
