"""Detection: frames in, labelled boxes out, batched across cameras behind one queue interface.

* `detector`: `ModelSpec` (a checked model file), `open_detector` and `Detector` (backend plus
  label mapping); the backends live in `backends/`;
* `batching`: `BatchingDetector`, the bounded cross-camera queue in front of one detector;
* `detector_set`: `DetectorSet`, several named detectors, each camera running only those its
  active rules need.

Models are found and checked by the model store of the application (`citywatch.modelstore`,
`citywatch.detectors.load_detector_set`); this package only opens what it is given.
"""

from vision.detect.batching import BatchingDetector
from vision.detect.detector import BACKENDS, Detector, DetectorError, ModelSpec, open_detector
from vision.detect.detector_set import DetectorSet, merge_detections

__all__ = [
    "BACKENDS",
    "BatchingDetector",
    "Detector",
    "DetectorError",
    "DetectorSet",
    "ModelSpec",
    "merge_detections",
    "open_detector",
]
