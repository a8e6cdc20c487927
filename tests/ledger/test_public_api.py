"""The ledger's public API is what ``centime.ledger`` exports; changing it is deliberate."""

import centime.ledger


def test_public_api_is_pinned() -> None:
    assert sorted(centime.ledger.__all__) == [
        "AMOUNT_POST_FULL",
        "Account",
        "AccountBalance",
        "AccountFilter",
        "AccountFlags",
        "BatchApplier",
        "BatchTooLargeError",
        "Changes",
        "CreateAccountStatus",
        "CreateTransferStatus",
        "Ledger",
        "LedgerBusyError",
        "LedgerClosedError",
        "LedgerInvariantError",
        "LedgerView",
        "PendingState",
        "PendingStatus",
        "Transfer",
        "TransferFlags",
    ]
    for name in centime.ledger.__all__:
        assert getattr(centime.ledger, name) is not None
