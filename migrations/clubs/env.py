from common import sealing
from common.migrate import run_env
from services.clubs.models import ClubsBase
from services.clubs.settings import ClubsSettings

sealing.configure(ClubsSettings())  # the migration that seals the plain values needs the keys
run_env(ClubsBase.metadata)
