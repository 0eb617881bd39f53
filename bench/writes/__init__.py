"""Write bench: concurrent mixed ledger writes against a real server; latency, conflicts, integrity."""
