"""`citywatch models evaluate | promote | rollback | promotions`: compare a trained model with the
current one, and make it the model of some cameras, rules or labels (`citywatch.learning`).

    citywatch models evaluate CANDIDATE --data DIR [--against CURRENT] [--config F] [--truth T.yaml]
    citywatch models promote NAME --config F (--cameras a,b | --rules r1,r2 | --labels litter)
                             [--data DIR] [--tolerance 0] [--force]
    citywatch models rollback [NAME] --config F (--cameras ... | --rules ... | --labels ...)
    citywatch models promotions --config F

`evaluate` prints precision, recall, F1 at the runtime's score threshold (`detector.confidence`,
or `--confidence`), and mAP50 for ultralytics models, of each model on the dataset's val split;
with `--truth` and `--config` also the per-rule figures of replaying the config with the
candidate serving its labels (`citywatch eval`). `promote` refuses (exit 1, with the figures) a
candidate worse than the current model of the scope; exit 2 on bad arguments, 3 when a model
cannot be opened.
"""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from pathlib import Path
from typing import Any

from citywatch.commands.eval import evaluate as replay_and_score
from citywatch.commands.eval import load_truth
from citywatch.config import CitywatchConfig, load_config
from citywatch.learning.evaluation import not_worse, score_model
from citywatch.learning.promotion import (
    PromotionError,
    PromotionRefused,
    Scope,
    current_model,
    model_labels_of,
    promote,
    promotions,
    rollback,
)
from citywatch.modelstore import ModelStoreError
from vision.errors import DetectorError

EXIT_REFUSED, EXIT_BAD, EXIT_MODEL = 1, 2, 3
DEFAULT_DIRS = ["models", "../shared/models"]
CONFIDENCE_HELP = "score threshold of the comparison (default: the config's detector.confidence, else 0.3)"


def _names(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def _scope_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", required=True, help="config YAML (its cameras, rules and model store)")
    parser.add_argument("--cameras", type=_names, default=[], help="camera ids, comma-separated")
    parser.add_argument("--rules", type=_names, default=[], help="rule ids, comma-separated")
    parser.add_argument("--labels", type=_names, default=[], help="Citywatch labels, comma-separated")


def register(sub: Any) -> None:
    """Add `evaluate`, `promote`, `rollback` and `promotions` under `citywatch models`."""
    evaluate = sub.add_parser("evaluate", help="score a candidate against the current model on a dataset's val split")
    evaluate.add_argument("candidate", help="the candidate model (store name or file)")
    evaluate.add_argument("--against", default=None, help="the current model (default: the config's for its labels)")
    evaluate.add_argument("--data", required=True, type=Path, help="exported dataset (its val split is scored)")
    evaluate.add_argument("--config", default=None, help="config YAML (model store; with --truth, the replay)")
    evaluate.add_argument("--truth", default=None, help="ground-truth YAML: also replay the config (citywatch eval)")
    evaluate.add_argument("--model-dir", action="append", default=None, help="model store dir (repeatable)")
    evaluate.add_argument("--json", action="store_true", help="print one JSON object")
    evaluate.add_argument("--confidence", type=float, default=None, help=CONFIDENCE_HELP)
    evaluate.set_defaults(func=cmd_evaluate)

    promoting = sub.add_parser("promote", help="make a model serve some cameras, rules or labels if not worse")
    promoting.add_argument("name", help="the model to promote")
    _scope_arguments(promoting)
    promoting.add_argument("--data", type=Path, default=None, help="exported dataset to evaluate on")
    promoting.add_argument("--tolerance", type=float, default=0.0, help="how far below the current figures may be")
    promoting.add_argument("--force", action="store_true", help="promote without evaluating")
    promoting.add_argument("--confidence", type=float, default=None, help=CONFIDENCE_HELP)
    promoting.set_defaults(func=cmd_promote)

    back = sub.add_parser("rollback", help="undo the last promotion of a scope")
    back.add_argument("name", nargs="?", default=None, help="the promoted model (default: whichever serves the scope)")
    _scope_arguments(back)
    back.set_defaults(func=cmd_rollback)

    listing = sub.add_parser("promotions", help="list the active promotions")
    listing.add_argument("--config", required=True, help="config YAML (its model store)")
    listing.set_defaults(func=cmd_promotions)


def cmd_evaluate(args: argparse.Namespace) -> int:
    """Print both models' figures; 1 when the candidate is worse, 3 when a model cannot be opened."""
    config = load_config(args.config) if args.config else None
    dirs = args.model_dir or (config.detector.model_dirs if config else DEFAULT_DIRS)
    try:
        against = args.against
        if against is None and config is not None:
            labels = sorted(model_labels_of(config, args.candidate))
            against = current_model(config, [], labels)
        threshold = args.confidence or (config.detector.confidence if config else 0.3)
        mine = score_model(args.candidate, args.data, dirs, confidence=threshold)
        theirs = score_model(against, args.data, dirs, confidence=threshold) if against else None
    except (DetectorError, ModelStoreError, ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_MODEL
    report: dict[str, Any] = {"candidate": mine.as_dict(), "current": theirs.as_dict() if theirs else None}
    ok, reasons = not_worse(mine, theirs) if theirs else (mine.tp > 0, [] if mine.tp else ["no object found"])
    report |= {"not_worse": ok, "reasons": reasons}
    if args.truth:
        if config is None:
            print("error: --truth needs --config", file=sys.stderr)
            return EXIT_BAD
        report["rules"] = _rule_figures(config, args.candidate, load_truth(args.truth), threshold)
        replay_reasons = worse_in_replay(report["rules"])
        ok, reasons = ok and not replay_reasons, reasons + replay_reasons
        report |= {"not_worse": ok, "reasons": reasons}
    if args.json:
        print(json.dumps(report, ensure_ascii=False))
        return 0 if ok else EXIT_REFUSED
    for role in ("candidate", "current"):
        figures = report[role]
        if figures:
            print(_line(role, figures))
    if "rules" in report:
        for role, rules in report["rules"].items():
            for score in rules:
                print(f"  replay {role:9} {score['type']}: precision {score['precision']}, recall {score['recall']}")
    print("not worse" if ok else "worse: " + "; ".join(reasons))
    return 0 if ok else EXIT_REFUSED


def _line(role: str, figures: dict[str, Any]) -> str:
    map50 = f", mAP50 {figures['map50']}" if figures.get("map50") is not None else ""
    return (
        f"{role:9} {figures['model']}: precision {figures['precision']}, recall {figures['recall']}, "
        f"F1 {figures['f1']} (tp {figures['tp']}, fp {figures['fp']}, fn {figures['fn']}, "
        f"{figures['images']} image(s)){map50}"
    )


def _rule_figures(config: CitywatchConfig, candidate: str, truth: Any, confidence: float) -> dict[str, Any]:
    """Per-rule-type figures of replaying `config` as it is, then with `candidate` serving its
    labels (at `confidence`) on every camera."""
    labels = sorted(model_labels_of(config, candidate))
    update = {"model": candidate, "name": f"{candidate}@candidate", "serves": labels, "confidence": confidence}
    scoped = config.detector.model_copy(update=update)
    with_candidate = config.model_copy(update={"detectors": [*config.detectors, scoped]})
    out = {}
    for role, cfg in (("current", config), ("candidate", with_candidate)):
        out[role] = replay_and_score(cfg, truth)["rules"]
    return out


def worse_in_replay(rules: dict[str, list[dict[str, Any]]]) -> list[str]:
    """Why the candidate's replay is worse than the current one's, per rule type ([]: it is not)."""
    current = {score["type"]: score for score in rules["current"]}
    reasons = []
    for score in rules["candidate"]:
        before = current.get(score["type"], {})
        for figure in ("precision", "recall"):
            if figure in before and score[figure] < before[figure]:
                reasons.append(f"replay {score['type']}: {figure} {score[figure]} is below {before[figure]}")
    return reasons


def _scope(args: argparse.Namespace) -> Scope:
    return Scope(cameras=args.cameras, rules=args.rules, labels=args.labels)


def cmd_promote(args: argparse.Namespace) -> int:
    """Promote when not worse; 1 with the figures when refused."""
    config = load_config(args.config)
    try:
        record = promote(
            config, args.name, _scope(args), args.data, args.tolerance, args.force, _who(), args.confidence
        )
    except PromotionRefused as exc:
        print(f"refused: {exc}", file=sys.stderr)
        for role in ("candidate", "current"):
            if exc.figures.get(role):
                print(_line(role, exc.figures[role]), file=sys.stderr)
        return EXIT_REFUSED
    except PromotionError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD
    except (DetectorError, ModelStoreError, ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_MODEL
    for role in ("candidate", "current"):
        if record["figures"].get(role):
            print(_line(role, record["figures"][role]))
    print(
        f"promoted {record['model']} for cameras {', '.join(record['cameras']) or 'all'}, labels "
        f"{', '.join(record['labels'])} (previous: {record['previous'] or 'the configured models'}); "
        "restart `citywatch run` (or reload) to apply"
    )
    return 0


def cmd_rollback(args: argparse.Namespace) -> int:
    """Undo the scope's last promotion; 2 when nothing is promoted there."""
    config = load_config(args.config)
    try:
        record = rollback(config, _scope(args), args.name, _who())
    except PromotionError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD
    except (DetectorError, ModelStoreError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_MODEL
    print(
        f"rolled back {record['model']} for cameras {', '.join(record['cameras']) or 'all'}, labels "
        f"{', '.join(record['labels'])}: {record['previous'] or 'the configured models'} serve(s) them again"
    )
    return 0


def cmd_promotions(args: argparse.Namespace) -> int:
    """List the active promotions."""
    active = promotions(load_config(args.config))
    if not active:
        print("no promotions: every camera runs its configured models")
    for item in active:
        beneath = f" (over {', '.join(item['beneath'])})" if item["beneath"] else ""
        cameras = ", ".join(item["cameras"]) or "all"
        print(f"{item['model']}: cameras {cameras}, labels {', '.join(item['labels'])}{beneath}")
    return 0


def _who() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return ""
