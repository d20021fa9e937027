"""`bank_loan.posted`: what a posting created or changed, one event per province;
`bank_loan.match_changed`: records matched to a member after their posting, or unmatched; and
`bank_loan.retracted` / `bank_loan.reinstated`: a record taken back, or restored.

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
from collections.abc import Collection, Iterable
from typing import Any

import orjson
from sqlalchemy import select
from sqlmodel import Session, col

from common.events.catalogue import EventType
from common.events.outbox import Event, Scope
from services.loans.bank.models import BankLoan
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


def posted(bank_code: str, changed: Iterable[StoredLoan], batch_id: str) -> list[Event]:
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
                "batch_id": batch_id,
                "province_code": province,
                "loans": orjson.Fragment(orjson.dumps(loans)),
            },
            Scope(province_code=province, bank_code=bank_code),
        )
        for province, loans in sorted(by_province.items(), key=lambda item: item[0] or "")
    ]


def retraction(loan: BankLoan, retracted: bool) -> Event:
    """A record retracted (`loan` as it was, so the officers of the area it leaves hear of it)
    or reinstated (unmatched until matching runs again). Never the reason: free text."""
    kind = EventType.BANK_LOAN_RETRACTED if retracted else EventType.BANK_LOAN_REINSTATED
    return Event(
        kind,
        f"bank:{loan.bank_code}",
        {
            "bank_code": loan.bank_code,
            "bank_loan_id": loan.id,
            "loan_number": loan.loan_number,
            "province_code": loan.province_code,
            "club_id": loan.club_id,
            "member_id": loan.member_id,
        },
        Scope(province_code=loan.province_code, bank_code=loan.bank_code),
    )


def match_changed(
    session: Session, loan_ids: Collection[int], was: dict[int, str | None]
) -> list[Event]:
    """`bank_loan.match_changed` for these loans as they now stand, one event per bank and
    province (`was`: each loan's province before, so an unmatch reaches the officers who saw
    the record until then)."""
    if not loan_ids:
        return []
    rows = session.execute(
        select(
            col(BankLoan.id),
            col(BankLoan.bank_code),
            col(BankLoan.loan_number),
            col(BankLoan.member_id),
            col(BankLoan.club_id),
            col(BankLoan.province_code),
            col(BankLoan.commune_code),
        )
        .where(col(BankLoan.id).in_(list(loan_ids)))
        .order_by(col(BankLoan.id))
    ).all()
    groups: dict[tuple[str, str | None], list[dict[str, Any]]] = defaultdict(list)
    for loan_id, bank_code, number, member_id, club_id, province, commune in rows:
        place = province if member_id is not None else was.get(loan_id)
        groups[(bank_code, place)].append(
            {
                "bank_loan_id": loan_id,
                "loan_number": number,
                "matched": member_id is not None,
                "member_id": member_id,
                "club_id": club_id,
                "commune_code": commune,
            }
        )
    return [
        Event(
            EventType.BANK_LOAN_MATCH_CHANGED,
            f"bank:{bank_code}",
            {"bank_code": bank_code, "province_code": province, "loans": loans},
            Scope(province_code=province, bank_code=bank_code),
        )
        for (bank_code, province), loans in sorted(
            groups.items(), key=lambda i: (i[0][0], i[0][1] or "")
        )
    ]
