"""A real RTSP server for tests and benches (tests/rtsp/server.py) and the helpers that run it."""
