"""The layers point one way: the apps and tools above ``common/``, its runtime below its tools.

Read from the source with ``ast`` (nothing is imported), so a new module is
checked the day it is added. ``common/`` imports none of the apps, the bench
or the tests; nothing in ``common/`` outside ``common/ops/`` (the operator's
``gatehouse`` command) imports ``common.ops``, so the services never load it.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
COMMON = ROOT / "common"
ABOVE_COMMON = ("gateway_app", "user_app", "auth_app", "bench", "tests")
# `gatehouse bench` is an operator command that runs the bench from an install:
# the one import of a higher layer, made when that command runs, never at import.
ALLOWED_IN_A_FUNCTION = {("common/ops/cli.py", "bench.command")}


@dataclass(frozen=True)
class Imported:
    module: str  # the file, relative to the repository
    name: str  # the module it imports
    line: int
    at_import: bool  # runs when the file is imported (not only inside a function)


def imports_of(path: Path) -> list[Imported]:
    tree = ast.parse(path.read_text(), filename=str(path))
    inside_functions = {
        id(node)
        for function in ast.walk(tree)
        if isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef)
        for node in ast.walk(function)
    }
    relative = path.relative_to(ROOT).as_posix()
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        else:
            continue
        found += [
            Imported(relative, name, node.lineno, id(node) not in inside_functions)
            for name in names
        ]
    return found


def _top(name: str) -> str:
    return name.split(".", 1)[0]


def _is_ops(name: str) -> bool:
    return name == "common.ops" or name.startswith("common.ops.")


COMMON_IMPORTS = [found for path in sorted(COMMON.rglob("*.py")) for found in imports_of(path)]


def test_the_checker_sees_imports_at_import_time_and_inside_functions() -> None:
    sample = ROOT / "common" / "ops" / "cli.py"
    kinds = {(found.name, found.at_import) for found in imports_of(sample)}

    assert ("argparse", True) in kinds
    assert ("bench.command", False) in kinds


def test_common_imports_nothing_above_it() -> None:
    offending = [
        found
        for found in COMMON_IMPORTS
        if _top(found.name) in ABOVE_COMMON
        and (found.at_import or (found.module, found.name) not in ALLOWED_IN_A_FUNCTION)
    ]

    assert not offending, "\n".join(f"{f.module}:{f.line} imports {f.name}" for f in offending)


def test_the_runtime_never_imports_the_operator_tools() -> None:
    offending = [
        found
        for found in COMMON_IMPORTS
        if not found.module.startswith("common/ops/") and _is_ops(found.name)
    ]

    assert not offending, "\n".join(f"{f.module}:{f.line} imports {f.name}" for f in offending)


@pytest.mark.parametrize("package", ["gateway_app", "user_app", "auth_app"])
def test_the_services_never_import_the_operator_tools_or_the_bench(package: str) -> None:
    offending = [
        found
        for path in sorted((ROOT / package).rglob("*.py"))
        for found in imports_of(path)
        if _is_ops(found.name) or _top(found.name) in ("bench", "tests")
    ]

    assert not offending, "\n".join(f"{f.module}:{f.line} imports {f.name}" for f in offending)
