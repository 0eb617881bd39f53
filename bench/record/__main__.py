"""`python -m bench.record [--seconds N]`: see bench/record/run.py."""

from bench.record.run import main

main()
