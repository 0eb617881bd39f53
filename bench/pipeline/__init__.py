"""The pipeline bench (#14): what a camera costs all-in, and how fast a replay runs (see run.py)."""
