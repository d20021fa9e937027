"""`bank_loan.posted`: one event per bank loan a posting created or changed.

A batch changes up to 10,000 loans, so the events are made by the database from the rows just
written (one INSERT … SELECT, in the posting's transaction) instead of row by row in Python.
Unchanged and stale postings announce nothing: nothing changed.
"""

from collections.abc import Sequence
from datetime import datetime

import orjson
from sqlalchemy import bindparam, text
from sqlmodel import Session

from common.db import UTCDateTime
from common.events.catalogue import EventType

_FIELDS = (
    "bank_code",
    "loan_number",
    "programme",
    "principal",
    "outstanding_principal",
    "overdue_amount",
    "status",
    "as_of",
    "member_id",
    "club_id",
    "province_code",
    "commune_code",
)
_SCOPE = ("bank_code", "club_id", "province_code", "commune_code")


def _pairs(names: Sequence[str]) -> str:
    return ", ".join(f"'{name}', {name}" for name in names)


_OUTCOME = "CASE WHEN created_at = updated_at THEN 'created' ELSE 'updated' END"
_SUBJECT = "'bank_loan:' || bank_code || '/' || loan_number"
_INSERT = "INSERT INTO outbox_events (event_id, type, subject, scope, data, occurred_at) "

POSTGRES = text(
    _INSERT
    + f"SELECT gen_random_uuid()::text, :type, {_SUBJECT}, json_build_object({_pairs(_SCOPE)}), "
    f"json_build_object('bank_loan_id', id, 'outcome', {_OUTCOME}, "
    f"'matched', member_id IS NOT NULL, {_pairs(_FIELDS)}), :now "
    "FROM (SELECT loan_id FROM unnest(string_to_array(:ids, ' ')::integer[]) AS ids(loan_id) "
    "ORDER BY loan_id) AS wanted CROSS JOIN LATERAL ("
    f"SELECT id, created_at, updated_at, {', '.join(_FIELDS)} FROM bank_loans "
    "WHERE id = wanted.loan_id LIMIT 1) AS loan ORDER BY wanted.loan_id"
).bindparams(bindparam("now", type_=UTCDateTime()))
"""One probe of the primary key per loan, in id order, whatever the statistics say: with
`id = ANY(…)` the planner read every bank loan and filtered them (the batch's new loans are not
in the statistics yet), which grows with the table, then sorted the wide rows on disk. Sorted
ids keep the probes' order, so the events need no sort of their own. The ids travel as one
string: psycopg builds a 10,000-element array parameter in Python."""
SQLITE = text(
    _INSERT
    + f"SELECT lower(hex(randomblob(16))), :type, {_SUBJECT}, json_object({_pairs(_SCOPE)}), "
    f"json_object('bank_loan_id', id, 'outcome', {_OUTCOME}, "
    f"'matched', json(CASE WHEN member_id IS NULL THEN 'false' ELSE 'true' END), "
    f"{_pairs(_FIELDS)}), :now "
    "FROM bank_loans WHERE id IN (SELECT value FROM json_each(:ids)) ORDER BY id"
).bindparams(bindparam("now", type_=UTCDateTime()))


def announce_posted(session: Session, loan_ids: Sequence[int], now: datetime) -> None:
    """Writes a `bank_loan.posted` event for each of these loans, as they now stand."""
    if not loan_ids:
        return
    parameters = {"type": EventType.BANK_LOAN_POSTED.value, "now": now}
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        connection.execute(POSTGRES, {**parameters, "ids": " ".join(map(str, loan_ids))})
    else:
        # One JSON text instead of 10,000 bound parameters.
        connection.execute(SQLITE, {**parameters, "ids": orjson.dumps(list(loan_ids)).decode()})
