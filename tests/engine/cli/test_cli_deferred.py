"""The CLI's one deferred import (lipe_engine/cli/_deferred.py): its run-time table names exactly what
its type-checking block imports, each name resolves to the engine's own object, and importing it
loads nothing heavy."""

from __future__ import annotations

import ast
import importlib
import subprocess
import sys
from pathlib import Path

import pytest

import lipe_engine.cli._deferred as deferred

ROOT = Path(__file__).resolve().parents[3]


def _type_checking_imports() -> dict[str, tuple[str, str | None]]:
    tree = ast.parse(Path(deferred.__file__).read_text(encoding="utf-8"))
    block = next(n for n in tree.body if isinstance(n, ast.If) and ast.unparse(n.test) == "TYPE_CHECKING")
    found: dict[str, tuple[str, str | None]] = {}
    for node in block.body:
        if isinstance(node, ast.Import):
            found.update({a.asname or a.name: (a.name, None) for a in node.names})
        elif isinstance(node, ast.ImportFrom):
            module = "." * node.level + (node.module or "")
            found.update({a.asname or a.name: (module, a.name) for a in node.names})
    return found


def test_the_table_and_the_type_checking_block_name_the_same_things() -> None:
    expected = _type_checking_imports()
    table = {name: (module, attr) for name, (module, attr) in deferred.WHERE.items()}
    # `from diffusers.utils import logging` is the module diffusers.utils.logging in the table
    for name, (module, attr) in list(expected.items()):
        if attr is not None and not module.startswith("."):
            expected[name] = (f"{module}.{attr}", None)
    assert table == expected


@pytest.mark.parametrize("name", ["edit_params_for", "IMAGE_FORMATS", "require_tested_stack", "not_damaged_error"])
def test_a_name_is_the_engine_object_itself(name: str) -> None:
    module, attr = deferred.WHERE[name]
    assert getattr(deferred, name) is getattr(importlib.import_module(module, "lipe_engine.cli"), str(attr))


def test_an_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError):
        deferred.no_such_name  # noqa: B018


def test_importing_it_loads_no_model_library() -> None:
    code = ("import sys, lipe_engine.cli._deferred; "
            "print(sorted(m for m in ('torch', 'diffusers', 'transformers', 'numpy', 'PIL') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert out.stdout.strip() == "[]"
