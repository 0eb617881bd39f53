"""`python -m bench.engines`: see bench/engines/run.py."""

from bench.engines.run import main

raise SystemExit(main())
