# ruff: noqa: F401 - the names imported for type checking are this module's attributes (see WHERE)
"""The engine parts the desktop loads late: its one deferred import.

The first window must open without waiting for torch (seconds): the training presets, the GPU's
memory and the device check import it on the thread that first asks. A desktop module imports this
module at its top (``from lipe_desktop import _deferred``) and calls ``_deferred.pick_device(...)``;
the name's module is imported on first use, so readers, mypy and import-graph tools see every such
dependency here. (Qt itself is guarded once, in ``app.py``.)
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from lipe_engine.late_imports import module_getattr, table

if TYPE_CHECKING:
    import torch
    from diffusers.utils import logging as diffusers_logging

    from lipe_engine.devices import pick_device
    from lipe_engine.training import PRESETS

# The same names at run time, by the module that holds them; a test
# (tests/engine/test_late_imports.py) checks that this table and the block above agree.
_NAMES: dict[str, tuple[str, ...]] = {
    "lipe_engine.devices": ("pick_device",),
    "lipe_engine.training": ("PRESETS",),
}
_MODULES = {"torch": "torch", "diffusers_logging": "diffusers.utils.logging"}
WHERE = table(_NAMES, _MODULES)
__getattr__ = module_getattr(__name__, __package__, WHERE)
