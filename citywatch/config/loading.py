"""Reading a config file: `${VAR}` expansion, YAML, validation, and errors that name the file,
the line, the field path and the reason (`ConfigError`)."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from citywatch.config.root import CitywatchConfig
from citywatch.config.rules import RULE_TYPES


class ConfigError(Exception):
    """A configuration file that cannot be used; the message names file, line, field and reason."""

    def __init__(self, path: str | Path, problems: list[str]):
        self.path = str(path)
        self.problems = problems
        super().__init__(f"invalid config {self.path}:\n" + "\n".join(f"  {p}" for p in problems))


_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


def expand_env(text: str) -> str:
    """Replace `${VAR}` and `${VAR:-default}` with the environment's values."""

    def substitute(match: re.Match[str]) -> str:
        name, default = match.group(1), match.group(2)
        value = os.environ.get(name)
        if value is None or (value == "" and default is not None):
            if default is None:
                raise KeyError(name)
            return default
        return value

    return _ENV_REF.sub(substitute, text)


def _line_of(node: yaml.Node | None, loc: tuple[Any, ...]) -> int | None:
    """The 1-based line of the YAML node at a pydantic error location, or of its nearest parent."""
    line = node.start_mark.line + 1 if node is not None else None
    for key in loc:
        if isinstance(node, yaml.MappingNode):
            child = next((v for k, v in node.value if getattr(k, "value", None) == key), None)
            if child is None:
                continue  # a missing field, or a union's tag: the parent's line is the best answer
            node = child
        elif isinstance(node, yaml.SequenceNode) and isinstance(key, int) and key < len(node.value):
            node = node.value[key]
        else:
            break
        line = node.start_mark.line + 1
    return line


def parse_config(text: str, source: str | Path = "<string>") -> CitywatchConfig:
    """Validate YAML text into a `CitywatchConfig`; raises `ConfigError` with line and field."""
    try:
        expanded = expand_env(text)
    except KeyError as exc:
        raise ConfigError(source, [f"environment variable {exc.args[0]} is not set and has no default"]) from None
    try:
        root = yaml.compose(expanded, Loader=yaml.SafeLoader)
        data = yaml.safe_load(expanded)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}: " if mark is not None else ""
        raise ConfigError(source, [f"{where}not valid YAML: {getattr(exc, 'problem', exc)}"]) from None
    if not isinstance(data, dict):
        raise ConfigError(source, ["the file must be a YAML mapping with at least a 'cameras' list"])
    try:
        return CitywatchConfig.model_validate(data)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            loc = tuple(error["loc"])
            loc = tuple(  # drop a rule union's tag: rules[0].min_dwell_s, not rules[0].illegal_parking...
                part
                for i, part in enumerate(loc)
                if not (part in RULE_TYPES and i >= 2 and loc[i - 2] == "rules" and isinstance(loc[i - 1], int))
            )
            problems.append(_problem(root, loc, error["msg"]))
        raise ConfigError(source, problems) from None


def _problem(root: yaml.Node | None, loc: tuple[Any, ...], message: str) -> str:
    """One problem as `line N: cameras[0].rules[1].labels: message` (the line when it is known)."""
    field = ".".join(str(part) if not isinstance(part, int) else f"[{part}]" for part in loc)
    field = field.replace(".[", "[") or "(top level)"
    line = _line_of(root, loc)
    where = f"line {line}: " if line else ""
    return f"{where}{field}: {message}"


def config_error(source: str | Path | None, problems: list[tuple[tuple[Any, ...], str]]) -> ConfigError:
    """A `ConfigError` for problems found after validation (e.g. where the models are resolved),
    each a field path and a message; lines come from the file at `source` when it can be read."""
    root = None
    if source is not None:
        try:
            root = yaml.compose(expand_env(Path(source).read_text(encoding="utf-8")), Loader=yaml.SafeLoader)
        except (OSError, KeyError, yaml.YAMLError):
            root = None  # the file changed or went away since it was loaded: report without lines
    return ConfigError(source or "(config)", [_problem(root, loc, message) for loc, message in problems])


def load_config(path: str | Path) -> CitywatchConfig:
    """Read and validate a config file; raises `ConfigError` for a missing or invalid file."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(path, [f"cannot read the file: {exc.strerror or exc}"]) from None
    return parse_config(text, path)
