"""The layout's promises: every module imports on its own, and production code never imports the tests."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("bot", "cogs", "engine", "storage", "fakediscord")
PRODUCTION = PACKAGES  # bench/ is a developer tool that reuses tests/support to start an engine
IMPORTS_TESTS = re.compile(r"^\s*(from\s+tests(\.|\s)|import\s+tests\b)", re.MULTILINE)


def _modules() -> list[str]:
    found = []
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__main__":
                continue  # running it is the point of a __main__; its imports are checked through its siblings
            if parts[-1] == "__init__":
                parts.pop()
            found.append(".".join(parts))
    return found


MODULES = _modules()


@pytest.fixture(scope="module")
def import_reports() -> dict[str, str]:
    """Each module imported in a process of its own (forked after the third-party libraries are loaded)."""
    result = subprocess.run(
        [sys.executable, str(ROOT / "tests" / "support" / "import_each.py"), *MODULES],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout)


@pytest.mark.parametrize("module", MODULES)
def test_each_module_imports_alone(module: str, import_reports: dict[str, str]) -> None:
    """An import circle or a broken import fails here, not when a user first reaches the module."""
    assert import_reports[module] == ""


def test_production_code_never_imports_the_tests() -> None:
    offenders = [
        f"{path.relative_to(ROOT)}: {match.group(0).strip()}"
        for package in PRODUCTION
        for path in (ROOT / package).rglob("*.py")
        for match in IMPORTS_TESTS.finditer(path.read_text(encoding="utf-8"))
    ]
    assert offenders == []


def test_the_bot_never_imports_the_playground_or_the_fake_discord() -> None:
    """Only `python -m bot.playground` (and the offer in `python -m bot`) may reach the playground."""
    pattern = re.compile(r"^\s*(from|import)\s+(bot\.playground|fakediscord)\b", re.MULTILINE)
    allowed = {ROOT / "bot" / "__main__.py"}
    offenders = [
        str(path.relative_to(ROOT))
        for package in ("bot", "cogs", "engine", "storage")
        for path in (ROOT / package).rglob("*.py")
        if path not in allowed
        and (ROOT / "bot" / "playground") not in path.parents
        and pattern.search(path.read_text(encoding="utf-8"))
    ]
    assert offenders == []


def test_files_and_functions_stay_short() -> None:
    """bot, cogs, engine, storage: files under ~400 lines, functions under ~60 (tests/support/limits.py).

    In a fresh interpreter: late in a long run, CPython 3.11.7's `ast.parse` can fail with "AST constructor
    recursion depth mismatch" once an earlier test has hit a RecursionError inside the compiler.
    """
    done = subprocess.run(
        [sys.executable, "-m", "tests.support.limits"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert (done.returncode, done.stdout, done.stderr) == (0, "", ""), done.stdout + done.stderr


def test_the_layers_point_down() -> None:
    """bot/ never imports cogs/ (Discord rendering sits on top of the services); storage/ never imports
    bot/ or cogs/; engine/ knows nothing of the bot."""
    rules = {"bot": ("cogs",), "storage": ("bot", "cogs"), "engine": ("bot", "cogs", "storage")}
    # Known, left for its owner: storage/npcs.py returns bot.npcs.model.Npc instead of a storage dataclass.
    known = {"storage/npcs.py"}
    offenders = []
    for package, forbidden in rules.items():
        pattern = re.compile(rf"^\s*(from|import)\s+({'|'.join(forbidden)})\b", re.MULTILINE)
        for path in (ROOT / package).rglob("*.py"):
            if pattern.search(path.read_text(encoding="utf-8")):
                offenders.append(str(path.relative_to(ROOT)))
    assert sorted(set(offenders) - known) == []
