"""What the loans service does with the clubs service's events.

- A club that becomes active (registered active, or activated later) gets its two funds; each
  club's status is noted (`KnownClub`), so money figures can leave out clubs no longer active.
- A member who joins finds the bank's loan records that were waiting for their national ID:
  they are matched to the new membership (the bank often lends before the club registers).
"""

from collections.abc import Sequence
from typing import Any, cast

from fastapi import FastAPI
from sqlmodel import Session, col, select

from common.clock import utcnow
from common.club_directory import ClubFacts
from common.events.catalogue import PERSONAL_DATA_KEY, EventType
from common.events.consumer import EventConsumer, FeedEvent
from common.service_client import ServiceClient
from services.loans.bank import store
from services.loans.bank.models import BankLoan
from services.loans.bank.rules import Membership
from services.loans.ledger import service as ledger
from services.loans.ledger.rules import FundKind
from services.loans.models import ACTIVE_CLUB, KnownClub, consumer_tables

OPENED_BY = "service:loans (club activated)"


def note_status(session: Session, data: dict[str, Any]) -> None:
    known = session.get(KnownClub, data["club_id"]) or KnownClub(
        club_id=data["club_id"], status=data["status"]
    )
    known.status, known.updated_at = data["status"], utcnow()
    session.add(known)


def on_club_event(session: Session, event: FeedEvent) -> None:
    data = event.data
    note_status(session, data)
    if data["status"] != ACTIVE_CLUB:
        return
    club = ClubFacts.of(data, id_key="club_id")
    for kind in FundKind:
        ledger.open_fund(session, club, kind, OPENED_BY)


def match_waiting_bank_loans(session: Session, event: FeedEvent) -> None:
    data = event.data
    national_id = data[PERSONAL_DATA_KEY]["national_id"]
    waiting = session.exec(
        select(BankLoan.id).where(
            col(BankLoan.member_id).is_(None), BankLoan.borrower_national_id == national_id
        )
    ).all()
    membership = Membership(
        data["member_id"], data["club_id"], data["province_code"], data["commune_code"]
    )
    loan_ids = cast(Sequence[int], waiting)  # ids of stored loans: never None
    store.set_matches(session, [(loan_id, membership) for loan_id in loan_ids], utcnow())


def club_events(
    clubs: ServiceClient, poll_seconds: float, idle_poll_seconds: float
) -> EventConsumer:
    return EventConsumer(
        "clubs",
        clubs,
        consumer_tables,
        {
            EventType.CLUB_CREATED: on_club_event,
            EventType.CLUB_STATUS_CHANGED: on_club_event,
            EventType.MEMBER_JOINED: match_waiting_bank_loans,
        },
        poll_seconds=poll_seconds,
        idle_poll_seconds=idle_poll_seconds,
    )


async def follow_clubs(app: FastAPI) -> None:
    """The worker: follows the clubs service's feed for as long as the service runs."""
    await app.state.club_events.run(app)
