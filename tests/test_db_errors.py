"""Database errors told by cause, on the real backend, without the values they carry."""

from collections.abc import Iterator

import pytest
from sqlalchemy import CheckConstraint, Column, ForeignKey, Integer, MetaData, String, Table, insert
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from common import db_errors
from common.db import make_engine, normalise_url
from tools.stack import Stack

SECRET = "079158123456"
"""A value that must never appear in what the errors say (it stands for a citizen ID)."""


@pytest.fixture(scope="module")
def tables(stack: Stack) -> Iterator[tuple[Engine, Table, Table]]:
    engine = make_engine(normalise_url(stack.database_urls["funding"]))
    metadata = MetaData()
    parent = Table("zz_probe_parents", metadata, Column("id", Integer, primary_key=True))
    child = Table(
        "zz_probe_children",
        metadata,
        Column("id", Integer, primary_key=True),
        Column("parent_id", Integer, ForeignKey("zz_probe_parents.id")),
        Column("national_id", String(20), unique=True),
        Column("amount", Integer, nullable=False),
        CheckConstraint("amount >= 0", name="ck_zz_probe_amount"),
    )
    metadata.create_all(engine)
    with engine.begin() as connection:
        connection.execute(insert(parent).values(id=1))
        connection.execute(insert(child).values(parent_id=1, national_id=SECRET, amount=1))
    yield engine, parent, child
    metadata.drop_all(engine)
    engine.dispose()


@pytest.mark.parametrize(
    ("values", "kind", "fields"),
    [
        ({"parent_id": 1, "national_id": SECRET, "amount": 1}, "unique", ("national_id",)),
        ({"parent_id": 99, "national_id": "x1", "amount": 1}, "foreign_key", None),
        ({"parent_id": 1, "national_id": "x2", "amount": -5}, "check", ()),
        ({"parent_id": 1, "national_id": "x3", "amount": None}, "not_null", ("amount",)),
    ],
)
def test_each_constraint_is_told_by_its_kind_and_fields_never_its_values(
    tables: tuple[Engine, Table, Table], values: dict, kind: str, fields: tuple | None
) -> None:
    engine, _, child = tables
    with pytest.raises(IntegrityError) as raised, engine.begin() as connection:
        connection.execute(insert(child).values(**values))
    cause = db_errors.integrity_cause(raised.value)
    assert cause.kind == kind
    if fields is not None:
        assert cause.fields == fields
    told = cause.describe() + db_errors.describe(raised.value)
    assert SECRET not in told and "-5" not in told
