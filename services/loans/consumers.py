"""What the loans service does with the clubs service's events.

- A club that becomes active (registered active, or activated later) gets its two funds; each
  club's status is noted (`KnownClub`), so money figures can leave out clubs no longer active.
- A member who joins consenting to matching with the bank's records (or gives that consent
  later) finds the bank's loan records that were waiting for the blind index of their citizen
  ID: they are matched to the membership (the bank often lends before the club registers).
- A member who withdraws that consent has every bank loan matched to them unmatched, each
  with a row saying when and why (`BankLoanUnmatch`).
- A member whose data is erased has the loans service's copies erased too (`personal_data.py`).
"""

from collections.abc import Sequence
from datetime import date
from typing import Any, cast

from fastapi import FastAPI
from sqlmodel import Session, col, select

from common.clock import utcnow
from common.club_directory import ClubFacts
from common.db import conflict_insert, id_of
from common.events.catalogue import PERSONAL_DATA_KEY, EventType
from common.events.consumer import EventConsumer, FeedEvent
from common.events.jetstream import source_feed
from common.service_client import ServiceClient
from common.settings import ServiceSettings
from services.loans.bank import service as bank
from services.loans.bank.models import BankLoan, BankLoanUnmatch
from services.loans.bank.rules import Membership
from services.loans.ledger import service as ledger
from services.loans.ledger.rules import FundKind
from services.loans.models import ACTIVE_CLUB, KnownClub, consumer_tables
from services.loans.personal_data import on_member_erased
from services.loans.portfolio.stale import EVERY_DAY, mark_stale

OPENED_BY = "service:loans (club activated)"
BANK_MATCHING = "bank_matching"
"""The purpose of the clubs service's consent to matching with the bank's records."""


def note_status(session: Session, data: dict[str, Any]) -> None:
    """One statement: the consumer and an admin's replay of an event put aside may apply a
    club's event at the same moment (a read, then an insert, let the second fail on the
    primary key: seen in CI)."""
    values = {"club_id": data["club_id"], "status": data["status"], "updated_at": utcnow()}
    table = KnownClub.__table__  # type: ignore[attr-defined]  # SQLModel does not declare it
    statement = conflict_insert(session, table).values(**values)
    session.execute(
        statement.on_conflict_do_update(
            index_elements=["club_id"],
            set_={"status": values["status"], "updated_at": values["updated_at"]},
        )
    )


def on_club_event(session: Session, event: FeedEvent) -> None:
    data = event.data
    note_status(session, data)
    if data["status"] != ACTIVE_CLUB:
        return
    club = ClubFacts.of(data, id_key="club_id")
    for kind in FundKind:
        ledger.open_fund(session, club, kind, OPENED_BY)


def on_consent_changed(session: Session, event: FeedEvent) -> None:
    data = event.data
    if data["purpose"] != BANK_MATCHING:
        return
    if data["change"] == "given":
        match_waiting_bank_loans(session, event)
        return
    matched = session.exec(select(BankLoan).where(BankLoan.member_id == data["member_id"])).all()
    now = utcnow()
    was = {}
    for loan in matched:
        session.add(
            BankLoanUnmatch(
                bank_loan_id=id_of(loan),
                member_id=data["member_id"],
                club_id=data["club_id"],
                matched_at=loan.matched_at,
                reason="the member withdrew the consent to matching with the bank's records",
                effective_on=date.fromisoformat(data["on"]),
                unmatched_at=now,
            )
        )
        was[id_of(loan)] = loan.province_code
        loan.member_id = loan.club_id = loan.province_code = loan.commune_code = None
        loan.matched_at, loan.updated_at = None, now
        session.add(loan)
    session.flush()
    bank.announce_unmatched(session, was)
    mark_stale(session, [(data["member_id"], EVERY_DAY)])


def match_waiting_bank_loans(session: Session, event: FeedEvent) -> None:
    data = event.data
    index = (data.get(PERSONAL_DATA_KEY) or {}).get("national_id_blind_index")
    if index is None:
        return  # no citizen ID, no consent to matching, an event from before IDs were indexed,
        # or one emptied by the member's erasure
    waiting = session.exec(
        select(BankLoan.id).where(
            col(BankLoan.member_id).is_(None), BankLoan.borrower_blind_index == index
        )
    ).all()
    membership = Membership(
        data["member_id"], data["club_id"], data["province_code"], data["commune_code"]
    )
    loan_ids = cast(Sequence[int], waiting)  # ids of stored loans: never None
    bank.match_later(session, [(loan_id, membership) for loan_id in loan_ids], utcnow())


def club_events(clubs: ServiceClient, settings: ServiceSettings) -> EventConsumer:
    return EventConsumer(
        "clubs",
        source_feed(settings, "clubs", clubs, reader="loans"),
        consumer_tables,
        {
            EventType.CLUB_CREATED: on_club_event,
            EventType.CLUB_STATUS_CHANGED: on_club_event,
            EventType.MEMBER_JOINED: match_waiting_bank_loans,
            EventType.MEMBER_CONSENT_CHANGED: on_consent_changed,
            EventType.MEMBER_ERASED: on_member_erased,
        },
        poll_seconds=settings.event_poll_seconds,
        idle_poll_seconds=settings.event_idle_poll_seconds,
        max_attempts=settings.event_max_attempts,
    )


async def follow_clubs(app: FastAPI) -> None:
    """The worker: follows the clubs service's feed for as long as the service runs."""
    await app.state.club_events.run(app)
