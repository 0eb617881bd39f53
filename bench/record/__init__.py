"""Recording benchmark: CPU of the event-clip packet ring per D1 camera against the demux floor (see run.py)."""
