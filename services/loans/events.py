"""The loans service's events: member loans paid out, repaid and overdue; the bank's records."""

from datetime import date

from common.events.catalogue import EventType
from common.events.outbox import Event, Scope
from services.loans.lending.models import Loan, LoanRepayment


def _scope(loan: Loan) -> Scope:
    return Scope(
        province_code=loan.province_code, commune_code=loan.commune_code, club_id=loan.club_id
    )


def _loan_facts(loan: Loan) -> dict[str, object]:
    return {
        "loan_id": loan.id,
        "club_id": loan.club_id,
        "member_id": loan.member_id,
        "fund_id": loan.fund_id,
        "province_code": loan.province_code,
        "commune_code": loan.commune_code,
        "status": loan.status,
        "principal": loan.principal,
    }


def loan_disbursed(loan: Loan) -> Event:
    assert loan.disbursed_on is not None and loan.matures_on is not None
    data = {
        **_loan_facts(loan),
        "form": loan.form,
        "disbursed_on": loan.disbursed_on.isoformat(),
        "matures_on": loan.matures_on.isoformat(),
    }
    return Event(EventType.LOAN_DISBURSED, f"loan:{loan.id}", data, _scope(loan))


def loan_repaid(loan: Loan, repayment: LoanRepayment) -> Event:
    data = {
        **_loan_facts(loan),
        "repayment_id": repayment.id,
        "paid_on": repayment.paid_on.isoformat(),
        "amount": repayment.amount,
        "principal_part": repayment.principal,
        "interest_part": repayment.interest,
        "principal_repaid": loan.principal_repaid,
        "interest_paid": loan.interest_paid,
        "outstanding_principal": loan.principal - loan.principal_repaid,
    }
    return Event(EventType.LOAN_REPAID, f"loan:{loan.id}", data, _scope(loan))


def loan_overdue(loan: Loan, instalment: int, due_on: date, unpaid: int) -> Event:
    data = {
        **_loan_facts(loan),
        "instalment": instalment,
        "due_on": due_on.isoformat(),
        "unpaid_through_instalment": unpaid,
    }
    return Event(EventType.LOAN_OVERDUE, f"loan:{loan.id}", data, _scope(loan))
