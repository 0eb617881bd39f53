"""Ingest benchmark: CPU per camera-second and analysed fps for N looping RTSP cameras (see run.py)."""
