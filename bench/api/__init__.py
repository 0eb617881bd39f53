"""API bench: the ledger's list and stats queries on PostgreSQL with 100k cases and 1M events."""
