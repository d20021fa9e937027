"""Tables of the clubs service's own database."""

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Column, ForeignKey, Index, Integer, event, text
from sqlmodel import Field, SQLModel

from common.clock import utcnow
from common.db import UTCDateTime, own_registry, references
from common.events.outbox import Outbox
from common.idempotency import idempotency_table
from common.jobs import JobTable
from common.sealing import BLIND_INDEX_LENGTH, SealedJSON, SealedString, blind_index
from common.sync import SyncLog, stamp_field

NATIONAL_ID = "members.national_id"
PHONE = "members.phone"
"""What members' sealed values are bound to (`common.sealing`)."""


class ClubsBase(SQLModel, registry=own_registry()):
    """The base of every table of this component's database."""


idempotency_keys = idempotency_table(ClubsBase.metadata, sealed=True)  # answers name members
outbox = Outbox(ClubsBase.metadata)
# A big member list waits for its import sealed (citizen IDs, phones) until the job ends.
jobs = JobTable(ClubsBase.metadata, sealed_input=True)
sync_log = SyncLog(ClubsBase.metadata)


class Timestamps(ClubsBase):
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)


class QuotaProfile(Timestamps, table=True):
    """Composition rules as data; shares are whole percentages, a missing bound is no rule."""

    __tablename__ = "quota_profiles"

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=40, unique=True)
    name: str = Field(max_length=200)
    min_members: int
    max_members: int
    women_min_pct: int | None = None
    women_max_pct: int | None = None
    older_min_pct: int | None = None
    older_max_pct: int | None = None
    younger_min_pct: int | None = None
    younger_max_pct: int | None = None
    priority_min_pct: int | None = None
    priority_max_pct: int | None = None
    older_age: int = 60
    is_default: bool = False


class Club(Timestamps, table=True):
    __tablename__ = "clubs"
    __table_args__ = (
        Index("ix_clubs_province_code_commune_code", "province_code", "commune_code"),
    )

    id: int | None = Field(default=None, primary_key=True)
    sync_stamp: int | None = stamp_field()
    code: str = Field(max_length=40, unique=True)
    name: str = Field(max_length=200)
    name_folded: str = Field(max_length=200, index=True)
    province_code: str = Field(max_length=2)
    commune_code: str = Field(max_length=5)
    village: str = Field(default="", max_length=200)
    founding_decision_number: str | None = Field(default=None, max_length=60)
    founding_decision_date: date | None = Field(default=None, index=True)
    programme_phase: str | None = Field(default=None, max_length=40)
    quota_profile_id: int = Field(
        sa_column=references(
            "quota_profiles.id", "fk_clubs_quota_profile_id_quota_profiles", index=True
        )
    )
    status: str = Field(max_length=20, index=True)
    legacy_address: str | None = Field(default=None, max_length=500)
    former_province_code: str | None = Field(default=None, max_length=2, index=True)
    """The province it was in before the 2025 merger (plans written before it count by it)."""
    former_district_code: str | None = Field(default=None, max_length=3, index=True)
    """Its former district: from its pre-2025 address, or from its commune when that lay in
    one former district (`locations.legacy.former_place`); None where it cannot be told."""
    version: int = 1


class ClubStatusChange(ClubsBase, table=True):
    """A change of a club's status: what a club's status was on any past date is read from
    these (the audit's snapshots are sealed, so counts cannot read them)."""

    __tablename__ = "club_status_changes"
    __table_args__ = (
        Index("ix_club_status_changes_club_id_changed_at", "club_id", "changed_at"),
        Index("ix_club_status_changes_status_after_changed_at", "status_after", "changed_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    club_id: int = Field(sa_column=references("clubs.id", "fk_club_status_changes_club_id_clubs"))
    changed_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    status_before: str = Field(max_length=20)
    status_after: str = Field(max_length=20)


class Member(Timestamps, table=True):
    """One membership of one person in one club; leaving sets `left_on`, never deletes."""

    __tablename__ = "members"
    __table_args__ = (
        # A person is an active member of at most one club at a time.
        Index(
            "uq_members_active_national_id",
            "national_id_blind_index",
            unique=True,
            sqlite_where=text("left_on IS NULL"),
            postgresql_where=text("left_on IS NULL"),
        ),
        # At most one chair among a club's active members.
        Index(
            "uq_members_active_chair",
            "club_id",
            unique=True,
            sqlite_where=text("left_on IS NULL AND board_role = 'chair'"),
            postgresql_where=text("left_on IS NULL AND board_role = 'chair'"),
        ),
        # Composition on a date reads only these columns.
        Index(
            "ix_members_composition",
            "club_id",
            "joined_on",
            "left_on",
            "gender",
            "birth_key",
            "household_status",
            "home_care_volunteer",
        ),
        # The retention job's question: who left long ago and still holds personal data.
        Index(
            "ix_members_erasure_due",
            "left_on",
            sqlite_where=text("left_on IS NOT NULL AND erased_on IS NULL"),
            postgresql_where=text("left_on IS NOT NULL AND erased_on IS NULL"),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    sync_stamp: int | None = stamp_field()
    club_id: int = Field(sa_column=references("clubs.id", "fk_members_club_id_clubs"))
    full_name: str = Field(max_length=200)
    gender: str = Field(max_length=10)
    birth_date: date | None = None
    birth_year: int
    birth_key: int
    household_status: str = Field(max_length=20)
    national_id: str | None = Field(default=None, sa_type=SealedString(NATIONAL_ID))
    """Sealed at rest; looked up by `national_id_blind_index`, kept in step by the model."""
    national_id_blind_index: str | None = Field(
        default=None, max_length=BLIND_INDEX_LENGTH, index=True
    )
    phone: str | None = Field(default=None, sa_type=SealedString(PHONE))
    joined_on: date
    left_on: date | None = None
    board_role: str | None = Field(default=None, max_length=20)
    home_care_volunteer: bool = False
    income_generation_volunteer: bool = False
    erased_on: date | None = None
    """The day the person's data was erased (on request or by retention): the row keeps only
    what the counts need (`services/clubs/members/erasure.py`)."""
    version: int = 1


@event.listens_for(Member, "before_insert")
@event.listens_for(Member, "before_update")
def _index_national_id(_mapper: object, _connection: object, member: Member) -> None:
    """Every stored citizen ID has the blind index its lookups compare, however it was set."""
    plain = member.national_id
    member.national_id_blind_index = None if plain is None else blind_index(plain)


class Consent(ClubsBase, table=True):
    """A member's consent to one purpose: when and how it was given (the paper form's number,
    who recorded it) and, once withdrawn, when and how. Never deleted; consent given again
    after a withdrawal is a new row."""

    __tablename__ = "member_consents"
    __table_args__ = (
        # At most one current consent per member and purpose.
        Index(
            "uq_member_consents_current",
            "member_id",
            "purpose",
            unique=True,
            sqlite_where=text("withdrawn_on IS NULL"),
            postgresql_where=text("withdrawn_on IS NULL"),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    member_id: int = Field(
        sa_column=references("members.id", "fk_member_consents_member_id_members")
    )
    purpose: str = Field(max_length=30)
    given_on: date
    form_reference: str = Field(max_length=100)
    recorded_by: str = Field(max_length=200)
    recorded_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    withdrawn_on: date | None = None
    withdrawal_reference: str | None = Field(default=None, max_length=100)
    withdrawn_by: str | None = Field(default=None, max_length=200)
    withdrawn_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class Activity(Timestamps, table=True):
    __tablename__ = "activities"
    __table_args__ = (Index("ix_activities_club_id_held_on", "club_id", "held_on"),)

    id: int | None = Field(default=None, primary_key=True)
    sync_stamp: int | None = stamp_field()
    club_id: int = Field(sa_column=references("clubs.id", "fk_activities_club_id_clubs"))
    held_on: date
    area: str = Field(max_length=40)
    title: str = Field(max_length=300)
    participants: int = 0
    beneficiaries: int = 0
    notes: str = Field(default="", max_length=2000)


class Meeting(Timestamps, table=True):
    __tablename__ = "meetings"
    # A club meets once a day at most; the index settles concurrent writes too.
    __table_args__ = (Index("uq_meetings_club_id_held_on", "club_id", "held_on", unique=True),)

    id: int | None = Field(default=None, primary_key=True)
    sync_stamp: int | None = stamp_field()
    club_id: int = Field(sa_column=references("clubs.id", "fk_meetings_club_id_clubs"))
    held_on: date
    topics: list[str] = Field(default_factory=list, sa_type=JSON, nullable=False)
    health_checks: int = 0
    fund_decisions: str = Field(default="", max_length=2000)
    notes: str = Field(default="", max_length=2000)


class MeetingAttendance(ClubsBase, table=True):
    __tablename__ = "meeting_attendance"

    meeting_id: int = Field(
        sa_column=Column(
            Integer,
            ForeignKey(
                "meetings.id", name="fk_meeting_attendance_meeting_id_meetings", ondelete="CASCADE"
            ),
            primary_key=True,
        )
    )
    member_id: int = Field(
        sa_column=Column(
            Integer,
            ForeignKey("members.id", name="fk_meeting_attendance_member_id_members"),
            primary_key=True,
            index=True,
        )
    )


class AuditEntry(ClubsBase, table=True):
    """Who changed which club or member, when, and how (before and after)."""

    __tablename__ = "audit_entries"
    __table_args__ = (Index("ix_audit_entries_entity_entity_id", "entity", "entity_id"),)

    id: int | None = Field(default=None, primary_key=True)
    entity: str = Field(max_length=20)
    entity_id: int
    action: str = Field(max_length=30)
    actor: str = Field(max_length=200)
    request_id: str | None = Field(default=None, max_length=128)
    at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    before: dict[str, Any] | None = Field(default=None, sa_type=SealedJSON("audit_entries.before"))
    after: dict[str, Any] | None = Field(default=None, sa_type=SealedJSON("audit_entries.after"))
    """Sealed at rest: a member's snapshot holds their citizen ID and phone."""
