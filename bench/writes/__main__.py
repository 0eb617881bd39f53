"""`python -m bench.writes`: see bench/writes/run.py."""

from bench.writes.run import main

raise SystemExit(main())
