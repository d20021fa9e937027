"""Every reason the platform can give for an error, as a code a program can test.

A problem answer (RFC 9457) says what went wrong in prose (`detail`, and each field error's
`reason`), which may be reworded; its `code`, and each field error's `code`, say it as a
snake_case word that never changes once published. A new reason gets a new code; a code is
never renamed, reused for another reason or removed. Each code belongs to one problem type
(the `type` URI, `/problems/<slug>`, whose page on the gateway lists its codes) and so to one
HTTP status.

A problem that names fields (`errors`) carries its specific reasons on each entry; its own
code is then the type's (`validation_error`). Field errors of the input's shape carry
pydantic's error type (`missing`, `string_too_long`, `greater_than_equal`, `enum`, ...), as
stable as these, and not repeated here.

The gateway serves this catalogue at `/problems` and puts it in its API document
(`x-problem-codes`).
"""

from dataclasses import dataclass
from enum import StrEnum
from typing import Any, get_args

from pydantic_core.core_schema import ErrorType

PYDANTIC_ERROR_TYPES = frozenset(get_args(ErrorType))
"""The codes of field errors that pydantic itself finds (its error types)."""
PYDANTIC_ERRORS_PAGE = "https://docs.pydantic.dev/latest/errors/validation_errors/"


@dataclass(frozen=True)
class ProblemType:
    """One problem type: the `type` URI's slug, its title and status, and what it means."""

    slug: str
    title: str
    status: int
    meaning: str


class Code(StrEnum):
    """The codes, by problem type; each is described in `CATALOGUE`."""

    INTERNAL_ERROR = "internal_error"

    BAD_REQUEST = "bad_request"
    MALFORMED_JSON = "malformed_json"
    INVALID_UTF8 = "invalid_utf8"
    MALFORMED_GZIP = "malformed_gzip"
    MALFORMED_BODY = "malformed_body"
    DOT_SEGMENTS = "dot_segments"
    IDEMPOTENCY_KEY_REQUIRED = "idempotency_key_required"
    UNSUPPORTED_GRANT_TYPE = "unsupported_grant_type"
    INVALID_GRANT = "invalid_grant"
    REFRESH_TOKEN_REUSED = "refresh_token_reused"
    PASSWORD_GRANT_DISABLED = "password_grant_disabled"
    UNKNOWN_APP_CLIENT = "unknown_app_client"

    UNAUTHORIZED = "unauthorized"
    TOKEN_MISSING = "token_missing"
    TOKEN_SCHEME_UNSUPPORTED = "token_scheme_unsupported"
    TOKEN_EXPIRED = "token_expired"
    TOKEN_INVALID = "token_invalid"
    TOKEN_REVOKED = "token_revoked"
    WRONG_CREDENTIALS = "wrong_credentials"
    WRONG_CLIENT_CREDENTIALS = "wrong_client_credentials"
    MALFORMED_BASIC_CREDENTIALS = "malformed_basic_credentials"

    FORBIDDEN = "forbidden"
    ROLE_FORBIDDEN = "role_forbidden"
    SERVICE_TOKEN_READ_ONLY = "service_token_read_only"
    PERSONAL_DATA_FORBIDDEN = "personal_data_forbidden"
    BANK_CODE_MISSING = "bank_code_missing"
    FUNDER_MISSING = "funder_missing"

    NOT_FOUND = "not_found"

    METHOD_NOT_ALLOWED = "method_not_allowed"

    CONFLICT = "conflict"
    ALREADY_EXISTS = "already_exists"
    LOAN_IDENTITY_CHANGED = "loan_identity_changed"
    BANK_LOAN_RETRACTED = "bank_loan_retracted"
    BANK_LOAN_NOT_RETRACTED = "bank_loan_not_retracted"
    DEAD_LETTER_REPLAYED = "dead_letter_replayed"
    DEAD_LETTER_STILL_FAILING = "dead_letter_still_failing"
    COMMITMENT_WITHDRAWN = "commitment_withdrawn"
    COMMITMENT_RECEIVED = "commitment_received"
    CLUB_DISSOLVED = "club_dissolved"
    CLUB_STATUS_TRANSITION = "club_status_transition"
    NO_DEFAULT_QUOTA_PROFILE = "no_default_quota_profile"
    DEFAULT_QUOTA_PROFILE_REQUIRED = "default_quota_profile_required"
    QUOTA_PROFILE_IN_USE = "quota_profile_in_use"
    MEETING_SAME_DAY = "meeting_same_day"
    ALREADY_MEMBER = "already_member"
    SECOND_CHAIR = "second_chair"
    MEMBER_LEFT = "member_left"
    MEMBER_ERASED = "member_erased"
    LOANS_OUTSTANDING = "loans_outstanding"
    CONSENT_ALREADY_GIVEN = "consent_already_given"
    CONSENT_ALREADY_WITHDRAWN = "consent_already_withdrawn"
    MEMBERSHIP_CONSENT_IN_USE = "membership_consent_in_use"
    FUND_OVERDRAFT = "fund_overdraft"
    WRONG_FUND_KIND = "wrong_fund_kind"
    ALLOCATION_MISMATCH = "allocation_mismatch"
    ENTRY_IS_REVERSAL = "entry_is_reversal"
    ENTRY_OF_LOAN = "entry_of_loan"
    ENTRY_ALREADY_REVERSED = "entry_already_reversed"
    NO_LENDING_FUND = "no_lending_fund"
    NO_LOAN_RULES = "no_loan_rules"
    LOAN_STATUS_FORBIDS = "loan_status_forbids"
    BEFORE_LAST_REPAYMENT = "before_last_repayment"
    PLAN_APPROVED_IS_FIXED = "plan_approved_is_fixed"
    PLAN_WITHOUT_LINES = "plan_without_lines"
    DRAFT_REVISION_EXISTS = "draft_revision_exists"
    PLAN_NOT_APPROVED = "plan_not_approved"
    PLAN_SUPERSEDED = "plan_superseded"
    ALLOCATION_EXCEEDS_RECEIPTS = "allocation_exceeds_receipts"
    ALLOCATION_ALREADY_RECORDED = "allocation_already_recorded"
    SPENDING_WITHDRAWN = "spending_withdrawn"
    REPORT_ALREADY_SENT = "report_already_sent"
    LAST_ADMIN = "last_admin"
    SECRET_SHOWN_ONCE = "secret_shown_once"
    SERVICE_CLIENT_SECRET = "service_client_secret"

    PRECONDITION_FAILED = "precondition_failed"
    ETAG_STALE = "etag_stale"
    CONCURRENT_CHANGE = "concurrent_change"

    PAYLOAD_TOO_LARGE = "payload_too_large"
    UNPACKED_BODY_TOO_LARGE = "unpacked_body_too_large"

    UNSUPPORTED_MEDIA_TYPE = "unsupported_media_type"
    UNSUPPORTED_CONTENT_ENCODING = "unsupported_content_encoding"
    UNSUPPORTED_FILE_TYPE = "unsupported_file_type"

    VALIDATION_ERROR = "validation_error"
    INVALID = "invalid"
    MISSING = "missing"
    UNKNOWN_PARAMETER = "unknown_parameter"
    NULL_NOT_ALLOWED = "null_not_allowed"
    DUPLICATE_KEY = "duplicate_key"
    NOT_FINITE_NUMBER = "not_finite_number"
    FORBIDDEN_CHARACTER = "forbidden_character"
    OUT_OF_RANGE = "out_of_range"
    CONSTRAINT_VIOLATED = "constraint_violated"
    UNKNOWN_REFERENCE = "unknown_reference"
    RETIRED_REFERENCE = "retired_reference"
    OUTSIDE_SCOPE = "outside_scope"
    MUTUALLY_EXCLUSIVE = "mutually_exclusive"
    REQUIRED_WITH = "required_with"
    NOT_ALLOWED_WITH = "not_allowed_with"
    INCONSISTENT = "inconsistent"
    SUM_MISMATCH = "sum_mismatch"
    DUPLICATE_VALUE = "duplicate_value"
    DATE_FORMAT = "date_format"
    DATE_IN_FUTURE = "date_in_future"
    DATE_TOO_EARLY = "date_too_early"
    DATE_OUT_OF_ORDER = "date_out_of_order"
    PERIOD_TOO_LONG = "period_too_long"
    INVALID_NATIONAL_ID = "invalid_national_id"
    NATIONAL_ID_DISAGREES = "national_id_disagrees"
    INVALID_NAME = "invalid_name"
    INVALID_PHONE = "invalid_phone"
    UNRECOGNISED_ADDRESS = "unrecognised_address"
    MEMBERSHIP_CONSENT_REQUIRED = "membership_consent_required"
    MEMBERSHIP_OVERLAP = "membership_overlap"
    NOT_ACTIVE_MEMBER = "not_active_member"
    ATTENDANCE_OUTSIDE_MEMBERSHIP = "attendance_outside_membership"
    HEALTH_CHECKS_ABOVE_ATTENDANCE = "health_checks_above_attendance"
    ABOVE_LOAN_RULES = "above_loan_rules"
    TERM_NOT_WHOLE_QUARTERS = "term_not_whole_quarters"
    ABOVE_AMOUNT_OWED = "above_amount_owed"
    ABOVE_PROGRAMME_LIMIT = "above_programme_limit"
    TOO_MANY_DECIMALS = "too_many_decimals"
    TOO_MANY_RECORDS = "too_many_records"
    ROLE_NOT_FOR_PEOPLE = "role_not_for_people"
    EVENT_TYPE_NOT_ALLOWED = "event_type_not_allowed"
    INVALID_URL = "invalid_url"
    HTTPS_REQUIRED = "https_required"
    PRIVATE_ADDRESS = "private_address"
    UNREADABLE_FILE = "unreadable_file"
    TOO_MANY_ROWS = "too_many_rows"
    UNKNOWN_COLUMN = "unknown_column"
    DUPLICATE_COLUMN = "duplicate_column"
    MISSING_COLUMN = "missing_column"
    UNIT_MISMATCH = "unit_mismatch"
    INVALID_CURSOR = "invalid_cursor"
    SOURCE_NOT_IN_LINE = "source_not_in_line"
    LINE_FOR_ALLOCATIONS = "line_for_allocations"
    CURSOR_ROW_GONE = "cursor_row_gone"
    INVALID_SYNC_TOKEN = "invalid_sync_token"

    IDEMPOTENCY_KEY_REUSED = "idempotency_key_reused"

    GONE = "gone"
    SYNC_TOKEN_EXPIRED = "sync_token_expired"

    TOO_MANY_REQUESTS = "too_many_requests"
    TOO_MANY_FAILED_LOGINS = "too_many_failed_logins"
    RATE_LIMITED = "rate_limited"

    SERVICE_UNAVAILABLE = "service_unavailable"
    SERVICE_UNREACHABLE = "service_unreachable"
    SERVICE_ERROR = "service_error"
    SERVICE_TOKEN_UNAVAILABLE = "service_token_unavailable"
    SIGNING_KEYS_UNAVAILABLE = "signing_keys_unavailable"
    DATABASE_UNREACHABLE = "database_unreachable"
    STATEMENT_TIMEOUT = "statement_timeout"
    NOT_READY = "not_ready"

    DATABASE_BUSY = "database_busy"

    GATEWAY_TIMEOUT = "gateway_timeout"


@dataclass(frozen=True)
class CodeInfo:
    """What one code means and what a client should do."""

    type: ProblemType
    description: str

    @property
    def status(self) -> int:
        return self.type.status


def _of(kind: ProblemType, described: dict[Code, str]) -> dict[Code, CodeInfo]:
    return {code: CodeInfo(kind, description) for code, description in described.items()}


INTERNAL_ERROR = ProblemType(
    "internal-error", "Internal Server Error", 500,
    "Something failed that should not have; the answer and the log carry the request id.",
)  # fmt: skip
BAD_REQUEST = ProblemType(
    "bad-request", "Bad Request", 400,
    "The request cannot be read at all: its body is not what its Content-Type says, or it "
    "asks for something the protocol does not know.",
)  # fmt: skip
UNAUTHORIZED = ProblemType(
    "unauthorized", "Unauthorized", 401,
    "No valid access token came with the request, or a login failed. The answer carries "
    "WWW-Authenticate; get a token at POST /auth/token.",
)  # fmt: skip
FORBIDDEN = ProblemType(
    "forbidden", "Forbidden", 403,
    "The token is valid but its role (or the account's settings) may not do this. Objects "
    "outside the caller's scope answer 404 instead, as if they did not exist.",
)  # fmt: skip
NOT_FOUND = ProblemType(
    "not-found", "Not Found", 404,
    "No such object, or none the caller may see: both answer alike, so an answer never tells "
    "that an object outside the caller's scope exists.",
)  # fmt: skip
METHOD_NOT_ALLOWED = ProblemType(
    "method-not-allowed", "Method Not Allowed", 405,
    "The path exists but not with this method; the Allow header lists the methods it takes.",
)  # fmt: skip
CONFLICT = ProblemType(
    "conflict", "Conflict", 409,
    "The request is well formed but the stored data, as it is now, does not allow it. Nothing "
    "was changed; the code says which rule stands in the way.",
)  # fmt: skip
PRECONDITION_FAILED = ProblemType(
    "precondition-failed", "Precondition Failed", 412,
    "The object changed since the ETag sent in If-Match was read; nothing was changed.",
)  # fmt: skip
PAYLOAD_TOO_LARGE = ProblemType(
    "payload-too-large", "Content Too Large", 413,
    "The request body is larger than the service takes (<PREFIX>_MAX_BODY_BYTES).",
)  # fmt: skip
UNSUPPORTED_MEDIA_TYPE = ProblemType(
    "unsupported-media-type", "Unsupported Media Type", 415,
    "The body comes in a type or an encoding that is not read here.",
)  # fmt: skip
VALIDATION_ERROR = ProblemType(
    "validation-error", "Unprocessable Content", 422,
    "The input breaks a rule. The errors list names each refused field (location, field) with "
    "its reason and code; field errors of the input's shape carry pydantic's error type as "
    f"their code ({PYDANTIC_ERRORS_PAGE}). Correct the input; sending it again unchanged "
    "fails again.",
)  # fmt: skip
IDEMPOTENCY_KEY_REUSED = ProblemType(
    "idempotency-key-reused", "Idempotency-Key Reused", 422,
    "The Idempotency-Key was used before for another request; first_request says what became "
    "of that one.",
)  # fmt: skip
GONE = ProblemType(
    "gone", "Gone", 410,
    "What the request refers to is no longer kept; the detail says what to do instead.",
)  # fmt: skip
TOO_MANY_REQUESTS = ProblemType(
    "too-many-requests", "Too Many Requests", 429,
    "Too many attempts; wait the Retry-After seconds before the next.",
)  # fmt: skip
SERVICE_UNAVAILABLE = ProblemType(
    "service-unavailable", "Service Unavailable", 503,
    "A service, or something it needs, cannot answer now; nothing was changed. Retry later.",
)  # fmt: skip
DATABASE_BUSY = ProblemType(
    "database-busy", "Database Busy", 503,
    "The database is up but busy with other changes to the same records; nothing was changed. "
    "Retry after the Retry-After seconds.",
)  # fmt: skip
GATEWAY_TIMEOUT = ProblemType(
    "gateway-timeout", "Gateway Timeout", 504,
    "A service did not answer within GATEWAY_UPSTREAM_TIMEOUT_SECONDS. A change may or may not "
    "have been made: retry with the same Idempotency-Key, or read before writing again.",
)  # fmt: skip

CATALOGUE: dict[Code, CodeInfo] = {
    **_of(INTERNAL_ERROR, {
        Code.INTERNAL_ERROR: "An unexpected error; report the request id in the detail to the "
        "platform's maintainers.",
    }),
    **_of(BAD_REQUEST, {
        Code.BAD_REQUEST: "The request cannot be read; the detail says why.",
        Code.MALFORMED_JSON: "The body is not JSON; the detail gives the line and column.",
        Code.INVALID_UTF8: "The body is not UTF-8 text; send JSON encoded in UTF-8.",
        Code.MALFORMED_GZIP: "The body sent with Content-Encoding: gzip is not gzip, or ends "
        "too early; send the whole compressed body, or send it uncompressed.",
        Code.MALFORMED_BODY: "The form or multipart body cannot be parsed; check its encoding "
        "against its Content-Type.",
        Code.IDEMPOTENCY_KEY_REQUIRED: "The operation requires an Idempotency-Key header (as "
        "the IETF's Idempotency-Key draft answers its absence): send a new unique key with each "
        "new request, and the same key with its retries.",
        Code.DOT_SEGMENTS: "The path has a '.' or '..' segment (also written %2e); send the path "
        "it stands for.",
        Code.UNSUPPORTED_GRANT_TYPE: "POST /auth/token takes grant_type authorization_code, "
        "refresh_token, client_credentials or (legacy) password only (OAuth 2.0's "
        "unsupported_grant_type).",
        Code.INVALID_GRANT: "The authorization code or refresh token is unknown, expired, used "
        "already, revoked, or was issued to another client or redirect URI, or the "
        "code_verifier does not match the code's challenge (OAuth 2.0's invalid_grant): log in "
        "again through /oauth/authorize.",
        Code.REFRESH_TOKEN_REUSED: "A refresh token that was already exchanged came again: "
        "someone may hold a copy, so every token of its login is revoked (OAuth 2.0's "
        "invalid_grant). Log in again through /oauth/authorize.",
        Code.PASSWORD_GRANT_DISABLED: "The password grant is turned off here "
        "(GATEWAY_PASSWORD_GRANT): log in through /oauth/authorize with the authorization code "
        "and PKCE (OAuth 2.0's unsupported_grant_type).",
    }),
    **_of(UNAUTHORIZED, {
        Code.UNAUTHORIZED: "The request is not authenticated.",
        Code.TOKEN_MISSING: "No Authorization header: send Authorization: Bearer <token>.",
        Code.TOKEN_SCHEME_UNSUPPORTED: "The Authorization header does not use the Bearer "
        "scheme; send Authorization: Bearer <token>.",
        Code.TOKEN_EXPIRED: "The token has expired; get a new one at POST /auth/token and "
        "send the request again.",
        Code.TOKEN_INVALID: "The token is malformed, not RS256, signed by an unknown key, or "
        "its claims are wrong; get a new token at POST /auth/token.",
        Code.TOKEN_REVOKED: "The account the token was issued to has been disabled: its tokens "
        "stop at once, before they expire. An administrator must enable it again.",
        Code.UNKNOWN_APP_CLIENT: "No active app client has this client_id (OAuth 2.0's "
        "invalid_client): an administrator registers apps at /api/v1/app-clients.",
        Code.WRONG_CREDENTIALS: "Wrong username or password, or a disabled account "
        "(OAuth 2.0's invalid_grant); repeated failures are slowed down.",
        Code.WRONG_CLIENT_CREDENTIALS: "Wrong client id or secret, or a disabled API client "
        "(OAuth 2.0's invalid_client); repeated failures are slowed down.",
        Code.MALFORMED_BASIC_CREDENTIALS: "The HTTP Basic credentials are not base64 of "
        "client_id:client_secret.",
    }),
    **_of(FORBIDDEN, {
        Code.FORBIDDEN: "The caller may not do this.",
        Code.ROLE_FORBIDDEN: "The token's role may not use this operation or path; ask an "
        "admin for an account with the right role.",
        Code.SERVICE_TOKEN_READ_ONLY: "Tokens of the platform's own services read; they "
        "change nothing.",
        Code.PERSONAL_DATA_FORBIDDEN: "The role may not see members' personal data.",
        Code.BANK_CODE_MISSING: "The bank's API client has no bank_code; ask an admin to set it.",
        Code.FUNDER_MISSING: "The partner's token names no funder; ask an admin to bind the "
        "account to its funder (also given as the code of a field error on funder_id).",
    }),
    **_of(NOT_FOUND, {
        Code.NOT_FOUND: "No such object or path, or none the caller may see; check the id and "
        "the token's scope.",
    }),
    **_of(METHOD_NOT_ALLOWED, {
        Code.METHOD_NOT_ALLOWED: "Use one of the methods the Allow header lists.",
    }),
    **_of(CONFLICT, {
        Code.CONFLICT: "The stored data does not allow this request.",
        Code.COMMITMENT_WITHDRAWN: "The pledge was withdrawn: it takes no receipt and is not "
        "withdrawn twice.",
        Code.COMMITMENT_RECEIVED: "Money was received against the pledge: it is kept; record "
        "the facts as they are instead of withdrawing it.",
        Code.LOAN_IDENTITY_CHANGED: "A posting names a known loan number with another "
        "borrower, disbursement day or programme (or a batch names one loan number with two): "
        "a loan number keeps its identity. If the earlier posting was wrong, post the record "
        "again with correction: true; the earlier figures stay in the loan's history.",
        Code.BANK_LOAN_RETRACTED: "The bank retracted this loan record: it takes no posting "
        "and is not retracted twice. Reinstate it first (POST /api/v1/bank-loans/{id}/"
        "reinstatement) if the retraction was the mistake.",
        Code.BANK_LOAN_NOT_RETRACTED: "The loan record is not retracted: there is nothing to "
        "reinstate.",
        Code.DEAD_LETTER_REPLAYED: "The event set aside was applied already (its replay says "
        "when and by whom): it is not applied twice.",
        Code.DEAD_LETTER_STILL_FAILING: "Applying the event set aside failed again, and nothing "
        "was written; the detail says how. Fix the cause (often data the event refers to) and "
        "replay it again.",
        Code.ALREADY_EXISTS: "Another record already has this unique value (a code, a name, a "
        "username, a client id, a plan for the same province, programme and period); the "
        "errors name the fields. Read the existing record, or choose another value.",
        Code.CLUB_DISSOLVED: "The club is dissolved: it keeps its history but takes no new "
        "members, activities, meetings, funds, loans or allocations (also given as the code "
        "of a field error on club_id).",
        Code.CLUB_STATUS_TRANSITION: "A club's status cannot change that way; the detail lists "
        "the statuses it may take next.",
        Code.NO_DEFAULT_QUOTA_PROFILE: "No quota profile is the default; name one with "
        "quota_profile_id.",
        Code.DEFAULT_QUOTA_PROFILE_REQUIRED: "One quota profile is always the default: make "
        "another profile the default before unsetting or deleting this one.",
        Code.QUOTA_PROFILE_IN_USE: "Clubs use this quota profile; move them to another before "
        "deleting it.",
        Code.MEETING_SAME_DAY: "The club already has a meeting that day (meeting_id); a club "
        "meets at most once a day.",
        Code.ALREADY_MEMBER: "The person is already an active member (of this club or another "
        "club); record that they left before they join again.",
        Code.SECOND_CHAIR: "The club already has a chair (chair_member_id); change that "
        "member's board role first.",
        Code.MEMBER_LEFT: "The membership has ended: it takes no changes, no new consent and "
        "no second leaving; a person who comes back joins as a new membership.",
        Code.MEMBER_ERASED: "The person's personal data was erased; the record no longer "
        "changes.",
        Code.LOANS_OUTSTANDING: "The person has unsettled loans (loan_ids); erase the data "
        "once they are repaid, rejected or written off.",
        Code.CONSENT_ALREADY_GIVEN: "The member already holds a current consent for this "
        "purpose (consent_id).",
        Code.CONSENT_ALREADY_WITHDRAWN: "The consent was withdrawn already.",
        Code.MEMBERSHIP_CONSENT_IN_USE: "The consent to membership is the basis for keeping a "
        "current member's record; record that the member left before withdrawing it.",
        Code.FUND_OVERDRAFT: "The fund's cash would fall below zero on that day or a later "
        "one (balance, required, on); record the money coming in first, or use a later date.",
        Code.WRONG_FUND_KIND: "This fund is of the wrong kind: loans come from the "
        "income_generation fund, expenses from the activity fund.",
        Code.ALLOCATION_MISMATCH: "The funder's allocation was recorded already with another "
        "fund, club or amount; the same allocation is recorded once, as it was allocated.",
        Code.ENTRY_IS_REVERSAL: "A reversal is not reversed; record a new entry instead.",
        Code.ENTRY_OF_LOAN: "The entry belongs to a loan, whose schedule and repayments it "
        "would no longer match; it cannot be reversed.",
        Code.ENTRY_ALREADY_REVERSED: "The entry is reversed already; an entry is reversed once.",
        Code.NO_LENDING_FUND: "The club has no income_generation fund to lend from; open one "
        "first.",
        Code.NO_LOAN_RULES: "The club's income_generation fund has no loan rules yet; set "
        "them first.",
        Code.LOAN_STATUS_FORBIDS: "The loan's status does not allow this step (loan_status); "
        "read the loan and follow its status.",
        Code.BEFORE_LAST_REPAYMENT: "The date is before the loan's last repayment "
        "(last_paid_on); use that day or a later one.",
        Code.PLAN_APPROVED_IS_FIXED: "An approved plan does not change; create a revision and "
        "change that.",
        Code.PLAN_WITHOUT_LINES: "A plan without budget lines cannot be approved; add its lines.",
        Code.DRAFT_REVISION_EXISTS: "The plan already has a draft revision (plan_id); change "
        "that one.",
        Code.PLAN_NOT_APPROVED: "The plan is a draft; money is recorded against approved plans "
        "only.",
        Code.PLAN_SUPERSEDED: "The plan has a newer approved version (current_plan_id); record "
        "money against its lines.",
        Code.ALLOCATION_EXCEEDS_RECEIPTS: "The funder's money received for the plan does not "
        "cover this allocation (received, allocated, available, requested).",
        Code.ALLOCATION_ALREADY_RECORDED: "The allocation was recorded in the club's fund "
        "already; there is nothing to send again.",
        Code.SPENDING_WITHDRAWN: "The spending was withdrawn already (withdrawn_at says when); "
        "it counts nowhere; record it again if it was withdrawn by mistake.",
        Code.REPORT_ALREADY_SENT: "The reporting duty's report for this period was sent "
        "already and stays as it was sent (report_id names it); read it instead.",
        Code.LAST_ADMIN: "This is the last active admin; create another admin before "
        "demoting or disabling it.",
        Code.SECRET_SHOWN_ONCE: "A retry of a request that issued a secret: it was carried "
        "out, and the secret was shown once in its answer. Replace a lost secret with "
        "POST /api/v1/clients/{client_id}/secret.",
        Code.SERVICE_CLIENT_SECRET: "The platform's own service clients take their secret "
        "from the gateway's settings, not from the API.",
    }),
    **_of(PRECONDITION_FAILED, {
        Code.PRECONDITION_FAILED: "A precondition of the request does not hold.",
        Code.ETAG_STALE: "The object changed since this ETag was read; read it again and "
        "send the change with its new ETag.",
        Code.CONCURRENT_CHANGE: "Another request changed the object at the same moment; read "
        "it again and send the change with its new ETag.",
    }),
    **_of(PAYLOAD_TOO_LARGE, {
        Code.PAYLOAD_TOO_LARGE: "The body is over the limit; send less (split a batch).",
        Code.UNPACKED_BODY_TOO_LARGE: "The gzip body unpacks to more than the limit; send "
        "less (split a batch).",
    }),
    **_of(UNSUPPORTED_MEDIA_TYPE, {
        Code.UNSUPPORTED_MEDIA_TYPE: "The body's Content-Type is not read here; send JSON, a "
        "form, a multipart upload, CSV or XLSX.",
        Code.UNSUPPORTED_CONTENT_ENCODING: "The body's Content-Encoding is not read here; "
        "send it plain or gzipped.",
        Code.UNSUPPORTED_FILE_TYPE: "The uploaded file is not a kind that is read (an old "
        ".xls workbook, another format); send a .csv or .xlsx file.",
    }),
    **_of(VALIDATION_ERROR, {
        Code.VALIDATION_ERROR: "The input breaks a rule; each entry of errors says which and "
        "why.",
        Code.INVALID: "The value is refused; the reason says why.",
        Code.MISSING: "A value is required here (in this case, or for this grant) and was not "
        "given.",
        Code.UNKNOWN_PARAMETER: "The operation takes no query parameter of this name (a typo?); "
        "nothing was answered as if it had not been sent.",
        Code.NULL_NOT_ALLOWED: "A partial update sets this field to null, which it cannot be; "
        "leave the field out to keep it as it is.",
        Code.DUPLICATE_KEY: "A key appears twice in one JSON object; send each key once.",
        Code.NOT_FINITE_NUMBER: "NaN, Infinity or a number beyond a double is not a number "
        "here.",
        Code.FORBIDDEN_CHARACTER: "The text holds a control or invisible character (the "
        "reason names it); remove it.",
        Code.OUT_OF_RANGE: "A value is out of the range the database holds.",
        Code.CONSTRAINT_VIOLATED: "The change breaks a rule of the stored data.",
        Code.UNKNOWN_REFERENCE: "The field refers to something that does not exist or that "
        "the caller may not see (no club 12, no province 99, a record still referred to).",
        Code.RETIRED_REFERENCE: "The field names an item an administrator retired from a "
        "reference list (`/api/v1/reference/{kind}`): records made before keep it, new ones "
        "take another item of the list.",
        Code.OUTSIDE_SCOPE: "The value lies outside what the caller's account covers "
        "(provinces, communes, its own funder or club).",
        Code.MUTUALLY_EXCLUSIVE: "Two inputs cannot be given together; give one of them.",
        Code.REQUIRED_WITH: "Another field's value makes this field required (a loan in kind "
        "needs its description; a role needs its scope).",
        Code.NOT_ALLOWED_WITH: "Another field's value rules this field out (a description for "
        "a cash loan; a scope the role does not use).",
        Code.INCONSISTENT: "The value disagrees with another field or with the stored data "
        "(a minimum above its maximum, a commune of another province).",
        Code.SUM_MISMATCH: "The parts do not add up to the total given.",
        Code.DUPLICATE_VALUE: "A list names the same thing more than once.",
        Code.SOURCE_NOT_IN_LINE: "A partner pledges only to plan lines that expect money from "
        "its funder's source (the line's amounts by source); choose such a line. Spending on a "
        "line names one of the sources the line expects.",
        Code.LINE_FOR_ALLOCATIONS: "The plan line is capital for clubs' funds: its money is "
        "allocated to the clubs (POST /api/v1/allocations), not recorded as spending.",
        Code.INVALID_CURSOR: "The cursor is not one this list gave in this sort order: pass "
        "the previous page's next_cursor with the same filters and sort.",
        Code.CURSOR_ROW_GONE: "The row the cursor follows has left the list (a list sorted in "
        "memory cannot place it any more): read the list again from the start.",
        Code.INVALID_SYNC_TOKEN: "changed_since is not a sync token: pass the sync_token an "
        "earlier read of this list answered.",
        Code.DATE_FORMAT: "A date is written YYYY-MM-DD (2026-12-07): not a number of seconds, "
        "not a date and time.",
        Code.DATE_IN_FUTURE: "The date is after today in Vietnam (Asia/Ho_Chi_Minh).",
        Code.DATE_TOO_EARLY: "The date is before the earliest the platform records.",
        Code.DATE_OUT_OF_ORDER: "The date is before a date it must follow (a period's from "
        "after its to, a payment before the disbursement, leaving before joining).",
        Code.PERIOD_TOO_LONG: "The period is longer than allowed.",
        Code.INVALID_NATIONAL_ID: "Not a well-formed 12-digit citizen ID (CCCD).",
        Code.NATIONAL_ID_DISAGREES: "The citizen ID's digits for gender and birth year "
        "disagree with the member's gender or birth year.",
        Code.INVALID_NAME: "Not a person's name: letters, spaces, dots, hyphens, apostrophes.",
        Code.INVALID_PHONE: "Not a Vietnamese phone number.",
        Code.UNRECOGNISED_ADDRESS: "No province can be recognised in the address.",
        Code.MEMBERSHIP_CONSENT_REQUIRED: "A new member's consents must include the consent to "
        "membership, the basis for keeping the record.",
        Code.MEMBERSHIP_OVERLAP: "The membership would overlap the person's earlier one.",
        Code.NOT_ACTIVE_MEMBER: "The person is not an active member of this club (on that "
        "day).",
        Code.ATTENDANCE_OUTSIDE_MEMBERSHIP: "The member attended a meeting that would fall "
        "outside the membership's dates.",
        Code.HEALTH_CHECKS_ABOVE_ATTENDANCE: "More health checks than members who attended.",
        Code.ABOVE_LOAN_RULES: "Above what the club's loan rules allow (amount, term or rate).",
        Code.TERM_NOT_WHOLE_QUARTERS: "Quarterly repayment needs a term in whole quarters "
        "(a multiple of 3 months).",
        Code.ABOVE_AMOUNT_OWED: "The repayment is more than the loan owes on that day (owed).",
        Code.ABOVE_PROGRAMME_LIMIT: "Above what the bank's lending programme allows (the "
        "principal of a loan to a poor household).",
        Code.TOO_MANY_DECIMALS: "The number has more decimals than allowed.",
        Code.TOO_MANY_RECORDS: "The batch holds more records than one request takes "
        "(max_records); split it.",
        Code.ROLE_NOT_FOR_PEOPLE: "The service role is for API clients only, not for people.",
        Code.EVENT_TYPE_NOT_ALLOWED: "The caller's role may not receive these event types.",
        Code.INVALID_URL: "Not an http or https address with a host, or one holding "
        "credentials.",
        Code.HTTPS_REQUIRED: "The address must be https.",
        Code.PRIVATE_ADDRESS: "The address resolves to a private, loopback or otherwise "
        "non-public network address.",
        Code.UNREADABLE_FILE: "The uploaded file is empty or cannot be read as its kind.",
        Code.TOO_MANY_ROWS: "The uploaded file holds more rows than one upload takes.",
        Code.UNKNOWN_COLUMN: "A column of the uploaded file is not one that is read.",
        Code.DUPLICATE_COLUMN: "Two columns of the uploaded file give the same thing.",
        Code.MISSING_COLUMN: "The uploaded file lacks a column it needs.",
        Code.UNIT_MISMATCH: "The file states another unit than the one its amounts were to be "
        "read in.",
    }),
    **_of(IDEMPOTENCY_KEY_REUSED, {
        Code.IDEMPOTENCY_KEY_REUSED: "Use a new Idempotency-Key for a new request; the same "
        "request with this key returns the first answer.",
    }),
    **_of(GONE, {
        Code.GONE: "What the request refers to is no longer kept.",
        Code.SYNC_TOKEN_EXPIRED: "The sync token is older than what is kept of deletions: "
        "read the list in full (without changed_since) and sync from its new sync_token.",
    }),
    **_of(TOO_MANY_REQUESTS, {
        Code.TOO_MANY_REQUESTS: "Wait the Retry-After seconds.",
        Code.RATE_LIMITED: "More calls a minute than the role's fair use allows "
        "(GATEWAY_RATE_LIMITS; the RateLimit headers of every answer say what is left): wait "
        "the Retry-After seconds.",
        Code.TOO_MANY_FAILED_LOGINS: "Too many failed logins for this username or client id; "
        "wait the Retry-After seconds.",
    }),
    **_of(SERVICE_UNAVAILABLE, {
        Code.SERVICE_UNAVAILABLE: "The service cannot answer now; retry later.",
        Code.SERVICE_UNREACHABLE: "A service the request needs is not reachable; retry "
        "later.",
        Code.SERVICE_ERROR: "A service the request needs answered with an error; retry later, "
        "and report it with the request id if it persists.",
        Code.SERVICE_TOKEN_UNAVAILABLE: "A service cannot get (or was refused) its own token "
        "from the gateway; retry later.",
        Code.SIGNING_KEYS_UNAVAILABLE: "The service cannot fetch the gateway's token signing "
        "keys; retry later.",
        Code.DATABASE_UNREACHABLE: "The service's database is not reachable; retry later.",
        Code.STATEMENT_TIMEOUT: "The figures took longer than the service allows; ask for a "
        "smaller area or period.",
        Code.NOT_READY: "A component the service needs is down (components says which).",
    }),
    **_of(DATABASE_BUSY, {
        Code.DATABASE_BUSY: "Lock contention outlasted the wait; retry after Retry-After "
        "(with the same Idempotency-Key, if any).",
    }),
    **_of(GATEWAY_TIMEOUT, {
        Code.GATEWAY_TIMEOUT: "The service did not answer in time; retry with the same "
        "Idempotency-Key, or read before writing again.",
    }),
}  # fmt: skip
TYPES: dict[str, ProblemType] = {info.type.slug: info.type for info in CATALOGUE.values()}
"""The problem types by slug, in the catalogue's order."""


def codes_of(kind: ProblemType) -> dict[Code, CodeInfo]:
    return {code: info for code, info in CATALOGUE.items() if info.type == kind}


def default_code(kind: ProblemType) -> Code:
    """The type's own code: its slug with underscores (`not-found` → `not_found`)."""
    return Code(kind.slug.replace("-", "_"))


def is_field_code(code: str) -> bool:
    """Whether a field error may carry this code: one of the catalogue's, or pydantic's."""
    return code in CATALOGUE or code in PYDANTIC_ERROR_TYPES


def openapi_extension() -> dict[str, Any]:
    """The catalogue as the API document's `x-problem-codes`: code → type, status, meaning."""
    return {
        code.value: {
            "type": f"/problems/{info.type.slug}",
            "status": info.status,
            "description": info.description,
        }
        for code, info in CATALOGUE.items()
    }
