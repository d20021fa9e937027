"""`bank_loan.posted`: what a posting created or changed, counted per province;
`bank_loan.match_changed`: records matched to a member after their posting, or unmatched; and
`bank_loan.retracted` / `bank_loan.reinstated`: a record taken back, or restored.

A batch changes up to 10,000 loans. One event per loan cost as much as writing the loans
themselves (docs/benchmarks.md), and one event listing them was megabytes, more than a broker
takes in a message and more than a page of a feed should be. So a posting announces, per
province of the members its loans are matched to (and once for the loans matched to nobody),
only its batch id and counts, per commune too, so that each subscriber hears of what is in its
area; the loans themselves are fetched, in the reader's scope, with
`GET /api/v1/bank-loans?changed_since=<the event's changed_since>`. Unchanged and stale
postings announce nothing. Events of one bank have one subject, `bank:<code>`: the bank's
postings are applied one after another, so its events are in posting order.
"""

from collections import Counter, defaultdict
from collections.abc import Collection, Iterable
from typing import Any

from sqlalchemy import select
from sqlmodel import Session, col

from common.events.catalogue import EventType
from common.events.outbox import Event, Scope
from services.loans.bank.models import BankLoan
from services.loans.bank.store import StoredLoan


def posted(
    bank_code: str, changed: Iterable[StoredLoan], batch_id: str, changed_since: str
) -> list[Event]:
    """The `bank_loan.posted` events of a posting's created and changed loans: per province,
    how many were created and updated, in all and per commune (`changed_since`: a sync token
    from before the posting, from which a reader lists them)."""
    provinces: dict[str | None, Counter[str]] = defaultdict(Counter)
    communes: dict[str | None, dict[str, Counter[str]]] = defaultdict(dict)
    for loan in changed:
        member = loan.membership
        province = member.province_code if member else None
        outcome = "created" if loan.is_new else "updated"
        provinces[province][outcome] += 1
        if member is not None and member.commune_code is not None:
            communes[province].setdefault(member.commune_code, Counter())[outcome] += 1
    return [
        Event(
            EventType.BANK_LOAN_POSTED,
            f"bank:{bank_code}",
            {
                "bank_code": bank_code,
                "batch_id": batch_id,
                "province_code": province,
                **posted_counts(counts),
                "communes": {
                    code: posted_counts(found) for code, found in sorted(communes[province].items())
                },
                "changed_since": changed_since,
            },
            Scope(province_code=province, bank_code=bank_code),
        )
        for province, counts in sorted(provinces.items(), key=lambda item: item[0] or "")
    ]


def posted_counts(counts: Counter[str]) -> dict[str, int]:
    return {"created": counts["created"], "updated": counts["updated"]}


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
