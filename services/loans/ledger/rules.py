"""The posting rules of the fund ledger, pure so they can be checked on their own.

Signs: a debit is positive, a credit negative, and every entry's postings sum to zero. The cash
account is what the fund holds, so a fund's balance is the sum of its cash postings.
"""

from collections.abc import Iterable
from enum import StrEnum

MAX_AMOUNT = 10**12
"""One thousand billion đồng: far above any club fund, low enough to refuse typing slips."""


class FundKind(StrEnum):
    INCOME_GENERATION = "income_generation"
    ACTIVITY = "activity"


class Account(StrEnum):
    CASH = "cash"
    CAPITAL = "capital"
    LOANS_RECEIVABLE = "loans_receivable"
    INTEREST_INCOME = "interest_income"
    EXPENSES = "expenses"
    WRITE_OFFS = "write_offs"


class EntryType(StrEnum):
    CAPITAL_IN = "capital_in"
    LOAN_DISBURSED = "loan_disbursed"
    PRINCIPAL_REPAID = "principal_repaid"
    INTEREST_RECEIVED = "interest_received"
    EXPENSE = "expense"
    WRITE_OFF = "write_off"
    REVERSAL = "reversal"


class CapitalOrigin(StrEnum):
    SEED = "seed"
    ALLOCATION = "allocation"
    MEMBER_CONTRIBUTION = "member_contribution"
    OTHER = "other"


# (debited account, credited account) of each entry type but the reversal.
DOUBLE_ENTRY: dict[EntryType, tuple[Account, Account]] = {
    EntryType.CAPITAL_IN: (Account.CASH, Account.CAPITAL),
    EntryType.LOAN_DISBURSED: (Account.LOANS_RECEIVABLE, Account.CASH),
    EntryType.PRINCIPAL_REPAID: (Account.CASH, Account.LOANS_RECEIVABLE),
    EntryType.INTEREST_RECEIVED: (Account.CASH, Account.INTEREST_INCOME),
    EntryType.EXPENSE: (Account.EXPENSES, Account.CASH),
    EntryType.WRITE_OFF: (Account.WRITE_OFFS, Account.LOANS_RECEIVABLE),
}

Postings = list[tuple[Account, int]]


def postings_for(entry_type: EntryType, amount: int) -> Postings:
    """The balanced postings of a new entry of `amount` (> 0) đồng."""
    if entry_type is EntryType.REVERSAL:
        raise ValueError("a reversal is built from the entry it reverses")
    if not 0 < amount <= MAX_AMOUNT:
        raise ValueError(f"amount out of range: {amount}")
    debit, credit = DOUBLE_ENTRY[entry_type]
    return [(debit, amount), (credit, -amount)]


def reversal_of(postings: Iterable[tuple[Account, int]]) -> Postings:
    """The postings that cancel an entry's postings exactly."""
    return [(account, -amount) for account, amount in postings]


def cash_change(postings: Iterable[tuple[Account, int]]) -> int:
    return sum(amount for account, amount in postings if account is Account.CASH)
