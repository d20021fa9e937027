"""`bank_loan.posted`: what a posting created or changed, one event per province.

A batch changes up to 10,000 loans. One event per loan cost as much as writing the loans
themselves (docs/benchmarks.md), so a posting announces its loans grouped by the
province of the member each is matched to (one more event for the loans matched to nobody):
each subscriber still gets only the loans of its area, in a few events. Unchanged and stale
postings announce nothing. Events of one bank have one subject, `bank:<code>`: the bank's
postings are applied one after another, so its events are in posting order.

The events are made while PostgreSQL stores the posting's loans (Python is idle then), with
each event's list of loans encoded at once: writing them is then one copy of their bytes.
"""

from collections import defaultdict
from collections.abc import Iterable
from typing import Any

import orjson

from common.events.catalogue import EventType
from common.events.outbox import Event, Scope
from services.loans.bank.store import StoredLoan


def _item(loan: StoredLoan) -> dict[str, Any]:
    values, member = loan.values, loan.membership
    return {
        "bank_loan_id": loan.id,
        "loan_number": loan.loan_number,
        "outcome": "created" if loan.is_new else "updated",
        "programme": values.programme,
        "principal": values.principal,
        "outstanding_principal": values.outstanding_principal,
        "overdue_amount": values.overdue_amount,
        "status": values.status,
        "as_of": values.as_of.isoformat(),
        "member_id": member.member_id if member else None,
        "club_id": member.club_id if member else None,
        "commune_code": member.commune_code if member else None,
    }


def posted(bank_code: str, changed: Iterable[StoredLoan]) -> list[Event]:
    """The `bank_loan.posted` events of a posting's created and changed loans."""
    by_province: dict[str | None, list[dict[str, Any]]] = defaultdict(list)
    for loan in sorted(changed, key=lambda loan: loan.id or 0):
        province = loan.membership.province_code if loan.membership else None
        by_province[province].append(_item(loan))
    return [
        Event(
            EventType.BANK_LOAN_POSTED,
            f"bank:{bank_code}",
            {
                "bank_code": bank_code,
                "province_code": province,
                "loans": orjson.Fragment(orjson.dumps(loans)),
            },
            Scope(province_code=province, bank_code=bank_code),
        )
        for province, loans in sorted(by_province.items(), key=lambda item: item[0] or "")
    ]
