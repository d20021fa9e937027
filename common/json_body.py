"""The one strict reader of JSON request bodies, ahead of every route.

The standard library (which the framework parses bodies with) reads `NaN`, `Infinity` and
`1e400` as floats, lets the last of two equal keys win, and keeps any character a string
holds. Here a body is refused, each value by its place (`records.17.borrower_name`), when it
has a number that is not finite, a duplicate key, or a control or invisible character in a
text (C0 and C1 controls but tab and line breaks, zero-width and bidirectional marks); text
is passed on in Unicode NFC, so a name typed in NFD is the same name, and a whole number
written `5.0` or `5e0` as the integer it is (one number in JSON); a UTF-8 byte-order mark
is dropped. Bodies with nothing to clean (nearly all) are passed on as they came.
"""

import json
import math
import re
import unicodedata
from decimal import Decimal
from typing import Any

import jiter

from common.problem_codes import Code
from common.problems import BadRequest, FieldError, ValidationFailed, field_error

BOM = b"\xef\xbb\xbf"
REFUSED = (
    (0x00, 0x08), (0x0B, 0x0C), (0x0E, 0x1F), (0x7F, 0x9F),  # controls but tab and line breaks
    (0x200B, 0x200F), (0x202A, 0x202E), (0x2060, 0x2064), (0x2066, 0x2069), (0xFEFF, 0xFEFF),
)  # fmt: skip
"""Code points refused in text: controls, zero-width and bidirectional marks."""
SURROGATES = ((0xD800, 0xDFFF),)
"""Halves of surrogate pairs: `\\ud800` alone is no character."""


def _character_class(ranges: tuple[tuple[int, int], ...]) -> str:
    return "".join(f"\\u{first:04x}-\\u{last:04x}" for first, last in ranges)


FORBIDDEN = re.compile(f"[{_character_class(REFUSED + SURROGATES)}]")
TEXT_PATTERN = f"^[^{_character_class(REFUSED)}]*$"
"""What every text in a JSON body matches, as the API document states it (ECMA and Python
read these escapes alike; a surrogate half cannot be written in a JSON Schema pattern)."""
ESCAPED = re.compile(
    # the refused characters written as escapes, and escaped combining marks (NFD, escaped)
    rb"\\u(?:00[0-1]|007[fF]|00[89]|200[b-fB-F]|202[a-eA-E]|206|[fF][eE][fF][fF]"
    rb"|03[0-6]|1[aA][b-fB-F]|1[dD][c-fC-F]|20[d-fD-F]|[fF][eE]2|[dD][89a-fA-F])"
)
INTEGRAL_NUMBER = re.compile(rb"[0-9]\.0+[\s,\]}]|[0-9][eE]")
"""Numbers that may be whole although written with a fraction or an exponent (`5.0`, `1e3`)."""
WHOLE_DIGITS = 18
"""Whole numbers of up to this many digits are rewritten in the bytes; longer ones are read."""
DIGITS = frozenset(b"0123456789")
LARGEST_WHOLE = 2**63
_DUPLICATE = re.compile(r'^Detected duplicate key "(.*)" at (line \d+ column \d+)$')
MAX_ERRORS = 50


def media_type_of(content_type: str | bytes | None) -> str:
    """`application/json` of `Application/JSON; charset=utf-8` ("" when there is none)."""
    if content_type is None:
        return ""
    if isinstance(content_type, bytes):
        content_type = content_type.decode("latin-1")
    return content_type.split(";", 1)[0].strip().lower()


def is_json(media_type: str) -> bool:
    """JSON, or a JSON-based type (`application/problem+json`): what this reader reads."""
    return media_type == "application/json" or (
        media_type.startswith("application/") and media_type.endswith("+json")
    )


def read(body: bytes) -> bytes:
    """The body to pass on: as it came, without its BOM, or re-encoded in NFC; raises the
    problem for a body that is not valid JSON (400) or holds a refused value (422)."""
    if body.startswith(BOM):
        body = body[len(BOM) :]
    try:
        value = jiter.from_json(body, allow_inf_nan=True, catch_duplicate_keys=True)
    except ValueError as exc:
        raise _refusal(str(exc)) from None
    try:
        text = body.decode()
    except UnicodeDecodeError:
        raise BadRequest("The request body is not valid UTF-8.", code=Code.INVALID_UTF8) from None
    if not _to_clean(body, text):
        if INTEGRAL_NUMBER.search(body) is None:
            return body
        if (rewritten := _whole_numbers(body)) is not None:
            return rewritten
    if INTEGRAL_NUMBER.search(body) is not None:
        # read again keeping each number's digits, so `5.0` becomes exactly 5
        value = jiter.from_json(body, allow_inf_nan=True, float_mode="lossless-float")
    errors: list[FieldError] = []
    cleaned = _clean(value, "", errors)
    if errors:
        summary = "; ".join(f"{e.field}: {e.reason}" for e in errors[:5])
        raise ValidationFailed(f"Invalid input: {summary}", errors=errors[:MAX_ERRORS])
    # The standard library, not orjson: it also writes integers beyond 64 bits, which the
    # routes then refuse by their own limits.
    return json.dumps(cleaned, ensure_ascii=False, separators=(",", ":")).encode()


def _whole_numbers(body: bytes) -> bytes | None:
    """The body with its whole numbers written with zero decimals (`9.0`) as integers, rewritten
    in the bytes; None when a number needs reading: written with an exponent or with more than
    `WHOLE_DIGITS` digits, or a body with an escaped quote. A candidate inside a string is left
    alone: without escaped quotes, a place is inside a string when an odd number of quotes
    precede it."""
    if b'\\"' in body:
        return None
    kept: list[bytes] = []
    copied = counted = quotes = 0
    for found in INTEGRAL_NUMBER.finditer(body):
        start = found.start()  # the number's last digit before `.0` or `e`
        quotes += body.count(b'"', counted, start)
        counted = start
        if quotes % 2:
            continue
        if body[start + 1] in b"eE":
            return None
        first = start
        while first > 0 and body[first - 1] in DIGITS:
            first -= 1
        if start + 1 - first > WHOLE_DIGITS:
            return None
        kept.append(body[copied : start + 1])
        copied = found.end() - 1  # the delimiter after the zeros is kept
    kept.append(body[copied:])
    return b"".join(kept)


def _to_clean(body: bytes, text: str) -> bool:
    """Whether the body may hold something to refuse or to normalise other than whole numbers
    written with decimals (cheap checks: a bank batch of 10,000 records is 3.6 MB). Those
    numbers alone (`9.0`, a bank's interest rate) are rewritten in the bytes by
    `_whole_numbers`, much faster than reading every value into Python and writing it back."""
    return (
        b"NaN" in body
        or b"Infinity" in body
        or (b"\\u" in body and ESCAPED.search(body) is not None)
        or FORBIDDEN.search(text) is not None
        or not unicodedata.is_normalized("NFC", text)
    )


def _refusal(message: str) -> BadRequest | ValidationFailed:
    duplicate = _DUPLICATE.match(message)
    if duplicate is None:
        return BadRequest(
            f"The request body is not valid JSON: {message}.", code=Code.MALFORMED_JSON
        )
    key, where = duplicate.groups()
    reason = f"appears twice in one object ({where}); send each key once"
    return ValidationFailed(
        f"{key}: {reason}", errors=[field_error(key, reason, code=Code.DUPLICATE_KEY)]
    )


def _clean(value: Any, path: str, errors: list[FieldError]) -> Any:
    if isinstance(value, str):
        return _text(value, path, errors)
    if isinstance(value, jiter.LosslessFloat):
        value = _number(value)
    if isinstance(value, float) and not math.isfinite(value):
        errors.append(
            field_error(path or "body", "is not a finite number", code=Code.NOT_FINITE_NUMBER)
        )
        return None
    if isinstance(value, list):
        return [_clean(item, _at(path, n), errors) for n, item in enumerate(value)]
    if isinstance(value, dict):
        cleaned = {}
        for key, item in value.items():
            place = _at(path, key)
            cleaned[_text(key, place, errors)] = _clean(item, place, errors)
        return cleaned
    return value


def _number(value: jiter.LosslessFloat) -> int | float:
    """A whole number as an integer, as JSON means it (`5.0` and `5` are one number); other
    numbers as floats. Digits, not the float, decide: `12345678901234567.0` stays exact."""
    exact = Decimal(bytes(value).decode())
    if exact.is_finite() and exact == exact.to_integral_value() and abs(exact) < LARGEST_WHOLE:
        return int(exact)
    return float(value)


def _at(path: str, step: str | int) -> str:
    return f"{path}.{step}" if path else str(step)


def _text(value: str, path: str, errors: list[FieldError]) -> str:
    found = FORBIDDEN.search(value)
    if found is not None:
        reason = f"holds a control or invisible character (U+{ord(found.group()):04X})"
        errors.append(field_error(path or "body", reason, code=Code.FORBIDDEN_CHARACTER))
        return value
    return unicodedata.normalize("NFC", value)
