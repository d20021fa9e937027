"""The citizen ID check: its one-step path for well-formed IDs agrees with the rule in full."""

from hypothesis import given
from hypothesis import strategies as st

from common.national_id import CCCD_PROVINCE_CODES, check_national_id


def by_the_rule(raw: str) -> str | None:
    """The rule as the docs state it: spaces removed, 12 digits, a province code, digit 4 0–3."""
    value = raw.replace(" ", "")
    well_formed = (
        len(value) == 12
        and all(digit in "0123456789" for digit in value)
        and value[:3] in CCCD_PROVINCE_CODES
        and value[3] in "0123"
    )
    return value if well_formed else None


def checked(raw: str) -> str | None:
    try:
        return check_national_id(raw)
    except ValueError:
        return None


ids = st.builds(
    lambda code, rest: code + rest,
    st.sampled_from([*sorted(CCCD_PROVINCE_CODES), "000", "099", "12a"]),
    st.text(alphabet="0123456789 ", min_size=7, max_size=12),
)


@given(st.one_of(ids, st.text(alphabet="0123456789 x\n٣", max_size=16)))
def test_every_id_is_judged_as_the_rule_says(raw: str) -> None:
    assert checked(raw) == by_the_rule(raw)


def test_an_id_written_with_spaces_is_kept_without_them() -> None:
    assert check_national_id("001 158 000 001") == "001158000001"
