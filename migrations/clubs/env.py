from common.migrate import run_env
from services.clubs.models import ClubsBase

run_env(ClubsBase.metadata)
