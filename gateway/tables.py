"""The whole schema of the gateway database, registered by importing every module with tables.

Alembic's `env.py` and the schema check in the tests take the metadata from here.
"""

from gateway import models
from gateway.oauth import models as oauth_models
from gateway.webhooks import models as webhook_models

metadata = models.GatewayBase.metadata
MODULES = (models, oauth_models, webhook_models)
