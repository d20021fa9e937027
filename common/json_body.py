"""The one strict reader of JSON request bodies, ahead of every route.

The standard library (which the framework parses bodies with) reads `NaN`, `Infinity` and
`1e400` as floats, lets the last of two equal keys win, and keeps any character a string
holds. Here a body is refused, each value by its place (`records.17.borrower_name`), when it
has a number that is not finite, a duplicate key, or a control or invisible character in a
text (C0 and C1 controls but tab and line breaks, zero-width and bidirectional marks); text
is passed on in Unicode NFC, so a name typed in NFD is the same name; a UTF-8 byte-order mark
is dropped. Bodies with nothing to clean (nearly all) are passed on as they came.
"""

import json
import math
import re
import unicodedata
from typing import Any

import jiter

from common.problems import BadRequest, FieldError, ValidationFailed, field_error

BOM = b"\xef\xbb\xbf"
FORBIDDEN = re.compile(
    "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2060-\u2064"
    "\u2066-\u2069\ufeff\ud800-\udfff]"
)
"""Controls but tab and line breaks, zero-width and bidirectional marks, and halves of
surrogate pairs (`\\ud800` alone is no character)."""
ESCAPED = re.compile(
    # the refused characters written as escapes, and escaped combining marks (NFD, escaped)
    rb"\\u(?:00[0-1]|007[fF]|00[89]|200[b-fB-F]|202[a-eA-E]|206|[fF][eE][fF][fF]"
    rb"|03[0-6]|1[aA][b-fB-F]|1[dD][c-fC-F]|20[d-fD-F]|[fF][eE]2|[dD][89a-fA-F])"
)
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
        raise BadRequest("The request body is not valid UTF-8.") from None
    if not _suspect(body, text):
        return body
    errors: list[FieldError] = []
    cleaned = _clean(value, "", errors)
    if errors:
        summary = "; ".join(f"{e.field}: {e.reason}" for e in errors[:5])
        raise ValidationFailed(f"Invalid input: {summary}", errors=errors[:MAX_ERRORS])
    # The standard library, not orjson: it also writes integers beyond 64 bits, which the
    # routes then refuse by their own limits.
    return json.dumps(cleaned, ensure_ascii=False, separators=(",", ":")).encode()


def _suspect(body: bytes, text: str) -> bool:
    """Whether the body may hold something to refuse or to normalise (cheap checks first: a
    bank batch of 10,000 records is 3.6 MB). Exponents that overflow (`1e400`) are left to the
    input models, which refuse numbers that are not finite on their fields."""
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
        return BadRequest(f"The request body is not valid JSON: {message}.")
    key, where = duplicate.groups()
    reason = f"appears twice in one object ({where}); send each key once"
    return ValidationFailed(f"{key}: {reason}", errors=[field_error(key, reason)])


def _clean(value: Any, path: str, errors: list[FieldError]) -> Any:
    if isinstance(value, str):
        return _text(value, path, errors)
    if isinstance(value, float) and not math.isfinite(value):
        errors.append(field_error(path or "body", "is not a finite number"))
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


def _at(path: str, step: str | int) -> str:
    return f"{path}.{step}" if path else str(step)


def _text(value: str, path: str, errors: list[FieldError]) -> str:
    found = FORBIDDEN.search(value)
    if found is not None:
        code = f"U+{ord(found.group()):04X}"
        reason = f"holds a control or invisible character ({code})"
        errors.append(field_error(path or "body", reason))
        return value
    return unicodedata.normalize("NFC", value)
