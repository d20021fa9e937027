"""Reading a posting: the request's bytes to each record's figures, or its reasons.

Posted records are validated straight from the request's bytes with pydantic `TypeAdapter`s
over `TypedDict`s (no model objects, no intermediate `json.loads`): a batch of 10,000 records
is one call when it is valid. When it is not, every record is judged on its own so that each
invalid one is reported with every reason, and the valid ones can still be stored.

A batch is first tried against `QUICK_BATCH`, the documented schema with its Python-level
checks (the national ID, the enums) replaced by checks pydantic makes in Rust, which accept
less (an ID written with spaces) and never more. A batch it refuses goes through the
documented `BATCH`, so every answer, and every reason of a refused record, is `BATCH`'s.
"""

import json
from collections import defaultdict
from collections.abc import Collection, Sequence
from datetime import date
from typing import Annotated, Any, Literal, NamedTuple, get_args

import orjson
from pydantic import Field, TypeAdapter, ValidationError, with_config
from pydantic_core import ErrorDetails
from typing_extensions import TypedDict

from common.national_id import WELL_FORMED_PATTERN
from common.problem_codes import Code
from common.problems import BadRequest, FieldError, ValidationFailed, field_error
from common.sealing import keyring
from services.loans.bank.rules import (
    MAX_BATCH_RECORDS,
    BankLoanStatus,
    LoanValues,
    Programme,
    Reasons,
    checked_values,
    record_errors,
)
from services.loans.bank.schemas import (
    BATCH,
    BATCH_CONFIG,
    RECORD,
    RECORD_CONFIG,
    RECORD_FIELD,
    BankLoanBatch,
    BankLoanRecord,
)


def _quick_batch() -> TypeAdapter[Any]:
    """`BankLoanBatch` with checks in Rust only: what it accepts, `BATCH` accepts the same."""
    record_fields = {
        **BankLoanRecord.__annotations__,
        "borrower_national_id": Annotated[str, Field(pattern=f"^{WELL_FORMED_PATTERN}$")],
        "programme": Literal[tuple(programme.value for programme in Programme)],
        "status": Literal[tuple(status.value for status in BankLoanStatus)],
    }
    record = with_config(RECORD_CONFIG)(TypedDict("QuickRecord", record_fields))  # type: ignore[operator]
    _, *limits = get_args(BankLoanBatch.__annotations__["records"])

    @with_config(BATCH_CONFIG)
    class QuickBatch(TypedDict):
        records: Annotated[list[record], *limits]  # type: ignore[valid-type]

    return TypeAdapter(QuickBatch)


QUICK_BATCH = _quick_batch()
FIELDS: dict[str, TypeAdapter[Any]] = {
    name: TypeAdapter(annotation)
    for name, annotation in BankLoanRecord.__annotations__.items()
    if name not in ("loan_number", "borrower_national_id", "borrower_name", "correction")
}
"""The fields that rules across fields look at, each checkable on its own."""


class ValidatedBatch(NamedTuple):
    """A batch's records validated field by field, before the rules across fields."""

    records: Sequence[BankLoanRecord | None]
    """In order; None for a record with field errors."""
    field_errors: dict[int, Reasons]
    raw: list[Any]
    """The records as posted when some have field errors (to find all their reasons)."""
    borrowers: list[str | None]
    """Each record's borrower as the blind index of the citizen ID (None as in `records`)."""

    def borrower_set(self) -> set[str]:
        return {borrower for borrower in self.borrowers if borrower is not None}

    def loan_numbers(self) -> set[str]:
        """Of the records valid field by field."""
        return {record["loan_number"] for record in self.records if record is not None}


class ParsedBatch(NamedTuple):
    """The posted records in order: each valid record's figures, or None with its reasons."""

    postings: list[LoanValues | None]
    reasons: dict[int, Reasons]
    loan_numbers: list[str | None]
    """Validated for the valid records, as posted for the others (to report them too)."""
    corrections: frozenset[int] = frozenset()
    """The records that say they correct a loan number's identity (`correction: true`)."""

    @property
    def rejected(self) -> int:
        return len(self.reasons)

    def rejecting(self, refused: dict[int, Reasons]) -> "ParsedBatch":
        """The same batch with these valid records rejected too, for these reasons."""
        postings = [
            None if index in refused else values for index, values in enumerate(self.postings)
        ]
        reasons = {**self.reasons, **refused}
        return ParsedBatch(postings, reasons, self.loan_numbers, self.corrections)


def _reason(error: ErrorDetails) -> str:
    if error["type"] == "extra_forbidden":
        return "is not a field of a bank loan record"
    return error["msg"]


def _found(field: str, error: ErrorDetails) -> tuple[str, str, str]:
    """A field error as a reason: its field, its message and pydantic's type as its code."""
    return field, _reason(error), error["type"]


def _field_errors(reasons: Reasons, prefix: str = "") -> list[FieldError]:
    return [
        FieldError(location="body", field=prefix + field, reason=reason, code=code)
        for field, reason, code in reasons
    ]


def _refuse_request(errors: list[ErrorDetails]) -> None:
    """Errors outside the records (not JSON, no list, too many records) refuse the request."""
    if any(error["type"] == "json_invalid" for error in errors):
        raise BadRequest("The request body is not valid JSON.", code=Code.MALFORMED_JSON)
    for error in errors:
        if error["loc"] == ("records",) and error["type"] == "too_long":
            given = error.get("ctx", {}).get("actual_length")
            reason = f"a batch holds at most {MAX_BATCH_RECORDS:,} records; this one has {given:,}"
            raise ValidationFailed(
                f"Too many records: {reason}. Split the batch.",
                errors=[field_error("records", reason, code=Code.TOO_MANY_RECORDS)],
                max_records=MAX_BATCH_RECORDS,
            )
    found = _field_errors([_found(_field_name(error["loc"], "body"), error) for error in errors])
    raise ValidationFailed(
        "Invalid input: " + "; ".join(f"{error.field}: {error.reason}" for error in found),
        errors=found,
    )


def _field_name(location: tuple[int | str, ...], whole: str = RECORD_FIELD) -> str:
    return ".".join(str(part) for part in location) or whole


def _valid_fields(raw: dict[str, Any], refused: set[str]) -> dict[str, Any]:
    """The fields of an invalid record that are valid on their own."""
    valid = {}
    for name, adapter in FIELDS.items():
        if name in raw and name not in refused:
            try:
                valid[name] = adapter.validate_json(json.dumps(raw[name]))
            except ValidationError:
                continue
    return valid


def _every_reason(raw: Any, field_errors: Reasons, today: date) -> Reasons:
    """A refused record's field errors and the rules across its valid fields."""
    if not isinstance(raw, dict):
        return field_errors
    refused = {field.split(".", 1)[0] for field, _, _ in field_errors}
    return field_errors + record_errors(_valid_fields(raw, refused), today)


def _as_posted(body: bytes) -> Any:
    """A refused body as posted, to find every reason: the standard library reads the numbers
    orjson refuses (`1e400`, integers beyond 64 bits), which the rules then refuse by field."""
    return json.loads(body)


def _posted_number(raw: Any) -> str | None:
    """The loan number as posted, whole even when too long: the bank finds its record by it."""
    number = raw.get("loan_number") if isinstance(raw, dict) else None
    return number.strip() if isinstance(number, str) else None


def _revalidated(raw: list[Any], refused: Collection[int]) -> list[BankLoanRecord | None]:
    """The records without field errors, validated again in one call (None for the others)."""
    positions = [index for index in range(len(raw)) if index not in refused]
    valid: list[BankLoanRecord | None] = [None] * len(raw)
    if positions:
        body = orjson.dumps({"records": [raw[index] for index in positions]})
        for index, record in zip(positions, BATCH.validate_json(body)["records"], strict=True):
            valid[index] = record
    return valid


def _judged(
    body: bytes,
) -> tuple[Sequence[BankLoanRecord | None], dict[int, Reasons], list[Any]]:
    """The records as the documented schema takes them (None for those with field errors),
    the field errors by record, and the records as posted when some have errors. A request
    that is no sound batch is refused."""
    try:
        return BATCH.validate_json(body)["records"], {}, []
    except ValidationError as exc:
        errors = exc.errors(include_url=False, include_input=False)
    if any(len(error["loc"]) < 2 for error in errors):
        _refuse_request([error for error in errors if len(error["loc"]) < 2])
    field_errors: dict[int, Reasons] = defaultdict(list)
    for error in errors:
        field_errors[int(error["loc"][1])].append(_found(_field_name(error["loc"][2:]), error))
    raw = _as_posted(body)["records"]
    return _revalidated(raw, field_errors.keys()), field_errors, raw


def validated_batch(body: bytes) -> ValidatedBatch:
    """The records of a batch body validated field by field, with their borrowers' blind
    indexes (which the clubs service can be asked about while `parse_batch` goes on); the
    request itself must be sound."""
    try:
        valid: Sequence[BankLoanRecord | None] = QUICK_BATCH.validate_json(body)["records"]
        field_errors: dict[int, Reasons] = {}
        raw: list[Any] = []
    except ValidationError:
        valid, field_errors, raw = _judged(body)
    index = keyring().blind_index
    borrowers = [None if r is None else index(r["borrower_national_id"]) for r in valid]
    return ValidatedBatch(valid, field_errors, raw, borrowers)


def parse_batch(batch: ValidatedBatch, today: date) -> ParsedBatch:
    """Each record of a validated batch judged on its own: its figures, or every reason."""
    valid, raw = batch.records, batch.raw
    reasons: dict[int, Reasons] = {
        index: _every_reason(raw[index], found, today)
        for index, found in batch.field_errors.items()
    }
    postings: list[LoanValues | None] = []
    loan_numbers: list[str | None] = []
    corrections = frozenset(
        index for index, record in enumerate(valid) if record and record.get("correction")
    )
    for index, (record, borrower) in enumerate(zip(valid, batch.borrowers, strict=True)):
        if record is None or borrower is None:
            postings.append(None)
            loan_numbers.append(_posted_number(raw[index]))
            continue
        values = checked_values(record, today, borrower)
        if values is None:
            reasons[index] = record_errors(record, today)
        postings.append(values)
        loan_numbers.append(record["loan_number"])
    return ParsedBatch(postings, reasons, loan_numbers, corrections)


def parse_record(body: bytes, today: date) -> tuple[str, LoanValues, bool]:
    """One posted record's loan number, figures and whether it is a correction; 422 with every
    reason when it is invalid."""
    try:
        record = RECORD.validate_json(body)
        reasons = record_errors(record, today)
    except ValidationError as exc:
        errors = exc.errors(include_url=False, include_input=False)
        if any(error["type"] == "json_invalid" or not error["loc"] for error in errors):
            _refuse_request(errors)
        found = [_found(_field_name(error["loc"]), error) for error in errors]
        reasons = _every_reason(_as_posted(body), found, today)
    if reasons:
        summary = "; ".join(f"{field}: {reason}" for field, reason, _ in reasons[:5])
        raise ValidationFailed(
            f"Invalid bank loan record: {summary}",
            errors=_field_errors(reasons),
        )
    values = checked_values(record, today, keyring().blind_index(record["borrower_national_id"]))
    assert values is not None, "record_errors found no reason"
    return record["loan_number"], values, bool(record.get("correction"))


class _InvalidRecord(TypedDict):
    """An invalid record as the 422 of an atomic batch lists it."""

    index: int
    loan_number: str | None
    errors: list[dict[str, str]]


def refused_batch(parsed: ParsedBatch) -> ValidationFailed:
    """The 422 of an atomic batch: every invalid record with every reason; nothing written."""
    invalid: list[_InvalidRecord] = [
        {
            "index": index,
            "loan_number": parsed.loan_numbers[index],
            "errors": [
                {"field": field, "reason": reason, "code": code} for field, reason, code in reasons
            ],
        }
        for index, reasons in sorted(parsed.reasons.items())
    ]
    return ValidationFailed(
        f"{len(invalid)} of {len(parsed.postings)} records are invalid; nothing was stored "
        "(send mode=partial to store the valid ones).",
        errors=[
            error
            for index, reasons in sorted(parsed.reasons.items())
            for error in _field_errors(reasons, f"records.{index}.")
        ],
        invalid_records=invalid,
    )


# --- answers ---------------------------------------------------------------------------------
