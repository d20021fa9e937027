"""What goes over the wire for members, the board and the import of member lists."""

from datetime import date, datetime
from typing import Annotated, Literal, Self

from pydantic import AfterValidator, Field, field_validator, model_validator

from common.problem_codes import Code
from common.problems import rule_error
from common.schemas import (
    EARLIEST_BIRTH,
    NOT_AFTER_TODAY,
    BlindIndex,
    InputModel,
    NationalId,
    OutputModel,
    PatchModel,
    Years,
)
from services.clubs.consents.schemas import ConsentGiven
from services.clubs.domain import BoardRole, ConsentPurpose, Gender, Household
from services.clubs.members import rules
from services.clubs.quotas.schemas import RuleResult

PersonName = Annotated[str, Field(min_length=1, max_length=200), AfterValidator(rules.clean_name)]
MemberNationalId = Annotated[
    NationalId,
    Field(description="The 12-digit citizen ID (CCCD); must agree with gender and birth year."),
]
Phone = Annotated[
    str,
    Field(
        max_length=30,
        description="Vietnamese mobile or landline; +84/84, spaces and dots are accepted and "
        "the number is stored as 0xxxxxxxxx.",
    ),
    AfterValidator(rules.normalise_phone),
]
BirthYear = Annotated[int, Field(ge=rules.EARLIEST_BIRTH_YEAR, le=2100)]
LifeDate = Annotated[date, Years(EARLIEST_BIRTH)]
"""Born, joined or left: not after today, not before 1900 (checked by the member rules)."""
MAX_LOOKUP_IDS = 10_000
"""National IDs per lookup: one bank batch."""
MemberSort = Literal["name", "-name", "given_name", "-given_name", "id", "-id"]


class MemberCreate(InputModel):
    full_name: PersonName
    gender: Gender
    birth_date: LifeDate | None = Field(
        default=None, description=f"Or give birth_year alone. {NOT_AFTER_TODAY}"
    )
    birth_year: BirthYear | None = Field(
        default=None, description="When only the year is known; must agree with birth_date."
    )
    household_status: Household
    national_id: MemberNationalId | None = None
    phone: Phone | None = None
    joined_on: LifeDate | None = Field(
        default=None, description=f"Today (in Vietnam) if left out. {NOT_AFTER_TODAY}"
    )
    board_role: BoardRole | None = None
    home_care_volunteer: bool = False
    income_generation_volunteer: bool = False
    consents: list[ConsentGiven] = Field(
        max_length=len(ConsentPurpose),
        description="What the member consented to, as the paper form records it: `membership` "
        "(the basis for keeping the record) is required; `bank_matching` lets the Social "
        "Policy Bank's loan records be matched to the member; `funder_figures` counts the "
        "member in figures shared with funders. Later changes: `/members/{id}/consents`.",
    )

    @field_validator("consents")
    @classmethod
    def _membership_is_the_basis(cls, consents: list[ConsentGiven]) -> list[ConsentGiven]:
        purposes = [consent.purpose for consent in consents]
        if len(set(purposes)) != len(purposes):
            raise rule_error(Code.DUPLICATE_VALUE, "a purpose is given twice")
        if ConsentPurpose.MEMBERSHIP not in purposes:
            raise rule_error(
                Code.MEMBERSHIP_CONSENT_REQUIRED,
                "must include the consent to membership (purpose membership): the basis for "
                "keeping a member's record",
            )
        return consents


class MemberUpdate(PatchModel):
    """Changes to a current membership; leaving is `POST /members/{id}/leave`."""

    nullable = frozenset({"birth_date", "national_id", "phone", "board_role"})

    full_name: PersonName | None = None
    gender: Gender | None = None
    birth_date: LifeDate | None = Field(
        default=None, description=f"null keeps only the year (birth_year). {NOT_AFTER_TODAY}"
    )
    birth_year: BirthYear | None = None
    household_status: Household | None = None
    national_id: MemberNationalId | None = None
    phone: Phone | None = None
    joined_on: LifeDate | None = Field(default=None, description=NOT_AFTER_TODAY)
    board_role: BoardRole | None = None
    home_care_volunteer: bool | None = None
    income_generation_volunteer: bool | None = None


class Leave(InputModel):
    left_on: LifeDate = Field(
        description=f"The day the member left: not before joining. {NOT_AFTER_TODAY}"
    )
    reason: str = Field(default="", max_length=500)


class MemberPublic(OutputModel):
    id: int
    club_id: int
    full_name: str
    gender: Gender
    birth_date: date | None
    birth_year: int
    household_status: Household
    national_id: str | None
    phone: str | None
    joined_on: date
    left_on: date | None
    active: bool = Field(description="Not left: a current member.")
    board_role: BoardRole | None
    home_care_volunteer: bool
    income_generation_volunteer: bool
    erased_on: date | None = Field(
        description="The day the person's data was erased: name, citizen ID, phone, birth date "
        "and board seat are empty since, the birth year generalised."
    )
    created_at: datetime
    updated_at: datetime


class ErasureRequest(InputModel):
    reason: str = Field(
        min_length=1,
        max_length=500,
        description="Why: e.g. the person's request under Law 91/2025/QH15.",
        examples=["Người dân yêu cầu xóa dữ liệu cá nhân"],
    )
    request_reference: str = Field(
        min_length=1,
        max_length=100,
        description="The person's request: its letter's number, or the minutes that record it.",
        examples=["Đơn số 12/2026"],
    )


class ErasurePublic(OutputModel):
    member_ids: list[int] = Field(
        description="Every membership of the person (same citizen ID) erased now."
    )
    erased_on: date
    reason: str
    request_reference: str


class BoardSeat(OutputModel):
    member_id: int
    full_name: str
    board_role: BoardRole
    home_care_volunteer: bool
    income_generation_volunteer: bool


class Board(OutputModel):
    """The board and volunteer teams of a club on a date, checked against the club model."""

    club_id: int
    on: date
    seats: list[BoardSeat]
    size: int
    home_care_volunteers: int
    income_generation_volunteers: int
    compliant: bool
    checks: list[RuleResult]
    failures: list[str]


class ImportIssue(OutputModel):
    """Why one row (or the sheet) was refused, as the user sees the sheet."""

    row: int = Field(description="The row number in the sheet, header rows included.")
    column: str = Field(description="The column's header as written in the file.")
    field: str = Field(description="The member field the column gives.")
    value: str | None = Field(
        description="The cell as read (cut to 100 characters); never shown for a name, birth "
        "date, citizen ID or phone: the row and column find it in the sheet."
    )
    reason: str
    code: str = Field(
        default="invalid",
        description="The reason as a stable code: a field error's (`x-problem-codes`, or "
        "pydantic's error type).",
    )


class ImportWarning(OutputModel):
    """A column of the file that was read past; the import goes on without it."""

    column: str = Field(description="The column's header as written in the file.")
    code: Literal["column_not_imported", "unknown_column"] = Field(
        description="`column_not_imported`: a column boards keep (Dân tộc, Thôn/xóm, Ghi "
        "chú) that a membership does not hold; `unknown_column`: a header no member field has "
        "(a misspelt one?)."
    )
    message: str


class ImportReport(OutputModel):
    file_name: str | None
    format: Literal["csv", "xlsx"]
    dry_run: bool
    header_row: int
    columns: dict[str, str] = Field(description="Each header of the file and the field it gives.")
    ignored_columns: list[str] = Field(
        description="Every column that is not imported (STT, Dân tộc, unknown ones…)."
    )
    warnings: list[ImportWarning] = Field(
        default_factory=list,
        description="The columns read past whose content is not kept, each with why (never a "
        "cell's value).",
    )
    rows: int = Field(description="Data rows read (blank rows are skipped).")
    valid_rows: int
    invalid_rows: int
    duplicates_in_file: int = Field(description="Rows repeating a national ID of an earlier row.")
    already_active: int = Field(description="Rows of people who are already active members.")
    valid: bool = Field(description="No row has an issue; a commit writes every row.")
    created: int
    member_ids: list[int] = Field(description="The new members, in the order of the rows.")
    issues: list[ImportIssue]


class MemberLookup(InputModel):
    """Which of these people are active members (other services match their records): by
    citizen ID, or by the IDs' blind indexes (how our services ask, never holding an ID)."""

    national_ids: list[NationalId] | None = Field(
        default=None, min_length=1, max_length=MAX_LOOKUP_IDS, description="12-digit citizen IDs."
    )
    national_id_blind_indexes: list[BlindIndex] | None = Field(
        default=None,
        min_length=1,
        max_length=MAX_LOOKUP_IDS,
        description="The IDs' blind indexes (HMAC-SHA256 with the platform's index key).",
    )

    @model_validator(mode="after")
    def _one_way_of_asking(self) -> Self:
        if (self.national_ids is None) == (self.national_id_blind_indexes is None):
            raise rule_error(
                Code.MUTUALLY_EXCLUSIVE, "send either national_ids or national_id_blind_indexes"
            )
        return self


class ActiveMembership(OutputModel):
    national_id: str | None = Field(
        default=None, description="As asked; absent when asked by blind index."
    )
    national_id_blind_index: str
    member_id: int
    club_id: int
    province_code: str
    commune_code: str
