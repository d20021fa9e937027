"""The one strict reader of JSON request bodies, ahead of every route.

The standard library (which the framework parses bodies with) reads `NaN`, `Infinity` and
`1e400` as floats, lets the last of two equal keys win, and keeps any character a string
holds. Here a body is refused, each value by its place (`records.17.borrower_name`), when it
has a number that is not finite, a duplicate key, or a control or invisible character in a
text (C0 and C1 controls but tab and line breaks, zero-width and bidirectional marks); text
is passed on in Unicode NFC, so a name typed in NFD is the same name, and a whole number
written `5.0` or `5e0` as the integer it is (one number in JSON); a UTF-8 byte-order mark
is dropped. Bodies with nothing to clean (nearly all) are passed on as they came.

A body is parsed once on the common path (a bank batch is 3.6 MB): cheap screens of its bytes
first, whole numbers rewritten in the bytes, then one strict parse that also gives its
canonical form (what makes two requests the same body, for `Idempotency-Key`). A body the
screens cannot vouch for is read thoroughly, value by value.
"""

import contextlib
import json
import math
import re
import unicodedata
from collections.abc import Iterator
from decimal import Decimal
from typing import Any, NamedTuple

import jiter
import orjson

from common.gc_pause import collector_paused
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
ZERO = ord("0")
LARGEST_WHOLE = 2**63
PLAIN_BYTES = bytes(range(0x20, 0x7F)) + b"\t\n\r"
"""Bytes that are text as they stand: printable ASCII and the line breaks JSON allows."""
NUMBER_SHAPES = bytes.maketrans(b"123456789E", b"000000000e")
"""Every digit as `0`, every exponent as `e`: where numbers may be, found with `bytes.find`
(much faster than a regular expression over megabytes)."""
LARGE_BODY = 256 * 1024
"""Bytes from which reading a body pauses the cyclic collector."""
DELIMITERS = frozenset(b" \t\n\r,]}")
"""What may follow a number in JSON (or the body's end)."""
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


CANONICAL_IN_SCOPE = "ishc.canonical_body"
"""Where the strict reader's middleware leaves `ReadBody.canonical` in the request's scope."""


class ReadBody(NamedTuple):
    """A JSON body as the strict reader passes it on."""

    body: bytes
    """As it came, without its BOM, or re-encoded: text in NFC, whole numbers as integers."""
    canonical: bytes | None
    """The same value written one way (`canonical`), when the reader made it on the way."""


def canonical(value: Any) -> bytes | None:
    """A JSON value written one way only (keys sorted, no spacing), so two bodies that mean
    the same are the same bytes; None for integers beyond 64 bits, which orjson does not
    write."""
    try:
        return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)
    except TypeError:
        return None


def read(body: bytes, *, with_canonical: bool = True) -> ReadBody:
    """The body to pass on (and its canonical form if asked, when it comes on the way); raises
    the problem for a body that is not valid JSON (400) or holds a refused value (422)."""
    if body.startswith(BOM):
        body = body[len(BOM) :]
    return _screened(body, with_canonical) or ReadBody(_read_thoroughly(body), None)


def _screened(body: bytes, with_canonical: bool = True) -> ReadBody | None:
    """The common case, on one parse: a body without escaped quotes, refused escapes, control
    or invisible characters, text outside NFC, numbers that are not finite or that need
    reading (an exponent, more than `WHOLE_DIGITS` digits), duplicate keys or a flaw of JSON.
    None for any other: `_read_thoroughly` then reads it, and says what is wrong."""
    if b"\\" in body and (b'\\"' in body or (b"\\u" in body and ESCAPED.search(body) is not None)):
        return None
    # The controls and every byte beyond ASCII: a small part of a body, even with Vietnamese
    # names in it. Valid UTF-8 without its ASCII bytes is still valid UTF-8.
    unusual = body.translate(None, PLAIN_BYTES)
    if unusual:
        try:
            text = body.decode()
        except UnicodeDecodeError:
            return None
        if FORBIDDEN.search(unusual.decode()) is not None:
            return None
        if not unicodedata.is_normalized("NFC", text):
            return None
    rewritten = _whole_numbers(body)
    if rewritten is None:
        return None
    # A parse makes objects by the hundred thousand, none in a cycle: the collector would
    # walk them for nothing.
    with collector_paused() if len(body) > LARGE_BODY else contextlib.nullcontext():
        try:
            value = jiter.from_json(rewritten, allow_inf_nan=False, catch_duplicate_keys=True)
        except ValueError:
            return None
        return ReadBody(rewritten, canonical(value) if with_canonical else None)


def _read_thoroughly(body: bytes) -> bytes:
    try:
        value = jiter.from_json(body, allow_inf_nan=True, catch_duplicate_keys=True)
    except ValueError as exc:
        raise _refusal(str(exc)) from None
    try:
        text = body.decode()
    except UnicodeDecodeError:
        raise BadRequest("The request body is not valid UTF-8.", code=Code.INVALID_UTF8) from None
    whole_numbers = INTEGRAL_NUMBER.search(body) is not None
    if not whole_numbers and not _to_clean(body, text):
        return body
    if whole_numbers:
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
    """The body (without escaped quotes) with its whole numbers written with zero decimals
    (`9.0`) as integers, rewritten in the bytes; None when a number needs reading: written with
    an exponent or with more than `WHOLE_DIGITS` digits."""
    shapes = body.translate(NUMBER_SHAPES)
    for _ in _outside_strings(body, shapes, b"0e"):
        return None
    kept: list[bytes] = []
    copied = 0
    last = len(body)
    for at in _outside_strings(body, shapes, b"0.0"):
        if body[at + 2] != ZERO:
            continue  # a fraction (`7.92`)
        end = at + 3
        while end < last and body[end] == ZERO:
            end += 1
        if end < last and body[end] not in DELIMITERS:
            continue  # a fraction (`7.05`)
        if at >= WHOLE_DIGITS and not shapes[at - WHOLE_DIGITS : at + 1].strip(b"0"):
            return None  # more digits than an integer of 64 bits surely holds
        kept.append(body[copied : at + 1])
        copied = end
    if not kept:
        return body
    kept.append(body[copied:])
    return b"".join(kept)


def _outside_strings(body: bytes, shapes: bytes, needle: bytes) -> Iterator[int]:
    """Where `needle` is in `shapes` (the body's `NUMBER_SHAPES`) outside the body's strings:
    with no escaped quote in the body, a place is inside a string when an odd number of quotes
    precede it."""
    quotes = counted = 0
    at = shapes.find(needle)
    while at >= 0:
        quotes += body.count(b'"', counted, at)
        counted = at
        if not quotes % 2:
            yield at
        at = shapes.find(needle, at + 1)


def _to_clean(body: bytes, text: str) -> bool:
    """Whether a body the screens declined for another reason (an escaped quote, say) may
    hold something to refuse or to normalise: if not, it passes on as it came."""
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
