"""Short names for the ledger's statuses and flags, shared by the ledger and store tests."""

from centime.ledger.model import (
    AccountFlags,
    CreateAccountStatus,
    CreateTransferStatus,
    TransferFlags,
)

S = CreateTransferStatus
A = CreateAccountStatus

LINKED = int(TransferFlags.LINKED)
PENDING = int(TransferFlags.PENDING)
POST = int(TransferFlags.POST_PENDING)
VOID = int(TransferFlags.VOID_PENDING)
BAL_DR = int(TransferFlags.BALANCING_DEBIT)
BAL_CR = int(TransferFlags.BALANCING_CREDIT)
CLOSE_DR = int(TransferFlags.CLOSING_DEBIT)
CLOSE_CR = int(TransferFlags.CLOSING_CREDIT)

DMNEC = int(AccountFlags.DEBITS_MUST_NOT_EXCEED_CREDITS)
CMNED = int(AccountFlags.CREDITS_MUST_NOT_EXCEED_DEBITS)
HISTORY = int(AccountFlags.HISTORY)

START_NS = 1_700_000_000_000_000_000  # the fake clock's start: 2023-11-14
NS = 1_000_000_000  # nanoseconds per second
