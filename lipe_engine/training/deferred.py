"""The training package's libraries that load late, in this one place.

peft imports transformers (seconds), so it waits for a training to start: ``lipe train --help`` and
the desktop's presets import this package at start-up. bitsandbytes is optional (the 8-bit AdamW of
the small-memory presets; without it a run uses AdamW and records so). diffusers comes through the
engine's one accessor, ``models.loader.import_diffusers``.
"""

from __future__ import annotations

from typing import Any


def peft() -> Any:
    """The ``peft`` module, with ``peft.utils`` (LoRA adapters' configs and state dicts)."""
    import peft
    import peft.utils  # noqa: F401 - get/set_peft_model_state_dict live here

    return peft


def bitsandbytes() -> Any | None:
    """The ``bitsandbytes`` module, or None where it is not installed."""
    try:
        import bitsandbytes  # type: ignore[import-not-found]
    except ImportError:
        return None
    return bitsandbytes
