"""`python tests/support/import_each.py MODULE...`: import each module in a process of its own.

Third-party libraries (torch, discord.py, ...) are imported once in this parent; then each module is
imported in a forked child that has none of the project's modules loaded yet, so an import circle or
a broken import inside the project shows exactly as in a fresh interpreter, without paying for torch
a hundred times. Prints one JSON object: {module: "" when it imported, else the error}.
"""

from __future__ import annotations

import ast
import contextlib
import importlib
import json
import os
import sys
import traceback
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def third_party(modules: list[str], project: set[str]) -> set[str]:
    names: set[str] = set()
    for module in modules:
        path = ROOT / Path(*module.split("."))
        path = path / "__init__.py" if path.is_dir() else path.with_suffix(".py")
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module)
    return {name for name in names if name.split(".")[0] not in project}


def import_in_child(module: str) -> str:
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: import, report, and leave without running the parent's cleanup
        os.close(read)
        error = ""
        try:
            importlib.import_module(module)
        except BaseException:
            error = traceback.format_exc()[-2000:]
        os.write(write, error.encode() or b"-")
        os._exit(0)
    os.close(write)
    with os.fdopen(read, "rb") as pipe:
        report = pipe.read().decode()
    os.waitpid(pid, 0)
    return "" if report == "-" else report or "the child died without a report"


def main(modules: list[str]) -> None:
    sys.path.insert(0, str(ROOT))
    project = {module.split(".")[0] for module in modules}
    for name in sorted(third_party(modules, project)):
        with contextlib.suppress(Exception):
            importlib.import_module(name)
    leaked = sorted(m for m in sys.modules if m.split(".")[0] in project)
    if leaked:  # a third-party import pulled in project code: the children would not start clean
        raise SystemExit(f"project modules loaded by third-party imports: {leaked}")
    print(json.dumps({module: import_in_child(module) for module in modules}))


if __name__ == "__main__":
    main(sys.argv[1:])
