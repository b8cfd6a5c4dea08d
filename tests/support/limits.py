"""`python -m tests.support.limits`: files over ~400 lines and functions over ~60 lines in the product.

Prints one line per offender (and nothing else when there is none); exits 1 when there is one.
`tests/test_layout.py` runs it.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("bot", "cogs", "engine", "storage")
FILE_LINES = 400
FUNCTION_LINES = 60
SLACK = 1.1  # "about": a file of 430 lines or a function of 65 is not worth a split for its own sake


def offenders(root: Path = ROOT) -> list[str]:
    found = []
    for package in PACKAGES:
        for path in sorted((root / package).rglob("*.py")):
            text = path.read_text(encoding="utf-8")
            name = path.relative_to(root)
            lines = text.count("\n") + 1
            if lines > FILE_LINES * SLACK:
                found.append(f"{name}: {lines} lines (limit ~{FILE_LINES})")
            for node in ast.walk(ast.parse(text)):
                if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.end_lineno is not None:
                    length = node.end_lineno - node.lineno + 1
                    if length > FUNCTION_LINES * SLACK:
                        found.append(f"{name}:{node.lineno} {node.name}(): {length} lines (limit ~{FUNCTION_LINES})")
    return found


def main() -> int:
    found = offenders()
    for line in found:
        print(line)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
