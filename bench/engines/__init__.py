"""Inference engines bench: onnxruntime options, OpenVINO, INT8 and dynamic batch (bench/engines/run.py)."""
