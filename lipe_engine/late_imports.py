"""Names imported on first use, for the one module per package that defers heavy imports.

The CLI (``lipe_engine/cli/_deferred.py``) and the desktop (``lipe_desktop/_deferred.py``) each keep
such a module: its ``TYPE_CHECKING`` block shows readers, mypy and import-graph tools what it holds,
and the ``__getattr__`` made here imports each name's module when the name is first used, so that
``lipe --help`` and the desktop's first window do not wait for torch.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any

Where = dict[str, tuple[str, str | None]]


def table(names: Mapping[str, tuple[str, ...]], modules: Mapping[str, str]) -> Where:
    """name -> (module, attribute): ``names`` by the module that holds them; ``modules`` whole
    modules by the name they go by (their attribute is None)."""
    return {**{name: (module, name) for module, held in names.items() for name in held},
            **{name: (module, None) for name, module in modules.items()}}


def module_getattr(owner: str, package: str | None, where: Where) -> Callable[[str], Any]:
    """A module ``__getattr__`` for ``owner`` (its ``__name__``): ``name`` looked up in its module at
    each use, as a function-local import would (the module is imported on the first use; a test
    that replaces the name in its module is seen). Relative modules are relative to ``package``."""

    def __getattr__(name: str) -> Any:
        try:
            module_name, attribute = where[name]
        except KeyError:
            raise AttributeError(f"module {owner!r} has no attribute {name!r}") from None
        module = importlib.import_module(module_name, package)
        return module if attribute is None else getattr(module, attribute)

    return __getattr__
