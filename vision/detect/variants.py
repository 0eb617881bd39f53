"""Derived forms of a YOLOX ONNX model: a dynamic-batch export and INT8 quantisations.

`dynamic_batch` rewrites the batch dimension to a symbolic one (and the head's reshapes that bake
in a batch of 1); `quantize_int8` quantises statically, calibrated on letterboxed footage frames.
The model store (`citywatch models derive`) writes the results beside their checksums;
`vision.detect.agreement` measures how far a variant's boxes stray from the FP32 model's.

Example:
    >>> dynamic_batch(Path("yolox_nano.onnx"), Path("models/yolox_nano.dynamic.onnx"))  # doctest: +SKIP
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import onnx
import onnx.version_converter
from onnx import numpy_helper

from vision.detect.backends.yolox_onnx import letterbox

#: Variants `citywatch models derive` can make.
VARIANTS = ("int8", "dynamic-batch")
#: Initializer names of YOLOX's last (prediction) convolutions: box regression, objectness, class.
HEAD_MARKERS = ("reg_preds", "obj_preds", "cls_preds")
BATCH_DIM = "batch"
#: Per-channel QuantizeLinear/DequantizeLinear (an `axis`) need opset 13; the export is opset 11.
QDQ_OPSET = 13


@dataclass(frozen=True)
class Int8Recipe:
    """How to quantise: which nodes stay in float, activation type, pre-processing, format.

    `exclude`: `none` (everything quantised: the naive recipe), `tail` (the output's sigmoids,
    concats, reshapes and transpose stay float) or `head` (the prediction convolutions too).
    `exclude` `stem` keeps the head and the first convolution (on raw 0..255 pixels) in float;
    `early` the head and the first quarter of the graph's nodes (where quantisation loses most).
    `calibration`: `minmax`, `moving` (moving-average min/max), `percentile` or `entropy`.
    `method`: `static` (QDQ, calibrated on frames) or `dynamic` (weights only, activations at run time).

    Example:
        >>> Int8Recipe(exclude="head", activations="uint8").name
        'int8-static-head-u8-pc'
    """

    method: str = "static"
    exclude: str = "head"
    activations: str = "uint8"
    per_channel: bool = True
    preprocess: bool = True
    reduce_range: bool = False
    calibration: str = "minmax"

    @property
    def name(self) -> str:
        """A short, unique label for reports."""
        if self.method == "dynamic":
            return "int8-dynamic" + ("-pc" if self.per_channel else "")
        parts = ["int8-static", self.exclude, "u8" if self.activations == "uint8" else "s8"]
        parts += ["pc"] if self.per_channel else []
        parts += ["pre"] if self.preprocess else []
        parts += ["rr"] if self.reduce_range else []
        parts += [] if self.calibration == "minmax" else [self.calibration]
        return "-".join(parts)


#: The recipe `citywatch models derive --variant int8` uses (the best measured in bench/engines).
DEFAULT_RECIPE = Int8Recipe(exclude="early", calibration="moving")


def _constant_values(model: onnx.ModelProto) -> dict[str, np.ndarray]:
    values = {init.name: numpy_helper.to_array(init) for init in model.graph.initializer}
    for node in model.graph.node:
        if node.op_type == "Constant" and node.attribute and node.attribute[0].name == "value":
            values[node.output[0]] = numpy_helper.to_array(node.attribute[0].t)
    return values


def dynamic_batch(source: Path, target: Path) -> list[str]:
    """Write `source` with a symbolic batch dimension to `target`; the names of the Reshape nodes
    whose constant shape baked in a batch of 1 (rewritten to 0: "copy the input's batch")."""
    model = onnx.load(str(source))
    for value in (*model.graph.input, *model.graph.output):
        dim = value.type.tensor_type.shape.dim[0]
        dim.ClearField("dim_value")
        dim.dim_param = BATCH_DIM
    values, fixed = _constant_values(model), []
    shape_inputs = {node.input[1]: node.name for node in model.graph.node if node.op_type == "Reshape"}
    for init in model.graph.initializer:
        shape = values[init.name]
        if init.name in shape_inputs and shape.ndim == 1 and shape.size and shape[0] == 1:
            init.CopyFrom(numpy_helper.from_array(np.concatenate(([0], shape[1:])).astype(shape.dtype), init.name))
            fixed.append(shape_inputs[init.name])
    for node in model.graph.node:
        if node.op_type == "Constant" and node.output[0] in shape_inputs:
            shape = values[node.output[0]]
            if shape.ndim == 1 and shape.size and shape[0] == 1:
                rewritten = np.concatenate(([0], shape[1:])).astype(shape.dtype)
                node.attribute[0].t.CopyFrom(numpy_helper.from_array(rewritten))
                fixed.append(shape_inputs[node.output[0]])
    del model.graph.value_info[:]  # intermediate shapes recorded for batch 1 no longer hold
    onnx.checker.check_model(model)
    target.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(target))
    return fixed


def footage_frames(video: Path, count: int, every: int = 5, offset: int = 0) -> list[np.ndarray]:
    """`count` BGR frames of `video`, one in `every` from frame `offset`; ValueError if none."""
    capture = cv2.VideoCapture(str(video))
    frames: list[np.ndarray] = []
    index = 0
    try:
        while len(frames) < count and capture.grab():
            if index >= offset and (index - offset) % every == 0:
                ok, frame = capture.retrieve()
                if ok:
                    frames.append(frame)
            index += 1
    finally:
        capture.release()
    if not frames:
        raise ValueError(f"no frames could be read from {video}")
    return frames


def _tail_nodes(model: onnx.ModelProto) -> tuple[list[str], list[str]]:
    """(prediction convolutions, every node downstream of them): YOLOX's detection head output."""
    convs = [
        n
        for n in model.graph.node
        if n.op_type == "Conv" and any(marker in name for name in n.input for marker in HEAD_MARKERS)
    ]
    downstream: list[str] = []
    produced = {out for n in convs for out in n.output}
    for node in model.graph.node:  # nodes are in topological order
        if node not in convs and produced & set(node.input):
            downstream.append(node.name)
            produced.update(node.output)
    return [n.name for n in convs], downstream


def _opset(model: onnx.ModelProto) -> int:
    return next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 0)


def _ensure_names(model: onnx.ModelProto) -> None:
    for i, node in enumerate(model.graph.node):
        if not node.name:
            node.name = f"{node.op_type}_{i}"


def quantize_int8(
    source: Path, target: Path, frames: Sequence[np.ndarray], size: int, recipe: Int8Recipe = DEFAULT_RECIPE
) -> dict[str, object]:
    """Quantise `source` into `target` by `recipe`, calibrating on `frames` (BGR, letterboxed here
    to `size`); a description of what was done (for the manifest's provenance)."""
    # deferred: the quantisation tool loads only when a variant is being derived
    from onnxruntime.quantization import (
        CalibrationDataReader,
        CalibrationMethod,
        QuantFormat,
        QuantType,
        quantize_dynamic,
        quantize_static,
    )
    from onnxruntime.quantization.shape_inference import quant_pre_process  # deferred, as above

    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="citywatch-quant-") as scratch:
        model_path = source
        if recipe.preprocess:
            model_path = Path(scratch) / "pre.onnx"
            quant_pre_process(str(source), str(model_path), skip_symbolic_shape=True)
        model = onnx.load(str(model_path))
        if _opset(model) < QDQ_OPSET:
            model = onnx.version_converter.convert_version(model, QDQ_OPSET)
        _ensure_names(model)
        named = Path(scratch) / "named.onnx"
        onnx.save(model, str(named))
        head, tail = _tail_nodes(model)
        stem = [next(n.name for n in model.graph.node if n.op_type == "Conv")]
        early = [n.name for n in model.graph.node[: len(model.graph.node) // 4]]
        kept_float = {"none": [], "tail": [], "head": head, "stem": stem + head, "early": early + head}
        exclude = kept_float[recipe.exclude] + (tail if recipe.exclude != "none" else [])
        if recipe.method == "dynamic":
            quantize_dynamic(
                str(named), str(target), per_channel=recipe.per_channel, weight_type=QuantType.QUInt8,
                nodes_to_exclude=exclude,
            )  # fmt: skip
            return {"recipe": recipe.name, "excluded_nodes": len(exclude)}
        input_name = model.graph.input[0].name
        tensors = [letterbox(frame, size)[0][None] for frame in frames]

        class FrameReader(CalibrationDataReader):
            """Letterboxed footage frames, one model input at a time."""

            def __init__(self) -> None:
                self._it: Iterator[np.ndarray] = iter(tensors)

            def get_next(self) -> dict[str, np.ndarray] | None:
                tensor = next(self._it, None)
                return None if tensor is None else {input_name: tensor}

        CALIBRATION = {
            "minmax": (CalibrationMethod.MinMax, {}),
            "moving": (CalibrationMethod.MinMax, {"CalibMovingAverage": True}),
            "percentile": (CalibrationMethod.Percentile, {"CalibPercentile": 99.99}),
            "entropy": (CalibrationMethod.Entropy, {}),
        }
        activation = QuantType.QUInt8 if recipe.activations == "uint8" else QuantType.QInt8
        quantize_static(
            str(named),
            str(target),
            FrameReader(),
            quant_format=QuantFormat.QDQ,
            per_channel=recipe.per_channel,
            reduce_range=recipe.reduce_range,
            activation_type=activation,
            weight_type=QuantType.QInt8,
            nodes_to_exclude=exclude,
            calibrate_method=CALIBRATION[recipe.calibration][0],
            extra_options=CALIBRATION[recipe.calibration][1],
        )
    return {"recipe": recipe.name, "calibration_frames": len(frames), "excluded_nodes": len(exclude)}


def spread_frames(video: Path, count: int, offset: int = 0) -> list[np.ndarray]:
    """`count` frames spread evenly over `video` (starting at frame `offset`)."""
    capture = cv2.VideoCapture(str(video))
    total = int(capture.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
    capture.release()
    return footage_frames(video, count, every=max(1, (total - offset) // max(count, 1)), offset=offset)


def derive(
    source: Path,
    target: Path,
    variant: str,
    class_names: Sequence[str],
    footage: Path | None = None,
    calibration_frames: int = 32,
    validation_frames: int = 24,
    size: int = 416,
) -> dict[str, object]:
    """Derive `variant` of `source` into `target`; its provenance: what was done and, when
    `footage` is given (required for `int8`: it calibrates on it), the variant's agreement with
    the source model on other frames of that footage (`accuracy_vs_fp32`)."""
    # deferred: the detection stack is loaded only to validate a derived file
    from vision.detect.agreement import agreement
    from vision.detect.backends.yolox_onnx import YoloxOnnxBackend

    if variant not in VARIANTS:
        raise ValueError(f"unknown variant {variant!r}; known: {', '.join(VARIANTS)}")
    provenance: dict[str, object] = {"variant": variant}
    if variant == "int8":
        if footage is None:
            raise ValueError("the int8 variant needs calibration footage (--calibration VIDEO)")
        frames = spread_frames(footage, calibration_frames)
        provenance |= quantize_int8(source, target, frames, size)
        provenance["calibration"] = {"video": str(footage), "frames": len(frames)}
    else:
        provenance["reshapes_rewritten"] = dynamic_batch(source, target)
    if footage is not None:
        capture = cv2.VideoCapture(str(footage))
        step = int(capture.get(cv2.CAP_PROP_FRAME_COUNT) or 0) // max(calibration_frames, 1)
        capture.release()
        held_out = spread_frames(footage, validation_frames, offset=max(1, step // 2))  # between calibration frames
        reference = YoloxOnnxBackend(source, size, 1, 0.3, 0.45)(held_out)
        candidate = YoloxOnnxBackend(target, size, 1, 0.3, 0.45)(held_out)
        provenance["accuracy_vs_fp32"] = {
            **agreement(reference, candidate, class_names).as_dict(),
            "frames": len(held_out),
            "video": str(footage),
            "iou": 0.5,
            "min_score": 0.3,
        }
    return provenance
