"""The rules a member's data must keep, as pure functions: one place for each rule.

The JSON endpoints and the spreadsheet import both go through these functions (the per-field
ones through `schemas.py`), so a row of a member list is judged exactly like a POST.
Per-field rules raise `ValueError` with a reason a person can read; rules across fields return
every `FieldError` at once, so a client (or a board fixing its sheet) sees all problems together.
"""

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from common.problem_codes import Code
from common.problems import FieldError, field_error, rule_error
from common.schemas import EARLIEST_BIRTH
from services.clubs.domain import BOARD_SIZES, MIN_HOME_CARE_VOLUNTEERS, BoardRole, Gender
from services.clubs.quotas.schemas import RuleResult

EARLIEST_BIRTH_YEAR = EARLIEST_BIRTH.year
"""The citizen ID encodes births from 1900; nobody older is alive to join a club."""

_NAME_PUNCTUATION = frozenset(" .'-")
_PHONE_SEPARATORS = re.compile(r"[\s.\-()]")
_MOBILE = re.compile(r"^0[35789]\d{8}$")
_LANDLINE = re.compile(r"^02\d{9}$")
PHONE_REASON = (
    "is not a Vietnamese phone number: a mobile has 10 digits starting 03, 05, 07, 08 or 09, "
    "a landline 11 digits starting 02 (+84 or 84 in front is accepted)"
)


def clean_name(raw: str) -> str:
    """The name in composed Unicode (NFC) with single spaces; letters, spaces, . ' - only.

    Files saved on some systems hold decomposed Vietnamese letters; stored composed, the same
    name always compares equal.
    """
    name = " ".join(unicodedata.normalize("NFC", raw).split())
    if not name:
        raise rule_error(Code.INVALID_NAME, "is empty")
    allowed = all(
        ch.isalpha() or ch in _NAME_PUNCTUATION or unicodedata.category(ch).startswith("M")
        for ch in name
    )
    if not allowed or not any(ch.isalpha() for ch in name):
        reason = "must be a person's name: letters, spaces, dots, hyphens, apostrophes"
        raise rule_error(Code.INVALID_NAME, reason)
    return name


def normalise_phone(raw: str) -> str:
    """The number as `0xxxxxxxxx` (mobile) or `02xxxxxxxxx` (landline)."""
    digits = _PHONE_SEPARATORS.sub("", raw)
    if digits.startswith("+84"):
        digits = "0" + digits[3:].removeprefix("0")
    elif digits.startswith("84") and len(digits) in (11, 12):
        digits = "0" + digits[2:].removeprefix("0")
    if _MOBILE.match(digits) or _LANDLINE.match(digits):
        return digits
    raise rule_error(Code.INVALID_PHONE, PHONE_REASON)


def id_gender(national_id: str) -> Gender:
    """Digit 4 is even for men, odd for women."""
    return Gender.FEMALE if int(national_id[3]) % 2 else Gender.MALE


def id_birth_year(national_id: str) -> int:
    """Digit 4 gives the century (0–1: 1900s, 2–3: 2000s), digits 5–6 the year in it."""
    return EARLIEST_BIRTH_YEAR + int(national_id[3]) // 2 * 100 + int(national_id[4:6])


def national_id_disagreements(
    national_id: str, gender: str | None, birth_year: int | None
) -> list[str]:
    """Which parts of a well-formed citizen ID disagree with the person's gender and birth.

    The reasons name the digits, never their values or the birth year: problem details (and
    whatever logs them) carry no part of a person's ID or birth."""
    reasons = []
    if gender is not None and id_gender(national_id) != gender:
        reasons.append(
            f"digit 4 is for a {id_gender(national_id).value} person, but gender is {gender}"
        )
    if birth_year is not None:
        year = id_birth_year(national_id)
        century = year // 100 * 100
        if century != birth_year // 100 * 100:
            reasons.append(
                f"digit 4 is for a birth in {century}–{century + 99}, but the birth year is not"
            )
        elif year != birth_year:
            reasons.append("digits 5–6 are not the last two digits of the birth year")
    return reasons


@dataclass(frozen=True)
class MemberFacts:
    """The fields of a membership that rules across fields look at (after per-field checks)."""

    gender: str
    birth_date: date | None
    birth_year: int | None
    national_id: str | None
    joined_on: date


def resolved_birth_year(facts: MemberFacts) -> int | None:
    return facts.birth_date.year if facts.birth_date else facts.birth_year


def _birth_errors(facts: MemberFacts, today: date) -> list[FieldError]:
    errors = []
    if facts.birth_date is None and facts.birth_year is None:
        reason = "give the date of birth or at least birth_year"
        errors.append(field_error("birth_date", reason, code=Code.MISSING))
    if facts.birth_date is not None:
        if facts.birth_date > today:
            errors.append(field_error("birth_date", "is in the future", code=Code.DATE_IN_FUTURE))
        elif facts.birth_date.year < EARLIEST_BIRTH_YEAR:
            reason = f"is before {EARLIEST_BIRTH_YEAR}"
            errors.append(field_error("birth_date", reason, code=Code.DATE_TOO_EARLY))
    if facts.birth_year is not None:
        if facts.birth_year > today.year:
            errors.append(field_error("birth_year", "is in the future", code=Code.DATE_IN_FUTURE))
        elif facts.birth_date is not None and facts.birth_date.year != facts.birth_year:
            errors.append(
                field_error(
                    "birth_year",
                    f"is {facts.birth_year} but birth_date is in {facts.birth_date.year}",
                    code=Code.INCONSISTENT,
                )
            )
    return errors


def _joined_errors(facts: MemberFacts, today: date) -> list[FieldError]:
    if facts.joined_on > today:
        return [field_error("joined_on", "is in the future", code=Code.DATE_IN_FUTURE)]
    born = facts.birth_date or (date(facts.birth_year, 1, 1) if facts.birth_year else None)
    if born is not None and facts.joined_on < born:
        reason = "is before the member was born"
        return [field_error("joined_on", reason, code=Code.DATE_OUT_OF_ORDER)]
    return []


def member_errors(facts: MemberFacts, today: date) -> list[FieldError]:
    """Every rule across fields that the membership breaks (empty when it keeps them all)."""
    birth_errors = _birth_errors(facts, today)
    errors = birth_errors + _joined_errors(facts, today)
    if facts.national_id is not None:
        # A birth already refused would only repeat itself as a disagreement with the ID.
        year = None if birth_errors else resolved_birth_year(facts)
        errors += [
            field_error("national_id", reason, code=Code.NATIONAL_ID_DISAGREES)
            for reason in national_id_disagreements(facts.national_id, facts.gender, year)
        ]
    return errors


def leave_errors(joined_on: date, left_on: date, today: date) -> list[FieldError]:
    if left_on > today:
        return [field_error("left_on", "is in the future", code=Code.DATE_IN_FUTURE)]
    if left_on < joined_on:
        reason = f"is before the member joined ({joined_on.isoformat()})"
        return [field_error("left_on", reason, code=Code.DATE_OUT_OF_ORDER)]
    return []


@dataclass(frozen=True)
class Seat:
    member_id: int
    board_role: str


def board_checks(
    seats: Sequence[Seat], home_care_volunteers: int, income_generation_volunteers: int
) -> list[RuleResult]:
    """The board model: 3, 5 or 7 members, one chair, ≥ 5 home-care volunteers, an
    income-generation team; each check with a reason a person can read."""
    size = len(seats)
    sizes = ", ".join(str(s) for s in BOARD_SIZES[:-1]) + f" or {BOARD_SIZES[-1]}"
    chairs = [seat.member_id for seat in seats if seat.board_role == BoardRole.CHAIR]
    if len(chairs) == 1:
        chair_reason = f"one chair (member {chairs[0]})"
    elif not chairs:
        chair_reason = "no chair"
    else:
        chair_reason = f"{len(chairs)} chairs (members {', '.join(map(str, chairs))})"
    home_care_ok = home_care_volunteers >= MIN_HOME_CARE_VOLUNTEERS
    return [
        RuleResult(
            rule="board_size",
            passed=size in BOARD_SIZES,
            reason=f"board of {size}" + ("" if size in BOARD_SIZES else f", not {sizes}"),
        ),
        RuleResult(rule="one_chair", passed=len(chairs) == 1, reason=chair_reason),
        RuleResult(
            rule="home_care_volunteers",
            passed=home_care_ok,
            reason=f"home-care volunteers {home_care_volunteers} "
            f"{'>=' if home_care_ok else '<'} {MIN_HOME_CARE_VOLUNTEERS}",
        ),
        RuleResult(
            rule="income_generation_team",
            passed=income_generation_volunteers >= 1,
            reason=f"income-generation volunteers {income_generation_volunteers}"
            if income_generation_volunteers
            else "no income-generation volunteer team",
        ),
    ]
