"""wallet-ledger: balances and transfers."""
