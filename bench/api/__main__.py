"""`python -m bench.api`: see bench/api/run.py."""

from bench.api.run import main

raise SystemExit(main())
