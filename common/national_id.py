"""The Vietnamese citizen ID (CCCD): 12 digits, checked the same way by every service.

The clubs service keeps members' IDs and the loans service receives the bank's borrowers' IDs;
both must refuse the same malformed numbers, so the rule lives here once.
"""

import re

from common.problem_codes import Code
from common.problems import rule_error

NATIONAL_ID_REASON = "must be the 12 digits of the citizen ID (CCCD)"

# Digits 1–3 of a citizen ID (CCCD): the 63 provinces as they were before the 2025 merger
# (Circular 59/2021/TT-BCA). IDs issued since keep these codes.
# fmt: off
CCCD_PROVINCE_CODES = frozenset({
    "001", "002", "004", "006", "008", "010", "011", "012", "014", "015", "017", "019", "020",
    "022", "024", "025", "026", "027", "030", "031", "033", "034", "035", "036", "037", "038",
    "040", "042", "044", "045", "046", "048", "049", "051", "052", "054", "056", "058", "060",
    "062", "064", "066", "067", "068", "070", "072", "074", "075", "077", "079", "080", "082",
    "083", "084", "086", "087", "089", "091", "092", "093", "094", "095", "096",
})
# fmt: on

WELL_FORMED_PATTERN = "(?:" + "|".join(sorted(CCCD_PROVINCE_CODES)) + ")[0-3][0-9]{8}"
"""A well-formed ID as written without spaces: what `check_national_id` accepts unchanged."""

_WELL_FORMED = re.compile(WELL_FORMED_PATTERN)
_TWELVE_DIGITS = re.compile(r"[0-9]{12}")


def check_national_id(raw: str) -> str:
    """A well-formed 12-digit citizen ID (spaces removed): province code, century/gender digit.

    Raises the validation error `invalid_national_id` (a `ValueError`) with a reason a person
    can read.
    """
    if _WELL_FORMED.fullmatch(raw):
        return raw  # the usual case, in one step: thousands of IDs a batch
    value = raw.replace(" ", "")
    if not _TWELVE_DIGITS.fullmatch(value):
        raise rule_error(Code.INVALID_NATIONAL_ID, NATIONAL_ID_REASON)
    if value[:3] not in CCCD_PROVINCE_CODES:
        raise rule_error(
            Code.INVALID_NATIONAL_ID, f"digits 1–3 ({value[:3]}) are not a province code (001–096)"
        )
    if value[3] not in "0123":
        raise rule_error(
            Code.INVALID_NATIONAL_ID,
            f"digit 4 ({value[3]}) must be 0–3 (century and gender of a birth in 1900–2099)",
        )
    return value
