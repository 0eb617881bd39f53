"""The house rules a newcomer relies on, checked on every run: the import contracts hold (and do
catch a wrong-way import), no module grows past 400 lines, no import hides inside a function
without a comment saying why, and the console's JavaScript modules import each other without a
cycle."""

from __future__ import annotations

import ast
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("api", "citywatch", "vision")
CONSOLE_JS = REPO / "api" / "static" / "js"
MAX_MODULE_LINES = 400
#: What the `lint-imports` console script runs, here with this interpreter.
LINT_IMPORTS = "import sys; from importlinter.cli import lint_imports_command; sys.exit(lint_imports_command())"


def _modules() -> list[Path]:
    return sorted(path for package in PACKAGES for path in (REPO / package).rglob("*.py"))


def _lint_imports(root: Path) -> subprocess.CompletedProcess[str]:
    """`lint-imports` with the repo's contracts over the packages found under `root`."""
    return subprocess.run(
        [sys.executable, "-c", LINT_IMPORTS, "--config", str(REPO / "pyproject.toml"), "--no-cache"],
        cwd=root,
        env={"PYTHONPATH": str(root), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture(scope="module")
def copy_of_packages(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("layout")
    for package in PACKAGES:
        shutil.copytree(REPO / package, root / package, ignore=shutil.ignore_patterns("__pycache__", "static"))
    return root


def test_the_import_contracts_hold() -> None:
    result = _lint_imports(REPO)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert "0 broken" in result.stdout


@pytest.mark.parametrize(
    ("module", "line", "broken"),
    [
        ("vision/zones.py", "from citywatch.runtime import Runtime", "vision is not allowed to import citywatch"),
        ("citywatch/sink.py", "from api.app import create_app", "citywatch is not allowed to import api"),
        ("citywatch/config/camera.py", "from vision.zones import Zone", "citywatch.config is not allowed to import"),
        (
            "citywatch/domain/ledger.py",
            "from citywatch.runtime import Runtime",
            "is not allowed to import citywatch.runtime",
        ),
    ],
)
def test_a_wrong_way_import_breaks_the_build(copy_of_packages: Path, module: str, line: str, broken: str) -> None:
    path = copy_of_packages / module
    original = path.read_text(encoding="utf-8")
    path.write_text(original + f"\n{line}  # noqa\n", encoding="utf-8")
    try:
        result = _lint_imports(copy_of_packages)
    finally:
        path.write_text(original, encoding="utf-8")
    assert result.returncode != 0 and broken in result.stdout, result.stdout[-3000:]


def test_no_module_is_over_400_lines() -> None:
    long = {
        str(p.relative_to(REPO)): n for p in _modules() if (n := len(p.read_text().splitlines())) > MAX_MODULE_LINES
    }
    assert not long, f"split these by seam (CONTRIBUTING.md): {long}"


def _explained(lines: list[str], index: int) -> bool:
    """True when the import on `lines[index]` carries a comment, or follows one in its block of imports."""
    if "#" in lines[index]:
        return True
    for line in reversed(lines[:index]):
        text = line.strip()
        if text.startswith("#"):
            return True
        if text and not text.startswith(("import ", "from ")):
            return False
    return False


def test_imports_inside_functions_say_why() -> None:
    silent = []
    for path in _modules():
        lines = path.read_text(encoding="utf-8").splitlines()
        for node in ast.walk(ast.parse("\n".join(lines))):
            if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            for inner in ast.walk(node):
                if isinstance(inner, ast.Import | ast.ImportFrom) and not _explained(lines, inner.lineno - 1):
                    silent.append(f"{path.relative_to(REPO)}:{inner.lineno}: {lines[inner.lineno - 1].strip()}")
    assert not silent, "an import inside a function needs a comment saying why:\n" + "\n".join(silent)


def _js_imports(folder: Path) -> dict[str, set[str]]:
    """Module file name -> the sibling modules it imports (`import ... from "./x.js"`)."""
    pattern = re.compile(r"""^\s*import\b[^;]*?from\s*["']\./([\w.-]+\.js)["']""", re.MULTILINE | re.DOTALL)
    return {path.name: set(pattern.findall(path.read_text(encoding="utf-8"))) for path in folder.glob("*.js")}


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle of `graph` as a path of modules, or None."""
    done: set[str] = set()

    def visit(node: str, path: list[str]) -> list[str] | None:
        if node in path:
            return [*path[path.index(node) :], node]
        if node in done:
            return None
        for child in sorted(graph.get(node, ())):
            found = visit(child, [*path, node])
            if found:
                return found
        done.add(node)
        return None

    return next((c for c in (visit(node, []) for node in sorted(graph)) if c), None)


def test_console_modules_import_without_cycles() -> None:
    graph = _js_imports(CONSOLE_JS)
    assert {"app.js", "state.js", "api.js"} <= set(graph)
    missing = {f"{module} -> {target}" for module, targets in graph.items() for target in targets - set(graph)}
    assert not missing, missing
    assert _cycle(graph) is None, " -> ".join(_cycle(graph) or [])
    assert not any("app.js" in targets for targets in graph.values()), "only index.html loads app.js"


def test_the_cycle_check_finds_a_cycle() -> None:
    assert _cycle({"app.js": {"queue.js"}, "queue.js": {"app.js"}}) == ["app.js", "queue.js", "app.js"]
