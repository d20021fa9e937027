"""Keyed pages of the facts the funding service's reconciliation compares with its own and
the clubs service's: allocation entries, matched bank records, the provinces with money."""

from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Query, Response
from sqlalchemy import select
from sqlalchemy.orm import aliased
from sqlmodel import col

from common.auth import Role, require_roles
from common.db import SessionDep
from common.schemas import OutputModel
from services.loans.bank.models import BankLoan
from services.loans.ledger.models import Fund, LedgerEntry
from services.loans.lending.models import Loan

MAX_PAGE = 10_000
router = APIRouter(tags=["reconciliation"], dependencies=[Depends(require_roles(Role.SERVICE))])

After = Annotated[int, Query(ge=0, le=2**31 - 1, description="Only keys above this one.")]
Limit = Annotated[int, Query(ge=1, le=MAX_PAGE, description=f"At most {MAX_PAGE} rows.")]


def _json(data: Any) -> Response:
    # Encoded directly: up to 10,000 rows of plain values.
    return Response(orjson.dumps(data), media_type="application/json")


class KeyedPage(OutputModel):
    """Rows in key order; `more` says whether rows with higher keys follow."""

    columns: list[str]
    rows: list[list[Any]]
    more: bool


ALLOCATION_COLUMNS = [
    "allocation_id",
    "entry_id",
    "fund_id",
    "club_id",
    "fund_kind",
    "amount",
    "entry_type",
    "origin",
    "reversed_by_entry_id",
]


@router.get(
    "/api/v1/funds/reconciliation/allocation-entries",
    response_model=KeyedPage,
    summary="Entries carrying an allocation id, by allocation id (reconciliation)",
)
def allocation_entries(session: SessionDep, after: After = 0, limit: Limit = MAX_PAGE) -> Response:
    """A page never ends inside one allocation id: were an allocation in two entries (a
    missing unique index), both come in the same page, so the check sees them side by side."""
    reversal = aliased(LedgerEntry)
    query = (
        select(
            col(LedgerEntry.allocation_id),
            col(LedgerEntry.id),
            col(LedgerEntry.fund_id),
            col(Fund.club_id),
            col(Fund.kind),
            col(LedgerEntry.amount),
            col(LedgerEntry.entry_type),
            col(LedgerEntry.origin),
            col(reversal.id),
        )
        .join(Fund, col(Fund.id) == col(LedgerEntry.fund_id))
        .outerjoin(reversal, col(reversal.reverses_entry_id) == col(LedgerEntry.id))
        .order_by(col(LedgerEntry.allocation_id), col(LedgerEntry.id))
    )
    rows = session.execute(
        query.where(col(LedgerEntry.allocation_id) > after).limit(limit + 1)
    ).all()
    page = [list(row) for row in rows[:limit]]
    more = len(rows) > limit
    if more and rows[limit][0] == page[-1][0]:
        page += [
            list(row)
            for row in session.execute(
                query.where(
                    col(LedgerEntry.allocation_id) == page[-1][0],
                    col(LedgerEntry.id) > page[-1][1],
                )
            ).all()
        ]
    return _json({"columns": ALLOCATION_COLUMNS, "rows": page, "more": more})


MATCHED_COLUMNS = [
    "id",
    "bank_code",
    "loan_number",
    "borrower_blind_index",
    "member_id",
    "club_id",
    "province_code",
    "commune_code",
]


@router.get(
    "/api/v1/bank-loans/reconciliation/matched",
    response_model=KeyedPage,
    summary="Bank records matched to a member, by id (reconciliation)",
)
def matched_bank_loans(session: SessionDep, after: After = 0, limit: Limit = MAX_PAGE) -> Response:
    rows = session.execute(
        select(
            col(BankLoan.id),
            col(BankLoan.bank_code),
            col(BankLoan.loan_number),
            col(BankLoan.borrower_blind_index),
            col(BankLoan.member_id),
            col(BankLoan.club_id),
            col(BankLoan.province_code),
            col(BankLoan.commune_code),
        )
        # Matched records are exactly those with a member (the partial member index).
        .where(col(BankLoan.member_id).is_not(None), col(BankLoan.id) > after)
        .order_by(col(BankLoan.id))
        .limit(limit + 1)
    ).all()
    page = [list(row) for row in rows[:limit]]
    return _json({"columns": MATCHED_COLUMNS, "rows": page, "more": len(rows) > limit})


@router.get(
    "/api/v1/funds/reconciliation/provinces",
    response_model=list[str],
    summary="Provinces of the funds, loans and matched bank records (reconciliation)",
)
def provinces(session: SessionDep) -> list[str]:
    found: set[str] = set()
    for column in (col(Fund.province_code), col(Loan.province_code), col(BankLoan.province_code)):
        found.update(
            code
            for code in session.execute(select(column).where(column.is_not(None)).distinct())
            .scalars()
            .all()
            if code
        )
    return sorted(found)
