"""Detector backends: each turns a batch of BGR images into `supervision.Detections` with labels."""
