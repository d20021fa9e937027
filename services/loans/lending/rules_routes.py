"""`/api/v1/funds/{fund_id}/loan-rules`: the club regulation's terms for member loans."""

from fastapi import APIRouter, Depends, Response

from common.auth import CurrentPrincipal, require_roles
from common.db import SessionDep
from common.problems import NotFound
from services.loans.ledger.routes import VisibleFund, WritableFund
from services.loans.lending import service
from services.loans.lending.schemas import LoanRulesPublic, LoanRulesUpdate
from services.loans.scope import FUND_READERS

router = APIRouter(
    prefix="/api/v1/funds",
    tags=["loan rules"],
    dependencies=[Depends(require_roles(*FUND_READERS))],
)


@router.get(
    "/{fund_id}/loan-rules",
    response_model=LoanRulesPublic,
    summary="The fund's loan rules",
    responses={409: {"description": "The fund is an activity fund: it lends nothing"}},
)
def read_loan_rules(fund: VisibleFund, session: SessionDep) -> LoanRulesPublic:
    service.require_income_generation(fund)
    assert fund.id is not None  # a stored fund
    found = service.rules_of(session, fund.id)
    if found is None:
        raise NotFound(f"The fund {fund.id} has no loan rules yet.")
    return service.public_rules(fund, found)


@router.put(
    "/{fund_id}/loan-rules",
    response_model=LoanRulesPublic,
    summary="Set the fund's loan rules (loans already applied for keep their terms)",
    responses={201: {"model": LoanRulesPublic, "description": "The first rules of this fund."}},
)
def set_loan_rules(
    payload: LoanRulesUpdate,
    fund: WritableFund,
    session: SessionDep,
    principal: CurrentPrincipal,
    response: Response,
) -> LoanRulesPublic:
    found, created = service.set_rules(session, fund, principal, payload)
    if created:
        response.status_code = 201
    return service.public_rules(fund, found)
