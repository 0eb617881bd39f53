"""Learning from the operators: reviewed alerts, case photos and annotations become a YOLO dataset
(`sources`, `dataset`), a model trained on it offline (`training`), scored against the current
one on the held-back split (`evaluation`) and promoted for some cameras or rules (`promotion`).
"""
