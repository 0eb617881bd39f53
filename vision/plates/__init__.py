"""Plates: what a licence-plate reading must look like and which reading of a vehicle's stay wins.

* `grammar`: `normalize_plate` and `parse_plate`, the Chinese plate grammar (GA 36: province
  character, issuing-authority letter, serial; eight characters for new-energy plates; no I or O);
* `vote`: `vote_plate`, the best reading over a stay's frames, given only when several agree;
* `reader`, `recognize`, `color`: `OcrPlateReader` (PP-OCRv4 via RapidOCR, from the model store);
* `watch`: `PlateWatch`, which frames of a parked vehicle's stay are read, and its agreed plate.
"""

from vision.plates.grammar import PLATE_COLORS, PROVINCES, PlateText, normalize_plate, parse_plate
from vision.plates.vote import PlateReading, vote_plate

__all__ = ["PLATE_COLORS", "PROVINCES", "PlateReading", "PlateText", "normalize_plate", "parse_plate", "vote_plate"]
