"""The whole schema of the funding database: every package's tables, registered by import.

Alembic's `env.py` and the schema check in the tests take the metadata from here.
"""

from services.funding.catalogue import models as catalogue_models
from services.funding.duties import models as duties_models
from services.funding.flows import models as flows_models
from services.funding.models import FundingBase
from services.funding.plans import models as plans_models
from services.funding.reference import models as reference_models
from services.funding.targets import models as targets_models
from services.funding.work import models as work_models

metadata = FundingBase.metadata
PACKAGES = (
    catalogue_models,
    duties_models,
    flows_models,
    plans_models,
    reference_models,
    targets_models,
    work_models,
)
