"""Where things are: the models the app uses and the layout of its data folder (the one place).

Models (SDXL, LLaVA, the instruction LLM, CLIP, DINOv2) are found in one order everywhere — the CLI,
the job queue, evaluation, ``lipe doctor`` and the desktop app:

    flag (``--model`` ...) > library setting > environment variable > shipped default

A library setting is what the desktop's Settings dialog (or ``lipe``) stored with
:func:`store_model_choices`; nothing here reads a file of the desktop app. The shipped default is the
toy-world model for SDXL, a Hugging Face id for the metric encoders, and nothing for the GGUF models.

The data folder (``app_dirs.user_dir("data")`` or ``--data-dir``) is laid out by :class:`DataLayout`;
the app's cache and log folders come from :mod:`.app_dirs`, shipped files from :mod:`.resources`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from .app_dirs import user_dir
from .errors import InputError
from .resources import resource_path

# model key (as stored in the library's settings) -> environment variable
MODEL_KEYS: dict[str, str] = {
    "sdxl_model": "LIPE_SDXL_MODEL",
    "llava_gguf": "LIPE_LLAVA_GGUF",
    "llava_mmproj": "LIPE_LLAVA_MMPROJ",
    "llava_handler": "LIPE_LLAVA_HANDLER",
    "llm_gguf": "LIPE_LLM_GGUF",
    "clip_model": "LIPE_CLIP_MODEL",  # the one CLIP: metrics, "find similar photos", grouping
    "dino_model": "LIPE_DINO_MODEL",
}
# keys stored under another name by earlier versions: old -> new ("find similar" had its own CLIP
# key, `embedding_model`, until the encoders became one service); the value moves on first read
RENAMED_KEYS: dict[str, str] = {"embedding_model": "clip_model"}
OLD_ENVIRONMENT: dict[str, str] = {"clip_model": "LIPE_EMBEDDING_MODEL"}  # read when the new one is unset
# what a key falls back to when it is set nowhere (the encoders: the paper's hub ids)
SHIPPED_DEFAULTS: dict[str, str] = {
    "clip_model": "openai/clip-vit-large-patch14",
    "dino_model": "facebook/dinov2-base",
}
ORDER = "flag > library setting > environment > shipped default"


class SettingsStore(Protocol):
    """What resolution needs of a library: its key/value settings."""

    def get_setting(self, key: str, default: str | None = None) -> str | None: ...

    def set_setting(self, key: str, value: str | None) -> None: ...


def _check_key(key: str) -> None:
    if key not in MODEL_KEYS:
        raise KeyError(f"unknown model key {key!r}: use one of {', '.join(MODEL_KEYS)}")


def stored_choice(lib: SettingsStore, key: str) -> str | None:
    """``key``'s library setting; a value an earlier version stored under the old name moves here first."""
    value = lib.get_setting(key)
    if value is not None:
        return value
    for old, new in RENAMED_KEYS.items():
        old_value = lib.get_setting(old) if new == key else None
        if old_value is not None:
            lib.set_setting(key, old_value)
            lib.set_setting(old, None)
            return old_value
    return None


def configured(key: str, explicit: str | os.PathLike[str] | None = None,
               lib: SettingsStore | None = None) -> str | None:
    """``key``'s value from flag, library setting or environment (None when set nowhere)."""
    _check_key(key)
    if explicit is not None and str(explicit).strip():
        return str(explicit).strip()
    if lib is not None:
        value = stored_choice(lib, key)
        if value and value.strip():
            return value.strip()
    env = os.environ.get(MODEL_KEYS[key], "").strip()
    if not env and key in OLD_ENVIRONMENT:
        env = os.environ.get(OLD_ENVIRONMENT[key], "").strip()
    return env or None


def resolve(key: str, explicit: str | os.PathLike[str] | None = None,
            lib: SettingsStore | None = None) -> str | None:
    """``key``'s value in the documented order, the shipped default last (None when there is none)."""
    return configured(key, explicit, lib) or SHIPPED_DEFAULTS.get(key)


def toy_model_dir() -> Path:
    """The shipped toy-world SDXL model folder (it may be missing from a minimal install)."""
    return resource_path("toy_model")


def toy_judge_file() -> Path:
    """The shipped judge of toy-world edits (lipe_engine.toyworld.judge; scripts/train_judge.py)."""
    return resource_path("judge", "judge.safetensors")


def toy_model_installed() -> bool:
    return (toy_model_dir() / "model_index.json").is_file()


def sdxl_model(explicit: str | os.PathLike[str] | None = None, lib: SettingsStore | None = None) -> str:
    """The SDXL model to train on / edit with; the shipped toy model when none is configured."""
    found = configured("sdxl_model", explicit, lib)
    if found:
        return found
    toy = toy_model_dir()
    if not toy.exists():
        raise InputError("no SDXL model configured (and the toy model is not installed)",
                         "pass --model, set $LIPE_SDXL_MODEL, or pick the SDXL model in the desktop Settings")
    return str(toy)


def store_model_choices(lib: SettingsStore, choices: Mapping[str, str | None]) -> None:
    """Keep model choices (the desktop's Settings, a ``lipe`` flag) as library settings; "" or None clears."""
    for key, value in choices.items():
        _check_key(key)
        text = (value or "").strip()
        if (lib.get_setting(key) or "") != text:
            lib.set_setting(key, text or None)


# --- the data folder ------------------------------------------------------------------------------

DB_NAME = "library.sqlite"
DESKTOP_SETTINGS_NAME = "desktop-settings.json"  # the desktop app's own choices (device, memory mode ...)


@dataclass(frozen=True)
class DataLayout:
    """The folders and files of one data folder; every module asks here instead of spelling a name."""

    root: Path

    def __post_init__(self) -> None:
        object.__setattr__(self, "root", Path(self.root))

    @property
    def database(self) -> Path:
        return self.root / DB_NAME

    @property
    def thumbs(self) -> Path:
        return self.root / "thumbs"

    @property
    def edits(self) -> Path:
        return self.root / "edits"

    @property
    def loras(self) -> Path:
        return self.root / "loras"

    @property
    def regularization(self) -> Path:
        """Shared per-class data (prompts, class images): reused by every identity of a class."""
        return self.root / "regularization"

    @property
    def backups(self) -> Path:
        return self.root / "backups"

    @property
    def toy_album(self) -> Path:
        """Where "Try it on toy photos" writes its toy-world photos (photos the app made itself): beside
        the data folder, since a library folder may not lie inside it."""
        return self.root.parent / f"{self.root.name}-toy-photos"

    @property
    def training_log(self) -> Path:
        """What the desktop's background training runner prints (it outlives the app's own log)."""
        return self.root / "logs" / "training-runner.log"

    @property
    def desktop_settings(self) -> Path:
        return self.root / DESKTOP_SETTINGS_NAME

    # a library leaves these behind (see library.db: a missing database beside them is an accident)
    def library_traces(self) -> tuple[Path, ...]:
        return self.backups, self.thumbs, self.edits, self.loras


def inversion_cache_dir() -> Path:
    """Inverted noise maps of edited photos: regenerable, so in the app's cache folder (CLI and app alike)."""
    return user_dir("cache") / "inversions"


def log_dir() -> Path:
    return user_dir("log")
