"""`python -m bench.ingest [--quick]`: see bench/ingest/run.py."""

from bench.ingest.run import main

main()
