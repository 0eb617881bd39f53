"""Plate benchmark (issue #16): plates rendered here (`render`), with their truth, for the accuracy
harness of a plate reader and for training one."""
