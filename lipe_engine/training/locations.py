"""Where the models of the identity-prior pipeline are: flag > library setting > environment > app settings.

The CLI, the job queue and the desktop app must agree on one lookup, so a model picked once (in the
desktop Settings dialog, with ``lipe`` flags stored via the library, or an environment variable on
a headless machine) is found by all of them. The desktop app keeps its settings in
``<data dir>/desktop-settings.json`` under the same key names, read here as the last resort.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

# key -> environment variable
KEYS = {
    "sdxl_model": "LIPE_SDXL_MODEL",
    "llava_gguf": "LIPE_LLAVA_GGUF",
    "llava_mmproj": "LIPE_LLAVA_MMPROJ",
    "llava_handler": "LIPE_LLAVA_HANDLER",
    "llm_gguf": "LIPE_LLM_GGUF",
}
DESKTOP_SETTINGS = "desktop-settings.json"


def _desktop_settings(data_dir: Path | None) -> dict[str, Any]:
    if data_dir is None:
        return {}
    path = Path(data_dir) / DESKTOP_SETTINGS
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def resolve(key: str, explicit: str | os.PathLike[str] | None = None, lib: Any = None) -> str | None:
    """The configured value of ``key`` (None when nowhere set)."""
    if key not in KEYS:
        raise KeyError(key)
    if explicit is not None and str(explicit).strip():
        return str(explicit)
    if lib is not None:
        value = lib.get_setting(key)
        if value and value.strip():
            return value.strip()
    env = os.environ.get(KEYS[key], "").strip()
    if env:
        return env
    value = _desktop_settings(getattr(lib, "data_dir", None)).get(key)
    return str(value).strip() if isinstance(value, str) and value.strip() else None


def sdxl_model(explicit: str | os.PathLike[str] | None = None, lib: Any = None) -> str:
    """The SDXL model to train on / render with; the shipped toy model when none is configured."""
    found = resolve("sdxl_model", explicit, lib)
    if found:
        return found
    from ..errors import InputError
    from ..toyworld import default_model_source

    toy = Path(default_model_source())
    if not toy.exists():
        raise InputError("no SDXL model configured (and the toy model is not installed)",
                         "pass --model, set $LIPE_SDXL_MODEL, or pick the SDXL model in the desktop Settings")
    return str(toy)


def data_cache_dir(lib: Any) -> Path:
    """Shared per-class data (prompts, class images) of a library: reused by every identity."""
    return Path(lib.data_dir) / "regularization"
