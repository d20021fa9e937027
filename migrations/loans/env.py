from common import sealing
from common.migrate import run_env
from services.loans.settings import LoansSettings
from services.loans.tables import metadata

sealing.configure(LoansSettings())  # the migration that seals the plain values needs the keys
run_env(metadata)
