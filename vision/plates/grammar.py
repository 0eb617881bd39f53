"""The grammar of a Chinese motor-vehicle plate (GA 36-2018), as pure functions.

A plate is a province character (京, 豫, ...), the issuing authority's letter and a serial:
five characters on ordinary plates (blue small cars, yellow large vehicles, black, white), whose
last may be a use character (学 coach, 挂 trailer, 警 police, 使/领 embassy and consulate, 港/澳
cross-border); six on new-energy plates (green), where a small car's serial starts with its energy
letter (D, A, B, C, E electric; F, G, H, J, K other new energy) followed by a character and four
digits, and a large vehicle's ends with D or F after five digits. I and O never appear (they read
as 1 and 0), so a reading's I and O in the serial are taken for those digits. The text is written
without the separating dot.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

#: The 31 province-level abbreviations that open a plate.
PROVINCES = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼"
#: Colours a reader reports.
PLATE_COLORS = ("blue", "yellow", "green", "white", "black")
#: The letters a plate uses (no I, no O: they read as 1 and 0).
LETTERS = "ABCDEFGHJKLMNPQRSTUVWXYZ"
DIGITS = "0123456789"
#: Use characters that may end an ordinary plate's serial.
USE_CHARACTERS = "学挂警使领港澳"
#: The energy letter that opens a small new-energy car's serial, and ends a large vehicle's.
ENERGY_SMALL = "DABCEFGHJK"
ENERGY_LARGE = "DF"
_LETTER, _ALNUM, _USE = LETTERS, LETTERS + DIGITS, USE_CHARACTERS
_ENERGY_SMALL, _ENERGY_LARGE = ENERGY_SMALL, ENERGY_LARGE
_SEPARATORS = re.compile(r"[\s·•.\-_]")
#: What each plate colour may be, by kind.
_KINDS_BY_COLOR = {
    "blue": {"ordinary"},
    "yellow": {"ordinary", "new_energy_large"},
    "green": {"new_energy_small", "new_energy_large"},
    "white": {"ordinary"},
    "black": {"ordinary"},
}


#: Per kind of plate, the characters each of its places may hold (`parse_plate`'s rules as a
#: template; serial places that hold digits also allow I and O, which normalise to 1 and 0).
KIND_PLACES: dict[str, tuple[str, ...]] = {
    "ordinary": (PROVINCES, LETTERS, *[_ALNUM + "IO"] * 4, _ALNUM + "IO" + USE_CHARACTERS),
    "new_energy_small": (PROVINCES, LETTERS, ENERGY_SMALL, _ALNUM + "IO", *[DIGITS + "IO"] * 4),
    "new_energy_large": (PROVINCES, LETTERS, *[DIGITS + "IO"] * 5, ENERGY_LARGE),
}


def kinds_for_color(color: str | None) -> list[str]:
    """The kinds of plate a colour may be (every kind for an unknown colour)."""
    if color is None:
        return list(KIND_PLACES)
    return [kind for kind in KIND_PLACES if kind in _KINDS_BY_COLOR.get(color, set())]


@dataclass(frozen=True, slots=True)
class PlateText:
    """A reading that follows the grammar: `text` normalised (no dot, upper case), `kind` one of
    `ordinary`, `new_energy_small`, `new_energy_large`, and `province` its first character."""

    text: str
    kind: str
    province: str


def normalize_plate(raw: str) -> str:
    """A reading as plate text: full-width forms folded (NFKC), separators dropped, letters upper
    case, and in the serial (after the first two characters) I and O taken for 1 and 0."""
    text = _SEPARATORS.sub("", unicodedata.normalize("NFKC", raw)).upper()
    if len(text) > 2:
        text = text[:2] + text[2:].replace("I", "1").replace("O", "0")
    return text


def _kind(text: str) -> str | None:
    if len(text) not in (7, 8) or text[0] not in PROVINCES or text[1] not in _LETTER:
        return None
    serial = text[2:]
    if len(serial) == 5:
        body, last = serial[:4], serial[4]
        if all(c in _ALNUM for c in body) and (last in _ALNUM or last in _USE):
            return "ordinary"
        return None
    if serial[0] in _ENERGY_SMALL and serial[1] in _ALNUM and serial[2:].isdigit() and serial[2:].isascii():
        return "new_energy_small"
    if serial[:5].isdigit() and serial[:5].isascii() and serial[5] in _ENERGY_LARGE:
        return "new_energy_large"
    return None


def parse_plate(raw: str, color: str | None = None) -> PlateText | None:
    """`raw` as a valid plate (normalised), or None when it breaks the grammar or does not fit the
    plate's `color` (a green plate has eight characters, a blue one seven)."""
    text = normalize_plate(raw)
    kind = _kind(text)
    if kind is None:
        return None
    if color is not None and kind not in _KINDS_BY_COLOR.get(color, set()):
        return None
    return PlateText(text, kind, text[0])
