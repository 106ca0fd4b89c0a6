"""The one deferred import of the CLI (lipe_engine/cli/_deferred.py) and of the desktop
(lipe_desktop/_deferred.py), made with lipe_engine.late_imports: each run-time table names exactly
what its type-checking block imports, a name resolves to the engine's own object at each use, and
importing such a module loads no model library."""

from __future__ import annotations

import ast
import importlib
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

import lipe_desktop._deferred as desktop_deferred
import lipe_engine.cli._deferred as cli_deferred

ROOT = Path(__file__).resolve().parents[2]
MODULES = [cli_deferred, desktop_deferred]


def _type_checking_imports(module: ModuleType) -> dict[str, tuple[str, str | None]]:
    tree = ast.parse(Path(str(module.__file__)).read_text(encoding="utf-8"))
    block = next(n for n in tree.body if isinstance(n, ast.If) and ast.unparse(n.test) == "TYPE_CHECKING")
    found: dict[str, tuple[str, str | None]] = {}
    for node in block.body:
        if isinstance(node, ast.Import):
            found.update({a.asname or a.name: (a.name, None) for a in node.names})
        elif isinstance(node, ast.ImportFrom):
            source = "." * node.level + (node.module or "")
            # `from diffusers.utils import logging`: a third-party submodule, kept whole in the table
            third_party = not source.startswith((".", "lipe_"))
            found.update({a.asname or a.name: (f"{source}.{a.name}", None) if third_party else (source, a.name)
                          for a in node.names})
    return found


@pytest.mark.parametrize("module", MODULES, ids=lambda m: m.__name__)
def test_the_table_and_the_type_checking_block_name_the_same_things(module: ModuleType) -> None:
    assert _type_checking_imports(module) == module.WHERE


@pytest.mark.parametrize(("module", "name"), [(cli_deferred, "edit_params_for"), (cli_deferred, "IMAGE_FORMATS"),
                                              (cli_deferred, "not_damaged_error"), (desktop_deferred, "pick_device")])
def test_a_name_is_the_engine_object_itself(module: ModuleType, name: str) -> None:
    source, attr = module.WHERE[name]
    assert getattr(module, name) is getattr(importlib.import_module(source, module.__package__), str(attr))


def test_a_name_replaced_in_its_module_is_seen(monkeypatch: pytest.MonkeyPatch) -> None:
    import lipe_engine.devices as devices

    monkeypatch.setattr(devices, "pick_device", "replaced")
    assert desktop_deferred.pick_device == "replaced"


@pytest.mark.parametrize("module", MODULES, ids=lambda m: m.__name__)
def test_an_unknown_name_is_an_attribute_error(module: ModuleType) -> None:
    with pytest.raises(AttributeError):
        module.no_such_name  # noqa: B018


@pytest.mark.parametrize("module", MODULES, ids=lambda m: m.__name__)
def test_importing_it_loads_no_model_library(module: ModuleType) -> None:
    code = (f"import sys, {module.__name__}; "
            "print(sorted(m for m in ('torch', 'diffusers', 'transformers', 'numpy', 'PIL') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert out.stdout.strip() == "[]"
