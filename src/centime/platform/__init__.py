"""The business services on the ledger: customers, merchants, wallets, top-ups, payments,
metered holds, transfers between people and refunds. They call the ledger's public API
(write units, lookups), never the ledger's tables."""
