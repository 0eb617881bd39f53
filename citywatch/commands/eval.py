"""`citywatch eval`: replay a config's sources and score the events against ground truth.

Ground truth is a YAML file (see `tests/scenarios/*.yaml` and docs/rules.md)::

    minimums: {precision: 1.0, recall: 1.0}       # per rule type; optional
    events:
      - {type: illegal_parking, camera: campus-road, zone: kerb, window: [19.5, 22.0], expected_s: 20.5}
      - {type: waterlogging, camera: wet-road, zone: road, window: [25, 27], cleared_window: [62, 70]}

A truth event is matched by the unmatched event of the same type, camera (and zone when given)
whose trigger time (stream seconds) lies in its window, the one nearest `expected_s` (default:
the window start). Unmatched truth events are misses; unmatched events are false positives.
Per rule type it reports true positives, false positives, misses, precision, recall and the
trigger-time error (event trigger minus `expected_s`: mean absolute and worst); a truth event
with `cleared_window` also checks when the event ended. Exit status 1 when a minimum is missed.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from citywatch.config import CitywatchConfig, load_config
from citywatch.domain.cameras import register_cameras
from citywatch.domain.db import open_database
from citywatch.domain.payloads import EVENT_COLUMNS, event_payload, jsonable
from citywatch.domain.tables import Event

EXIT_BELOW_MINIMUM = 1


class TruthEvent(BaseModel):
    """One event that must happen."""

    model_config = ConfigDict(extra="forbid")

    type: str
    camera: str
    zone: str | None = None
    window: tuple[float, float] = Field(description="Stream seconds in which the event must trigger.")
    expected_s: float | None = None
    cleared_window: tuple[float, float] | None = None
    note: str = ""


class Minimums(BaseModel):
    model_config = ConfigDict(extra="forbid")

    precision: float = 0.0
    recall: float = 0.0
    max_trigger_error_s: float | None = None


class Truth(BaseModel):
    """A ground-truth file."""

    model_config = ConfigDict(extra="forbid")

    scenario: str = ""
    description: str = ""
    minimums: Minimums = Field(default_factory=Minimums)
    events: list[TruthEvent] = Field(default_factory=list)


def load_truth(path: str | Path) -> Truth:
    """Read a ground-truth YAML file."""
    data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    return Truth.model_validate(data)


@dataclass
class RuleScore:
    """The score of one rule type."""

    type: str
    tp: int = 0
    fp: int = 0
    misses: int = 0
    errors: list[float] | None = None
    clears_ok: int = 0
    clears_checked: int = 0

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else (1.0 if self.misses == 0 else 0.0)

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.misses) if self.tp + self.misses else 1.0

    def as_dict(self) -> dict[str, Any]:
        errors = self.errors or []
        return {
            "type": self.type,
            "tp": self.tp,
            "fp": self.fp,
            "misses": self.misses,
            "precision": round(self.precision, 4),
            "recall": round(self.recall, 4),
            "trigger_error_mean_s": round(sum(abs(e) for e in errors) / len(errors), 3) if errors else None,
            "trigger_error_max_s": round(max(abs(e) for e in errors), 3) if errors else None,
            "clears_ok": self.clears_ok,
            "clears_checked": self.clears_checked,
        }


def score(truth: Truth, events: Sequence[dict[str, Any]]) -> tuple[dict[str, RuleScore], list[dict[str, Any]]]:
    """Match events to truth (pure). Returns scores per rule type and one row per truth/event."""
    scores: dict[str, RuleScore] = {}
    rows: list[dict[str, Any]] = []
    unmatched = list(events)
    for item in sorted(truth.events, key=lambda t: (t.window[0], t.camera, t.type)):
        s = scores.setdefault(item.type, RuleScore(item.type, errors=[]))
        expected = item.expected_s if item.expected_s is not None else item.window[0]
        candidates = [
            e
            for e in unmatched
            if e["type"] == item.type
            and e["camera_id"] == item.camera
            and (item.zone is None or e["zone_id"] == item.zone)
            and item.window[0] <= e["triggered_s"] <= item.window[1]
        ]
        if not candidates:
            s.misses += 1
            rows.append({"result": "miss", "truth": item.model_dump(), "event": None})
            continue
        best = min(candidates, key=lambda e: abs(e["triggered_s"] - expected))
        unmatched.remove(best)
        s.tp += 1
        assert s.errors is not None
        s.errors.append(best["triggered_s"] - expected)
        row = {
            "result": "tp",
            "truth": item.model_dump(),
            "event": _brief(best),
            "trigger_error_s": round(best["triggered_s"] - expected, 3),
        }
        if item.cleared_window is not None:
            s.clears_checked += 1
            ended = best.get("ended_s")
            ok = ended is not None and item.cleared_window[0] <= ended <= item.cleared_window[1]
            s.clears_ok += int(ok)
            row["cleared_ok"] = ok
        rows.append(row)
    for event in unmatched:
        scores.setdefault(event["type"], RuleScore(event["type"], errors=[])).fp += 1
        rows.append({"result": "fp", "truth": None, "event": _brief(event)})
    return scores, rows


def _brief(event: dict[str, Any]) -> dict[str, Any]:
    keys = (
        "type",
        "camera_id",
        "rule_id",
        "zone_id",
        "label",
        "track_id",
        "first_seen_s",
        "triggered_s",
        "ended_s",
        "duration_s",
        "score",
    )
    return {k: event.get(k) for k in keys}


def below_minimum(truth: Truth, scores: dict[str, RuleScore]) -> list[str]:
    """Human-readable reasons why the scores miss the truth's minimums (empty: all met)."""
    problems = []
    for s in scores.values():
        if s.precision < truth.minimums.precision:
            problems.append(f"{s.type}: precision {s.precision:.3f} < {truth.minimums.precision}")
        if s.recall < truth.minimums.recall:
            problems.append(f"{s.type}: recall {s.recall:.3f} < {truth.minimums.recall}")
        limit = truth.minimums.max_trigger_error_s
        if limit is not None and s.errors and max(abs(e) for e in s.errors) > limit:
            problems.append(f"{s.type}: trigger error {max(abs(e) for e in s.errors):.2f} s > {limit} s")
        if s.clears_ok < s.clears_checked:
            problems.append(f"{s.type}: {s.clears_checked - s.clears_ok} alert(s) not cleared in time")
    return problems


def replay_events(config: CitywatchConfig, workdir: Path) -> list[dict[str, Any]]:
    """Replay every camera (fast) with storage under `workdir`; the stored events as dicts."""
    # deferred: the video stack takes seconds to import, and the other commands never need it
    from citywatch.detectors import load_detector_set
    from citywatch.runtime import run_replay
    from citywatch.sink import EventSink

    storage = config.storage.model_copy(
        update={"database_url": f"sqlite:///{workdir / 'eval.db'}", "evidence_dir": str(workdir / "evidence")}
    )
    config = config.model_copy(update={"storage": storage})
    detector = load_detector_set(config.detector, config.detectors)
    database = open_database(storage.database_url)
    try:
        register_cameras(database, config.cameras)
        sink = EventSink(database, storage.evidence_dir)
        runtime = run_replay(config, detector, sink, speed="fast")
        if runtime.errors:
            raise RuntimeError("; ".join(runtime.errors))
        with database.read_session() as session:
            rows = session.connection().execute(select(*EVENT_COLUMNS).order_by(Event.id))
            return [jsonable(event_payload(row._asdict())) for row in rows]
    finally:
        database.dispose()


def evaluate(config: CitywatchConfig, truth: Truth, workdir: Path | None = None) -> dict[str, Any]:
    """Replay and score; the JSON-ready report."""
    if workdir is None:
        with tempfile.TemporaryDirectory(prefix="citywatch-eval-") as tmp:
            events = replay_events(config, Path(tmp))
    else:
        workdir.mkdir(parents=True, exist_ok=True)
        events = replay_events(config, workdir)
    scores, rows = score(truth, events)
    problems = below_minimum(truth, scores)
    return {
        "scenario": truth.scenario,
        "rules": [s.as_dict() for s in sorted(scores.values(), key=lambda s: s.type)],
        "matches": rows,
        "minimums": truth.minimums.model_dump(),
        "passed": not problems,
        "problems": problems,
    }


def _print_report(report: dict[str, Any]) -> None:
    print(f"scenario {report['scenario'] or '-'}")
    print(f"  {'rule':<20}{'TP':>4}{'FP':>4}{'miss':>6}{'prec':>7}{'recall':>8}{'err mean':>10}{'err max':>9}")
    for r in report["rules"]:
        mean = "-" if r["trigger_error_mean_s"] is None else f"{r['trigger_error_mean_s']:.2f}s"
        worst = "-" if r["trigger_error_max_s"] is None else f"{r['trigger_error_max_s']:.2f}s"
        print(
            f"  {r['type']:<20}{r['tp']:>4}{r['fp']:>4}{r['misses']:>6}{r['precision']:>7.2f}"
            f"{r['recall']:>8.2f}{mean:>10}{worst:>9}"
        )
    for row in report["matches"]:
        event, truth = row["event"], row["truth"]
        if row["result"] == "miss":
            print(f"  MISS {truth['type']} {truth['camera']}/{truth['zone']} window {truth['window']}")
        elif row["result"] == "fp":
            print(f"  FP   {event['type']} {event['camera_id']}/{event['zone_id']} at {event['triggered_s']}s")
        else:
            extra = f" cleared_ok={row['cleared_ok']}" if "cleared_ok" in row else ""
            print(
                f"  TP   {event['type']} {event['camera_id']}/{event['zone_id']} at {event['triggered_s']}s "
                f"(error {row['trigger_error_s']:+.2f}s){extra}"
            )
    for problem in report["problems"]:
        print(f"  BELOW MINIMUM: {problem}")


def cmd_eval(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    truth = load_truth(args.truth)
    report = evaluate(config, truth, Path(args.workdir) if args.workdir else None)
    if args.json:
        print(json.dumps(report, ensure_ascii=False))
    else:
        _print_report(report)
    return 0 if report["passed"] else EXIT_BELOW_MINIMUM


def register(subparsers: Any) -> None:
    """Add `citywatch eval`."""
    parser = subparsers.add_parser("eval", help="replay sources and score events against ground truth")
    parser.add_argument("--config", required=True, help="config YAML (its cameras are replayed, fast)")
    parser.add_argument("--truth", required=True, help="ground-truth YAML (see docs/rules.md)")
    parser.add_argument("--json", action="store_true", help="print the report as one JSON object")
    parser.add_argument("--workdir", help="keep the database and evidence here (default: a temp dir)")
    parser.set_defaults(func=cmd_eval)
