"""Numbers as Vietnamese documents print them, and the language a request asks for.

UBND and the ministry read `1.234.567` (a dot between thousands) and `48,9 %` (a decimal
comma, a space before the sign); English is the platform's default for machines, and
Vietnamese is answered when `Accept-Language` prefers it.
"""

from decimal import ROUND_HALF_UP, Decimal
from typing import Annotated, Literal

from fastapi import Depends, Header

Language = Literal["en", "vi"]
ENGLISH: Language = "en"
VIETNAMESE: Language = "vi"
MAX_LANGUAGE_RANGES = 20
"""An Accept-Language header lists a few languages; more is not a browser's."""


def format_number(value: int | float | Decimal, decimals: int = 0) -> str:
    """`1234567` → `1.234.567`; `50.75` with `decimals=1` → `50,8` (half up, as on paper).

    With `decimals`, trailing zeros stay (`529,30` for two): a column of a table lines up.
    """
    exact = Decimal(value) if isinstance(value, int) else Decimal(str(value))
    rounded = exact.quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_UP)
    sign = "-" if rounded < 0 else ""
    whole, _, fraction = f"{abs(rounded):f}".partition(".")
    groups: list[str] = []
    while len(whole) > 3:
        whole, group = whole[:-3], whole[-3:]
        groups.insert(0, group)
    grouped = ".".join([whole, *groups])
    return f"{sign}{grouped},{fraction}" if fraction else f"{sign}{grouped}"


def format_percent(value: int | float | Decimal, decimals: int = 1) -> str:
    """`48.9` → `48,9 %`; a whole number keeps no decimals (`60` → `60 %`)."""
    if Decimal(str(value)) == Decimal(str(value)).to_integral_value():
        return f"{format_number(int(Decimal(str(value))))} %"
    return f"{format_number(value, decimals)} %"


def format_millions(dong: int, decimals: int = 1) -> str:
    """Whole đồng as the plans' tables print them, in millions: `50_700_000` → `50,7`."""
    millions = Decimal(dong) / Decimal(1_000_000)
    if millions == millions.to_integral_value():
        return format_number(int(millions))
    return format_number(millions, decimals)


def preferred_language(accept_language: str | None) -> Language:
    """Vietnamese when `Accept-Language` ranks `vi` (or `vi-VN`…) above English, else English.

    The q-values decide (RFC 9110 §12.5.4); at equal weight the first listed wins. A header
    that cannot be read answers English, never an error: it is a preference, not an order.
    """
    if not accept_language:
        return ENGLISH
    best: tuple[float, int, Language] | None = None
    for position, part in enumerate(accept_language.split(",")[:MAX_LANGUAGE_RANGES]):
        tag, _, parameters = part.strip().partition(";")
        primary = tag.strip().lower().split("-", 1)[0]
        if primary not in ("vi", "en"):
            continue
        weight = _weight(parameters)
        if weight <= 0:
            continue
        language: Language = VIETNAMESE if primary == "vi" else ENGLISH
        candidate = (weight, -position, language)
        if best is None or candidate[:2] > best[:2]:
            best = candidate
    return best[2] if best is not None else ENGLISH


def _weight(parameters: str) -> float:
    name, _, value = parameters.strip().partition("=")
    if name.strip().lower() != "q":
        return 1.0
    try:
        weight = float(value.strip())
    except ValueError:
        return 0.0
    return weight if 0 <= weight <= 1 else 0.0


def request_language(
    accept_language: Annotated[
        str | None,
        Header(
            description="`vi` (or `vi-VN`) preferred over English: reasons a person reads "
            "come in Vietnamese (`phụ nữ 48,9 % < 60 %`); English otherwise."
        ),
    ] = None,
) -> Language:
    return preferred_language(accept_language)


RequestLanguage = Annotated[Language, Depends(request_language)]
"""The language a route words its readable reasons in, from the request's Accept-Language."""
