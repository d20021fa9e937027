"""The whole schema of the loans database: every package's tables, registered by importing them.

Alembic's `env.py` and the schema check in the tests take the metadata from here, so a new
package's tables are added in one place.
"""

from services.loans.bank import models as bank_models
from services.loans.ledger import models as ledger_models
from services.loans.lending import models as lending_models
from services.loans.models import LoansBase
from services.loans.portfolio import models as portfolio_models

metadata = LoansBase.metadata
PACKAGES = (bank_models, ledger_models, lending_models, portfolio_models)
