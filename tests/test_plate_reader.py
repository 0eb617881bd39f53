"""The plate reader (issue #16): rendered plates read exactly, plate-less images and non-plate text
read as nothing, the plate colour from the crop, `citywatch plates read --json` offline, and the
models' import into the store and their failures (missing, corrupt) naming the path.

The models are RapidOCR's PP-OCRv4 files, imported from the installed package into a temporary
model store (`citywatch models import-plates`), so the tests need no shared folder; they are marked
`footage` (they run real models: `make test-fast` leaves them out) except the colour estimation."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont

from citywatch import cli
from citywatch.commands import models as models_cmd
from citywatch.commands.models import import_plate_models, plate_entries
from citywatch.commands.plates import open_reader
from tests.support import DOG, REPO
from vision.plates import parse_plate
from vision.plates.color import plate_color
from vision.plates.reader import OcrPlateReader, PlateResult
from vision.plates.recognize import decode_plate
from vision.plates.render import DEFAULT_FONT, PlateRenderer, draw_plate

RAPIDOCR = importlib.util.find_spec("rapidocr_onnxruntime") is not None
pytestmark = pytest.mark.skipif(not DEFAULT_FONT.is_file(), reason="fonts-wqy-microhei not installed")
skip_without_rapidocr = pytest.mark.skipif(
    not RAPIDOCR, reason="rapidocr_onnxruntime not installed (scripts/install.sh installs it)"
)
DET_FILE, REC_FILE = "ch_PP-OCRv4_det_infer.onnx", "ch_PP-OCRv4_rec_infer.onnx"


@pytest.fixture(scope="session")
def plate_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    store = tmp_path_factory.mktemp("plate-models")
    stored = import_plate_models(store)
    assert [p.name for p in stored] == [DET_FILE, REC_FILE]
    return store


@pytest.fixture(scope="session")
def reader(plate_store: Path) -> OcrPlateReader:
    return open_reader([str(plate_store)], threads=2)


def _overlaps(box: tuple[int, int, int, int], truth: tuple[int, int, int, int]) -> bool:
    cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    return truth[0] <= cx <= truth[2] and truth[1] <= cy <= truth[3]


@skip_without_rapidocr
@pytest.mark.footage  # runs the plate models
@pytest.mark.parametrize("color", ["blue", "yellow", "green"])
def test_rendered_plates_of_140_px_and_more_read_exactly(reader: OcrPlateReader, color: str) -> None:
    renderer = PlateRenderer(seed=1600 + len(color))
    samples = [renderer.sample(width, color=color) for width in (140, 170, 200, 240) for _ in range(2)]
    exact = 0
    for sample in samples:
        results = reader.read(sample.image)
        assert all(isinstance(r, PlateResult) and parse_plate(r.text, r.color) for r in results)
        assert all("·" not in r.text and 0 < r.confidence <= 1 for r in results)
        if results and results[0].text == sample.text:
            exact += 1
            assert results[0].color == color
            assert sample.box is not None and _overlaps(results[0].box, sample.box)
    assert exact >= 7, f"{exact} of {len(samples)} {color} plates read exactly"


def _sign(text: str, size: tuple[int, int] = (360, 120), fill: tuple[int, int, int] = (40, 120, 30)) -> np.ndarray:
    """A street sign with text on it (not a plate): what a camera also sees."""
    image = Image.new("RGB", size, fill)
    font = ImageFont.truetype(str(DEFAULT_FONT), size[1] // 3)
    ImageDraw.Draw(image).text((16, size[1] // 3), text, font=font, fill=(255, 255, 255))
    return cv2.cvtColor(np.array(image), cv2.COLOR_RGB2BGR)


@skip_without_rapidocr
@pytest.mark.footage  # runs the plate models
def test_text_that_is_not_a_plate_and_plate_less_crops_read_as_nothing(reader: OcrPlateReader) -> None:
    signs = [
        _sign("限时停车15分钟"),
        _sign("城管执法 12319"),
        _sign("ABC-2024", fill=(150, 60, 10)),
        _sign("出口 EXIT"),
    ]
    found_text = 0
    for sign in signs:
        quads = reader.candidates(sign)
        if quads:
            found_text += 1
        assert reader.read(sign) == []
    assert found_text >= 3  # the detector sees the text; the grammar is what refuses it
    renderer = PlateRenderer(seed=3)
    for _ in range(4):
        assert reader.read(renderer.blank(320, 240).image) == []


@skip_without_rapidocr
@pytest.mark.footage  # runs the plate models
def test_the_shared_street_photo_and_its_crops_show_no_plate(reader: OcrPlateReader) -> None:
    dog = cv2.imread(str(DOG))
    if dog is None:
        pytest.fail(f"shared image missing: {DOG} (set CITYWATCH_SHARED_DIR)")
    renderer = PlateRenderer(seed=9, backgrounds=[dog])
    images = [dog, *(renderer.blank(260, 168).image for _ in range(4))]
    assert [reader.read(image) for image in images] == [[]] * len(images)


@pytest.mark.parametrize("color", ["blue", "yellow", "green", "white", "black"])
def test_colour_estimated_from_the_plate(color: str) -> None:
    assert plate_color(draw_plate("豫D12345" if color != "green" else "沪AD12345", color, px_per_mm=0.5)) == color
    if color in ("white", "black"):
        return
    renderer = PlateRenderer(seed=21)
    for width in (100, 160):
        sample = renderer.sample(width, color=color)
        assert sample.box is not None
        x1, y1, x2, y2 = sample.box
        h = y2 - y1
        crop = sample.image[y1 + h // 5 : y2 - h // 5, x1 + (x2 - x1) // 10 : x2 - (x2 - x1) // 10]
        assert plate_color(crop) == color


def test_ctc_output_decoded_by_place_on_the_plate() -> None:
    """Each character is chosen among those its place allows; the dot is dropped; a character the
    model did not see there keeps its low probability."""
    characters = ["blank", *"豫皖川嘉D·12345W", " "]
    index = {c: i for i, c in enumerate(characters)}
    seen = ["嘉", "blank", "D", "·", "1", "1", "blank", "川", "3", "4", "5"]  # 嘉 first, 川 in the serial
    probs = np.full((len(seen), len(characters)), 0.001)
    for t, char in enumerate(seen):
        probs[t, index[char]] = 0.9
    probs[0, index["豫"]] = 0.3
    probs[7, index["W"]] = 0.05
    text, mean, lowest = decode_plate(probs, characters)
    assert text == "豫D1W345" and lowest == pytest.approx(0.05)
    assert mean == pytest.approx((0.3 + 0.9 + 0.9 + 0.05 + 0.9 + 0.9 + 0.9) / 7)
    assert decode_plate(np.eye(len(characters))[[0, 0]], characters) == ("", 0.0, 0.0)


def _plate_png(tmp_path: Path, seed: int = 44, width: int = 200) -> tuple[Path, str]:
    sample = PlateRenderer(seed=seed).sample(width, color="blue")
    path = tmp_path / "车牌.png"
    cv2.imwrite(str(path), sample.image)
    assert sample.text is not None
    return path, sample.text


@skip_without_rapidocr
@pytest.mark.footage  # runs the plate models
def test_cli_prints_one_json_line_per_image(tmp_path: Path, plate_store: Path) -> None:
    plate, text = _plate_png(tmp_path)
    blank = tmp_path / "blank.jpg"
    cv2.imwrite(str(blank), PlateRenderer(seed=2).blank().image)
    env = {k: v for k, v in os.environ.items() if k != "CITYWATCH_MODEL_DIR"} | {"PYTHONIOENCODING": "utf-8"}
    command = ["plates", "read", str(plate), str(blank), "--json", "--model-dir", str(plate_store)]
    done = subprocess.run(
        [sys.executable, "-m", "citywatch", *command],
        cwd=REPO,
        env=env,
        capture_output=True,
        encoding="utf-8",
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    first, second = (json.loads(line) for line in done.stdout.splitlines())
    assert first["image"] == str(plate) and second == {"image": str(blank), "plates": []}
    (reading,) = first["plates"]
    assert set(reading) == {"text", "color", "confidence", "box"}
    assert (reading["text"], reading["color"]) == (text, "blue") and 0.5 < reading["confidence"] <= 1
    assert len(reading["box"]) == 4 and all(isinstance(v, int) for v in reading["box"])


@skip_without_rapidocr
@pytest.mark.footage  # runs the plate models
def test_cli_reads_with_the_network_gone(
    tmp_path: Path, plate_store: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    attempts: list[str] = []

    def refuse(*args: object, **kwargs: object) -> None:
        attempts.append(repr(args)[:200])
        raise OSError("network disabled by test")

    for name in ("connect", "connect_ex"):
        monkeypatch.setattr(socket.socket, name, refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    monkeypatch.delenv("CITYWATCH_MODEL_DIR", raising=False)
    plate, text = _plate_png(tmp_path, seed=45)
    assert cli.main(["plates", "read", str(plate), "--json", "--model-dir", str(plate_store)]) == 0
    line = json.loads(capsys.readouterr().out)
    assert [p["text"] for p in line["plates"]] == [text] and attempts == []


@skip_without_rapidocr
@pytest.mark.footage  # runs the plate models
def test_missing_or_corrupt_models_and_unreadable_images_fail_naming_the_path(
    tmp_path: Path, plate_store: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("CITYWATCH_MODEL_DIR", raising=False)
    plate, _ = _plate_png(tmp_path)
    empty = tmp_path / "empty-store"
    empty.mkdir()
    assert cli.main(["plates", "read", str(plate), "--json", "--model-dir", str(empty)]) == 3
    assert str(empty / DET_FILE) in capsys.readouterr().err
    damaged = tmp_path / "damaged-store"
    shutil.copytree(plate_store, damaged)
    rec = damaged / REC_FILE
    rec.write_bytes(rec.read_bytes()[: rec.stat().st_size // 2])
    assert cli.main(["plates", "read", str(plate), "--json", "--model-dir", str(damaged)]) == 3
    err = capsys.readouterr().err
    assert str(rec) in err and "corrupt" in err
    not_image, absent = tmp_path / "notes.jpg", tmp_path / "absent.jpg"
    not_image.write_text("not a picture", encoding="utf-8")
    args = ["plates", "read", str(not_image), str(absent), str(plate), "--json", "--model-dir", str(plate_store)]
    assert cli.main(args) == 3
    captured = capsys.readouterr()
    assert str(not_image) in captured.err and str(absent) in captured.err
    assert [json.loads(line)["image"] for line in captured.out.splitlines()] == [str(plate)]


@skip_without_rapidocr
def test_import_plates_copies_checks_and_repairs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    store = tmp_path / "store"
    assert {e.backend for e in plate_entries()} == {"ppocr_det", "ppocr_rec"}
    assert models_cmd.main(["import-plates", "--to", str(store)]) == 0
    assert sorted(p.name for p in store.iterdir()) == [DET_FILE, REC_FILE]
    det = store / DET_FILE
    det.write_bytes(b"damaged")
    assert models_cmd.main(["import-plates", "--to", str(store)]) == 0  # a damaged copy is replaced
    assert det.stat().st_size > 1_000_000
    capsys.readouterr()
    fake_package = tmp_path / "package-models"
    fake_package.mkdir()
    (fake_package / DET_FILE).write_bytes(b"not the model")
    with pytest.raises(Exception, match=str(fake_package / DET_FILE)):
        import_plate_models(tmp_path / "other", package_models=fake_package)
