"""The desktop app's settings: model locations, device, precision, memory mode.

Model choices live where every part of the app finds them: the library's settings, through
``lipe_engine.locations`` (so ``lipe edit``, training and evaluation use the model picked here).
The rest (device, precision, memory mode, thumbnail size) is the desktop's own, kept as JSON in the
data dir; a model choice found only there (first run, an older version) is moved into the library.

Validation here only checks what a user typed (does the file/folder exist, is it the right kind of
file); loading weights is the engine's job and its errors are shown as they come.
"""

from __future__ import annotations

import json
import logging
import os
import re
from dataclasses import asdict, dataclass, fields
from pathlib import Path

from lipe_engine import locations
from lipe_engine.errors import LipeError
from lipe_engine.models.discovery import Kind, inspect_path, scan_hf_cache

from . import _deferred

log = logging.getLogger(__name__)

SETTINGS_NAME = locations.DESKTOP_SETTINGS_NAME
# the one CLIP (lipe_engine.encoders): every dialog names it so, and errors point to it by this name
CLIP_LABEL = "CLIP (suggestions and metrics)"
MODEL_FIELDS = ("sdxl_model", "llava_gguf", "llava_mmproj", "llm_gguf", "clip_model")  # = engine model keys
DEVICES = ("auto", "cpu", "cuda", "mps")
PRECISIONS = ("auto", "fp32", "fp16", "bf16")
MEMORY_MODES = ("balanced", "low", "high")
MEMORY_MODE_HELP = {
    "balanced": "Keep the edit model loaded between edits; unload it when training starts.",
    "low": "Unload the edit model after every edit and before training: least memory, each edit reloads it.",
    "high": "Keep the edit model loaded even while training runs: fastest, needs the most memory.",
}
_HF_ID = re.compile(r"^[A-Za-z0-9][\w.\-]*/[\w.\-]+$")


@dataclass
class AppSettings:
    sdxl_model: str = ""  # diffusers folder, single .safetensors file, or a Hugging Face id
    llava_gguf: str = ""
    llava_mmproj: str = ""
    llm_gguf: str = ""
    clip_model: str = ""
    device: str = "auto"
    precision: str = "auto"
    memory_mode: str = "balanced"
    allow_downloads: bool = False  # set only when the user asked for a download (first run, Settings)
    thumb_size: int = 160
    window_size: str = ""  # "WIDTHxHEIGHT" of the main window when it was last closed

    @classmethod
    def load(cls, data_dir: Path, lib: locations.SettingsStore | None = None) -> AppSettings:
        """The settings of ``data_dir``; with its library, the model choices are the library's."""
        s = cls._load_json(locations.DataLayout(data_dir).desktop_settings)
        if lib is not None:
            from_json = {name: getattr(s, name) for name in MODEL_FIELDS}
            for name in MODEL_FIELDS:
                stored = locations.stored_choice(lib, name)  # an old key's value moves first
                setattr(s, name, stored if stored is not None else "")
            leftovers = {k: v for k, v in from_json.items() if v.strip() and lib.get_setting(k) is None}
            if leftovers:  # chosen before the library existed (first run) or by an older version
                locations.store_model_choices(lib, leftovers)
                for name, value in leftovers.items():
                    setattr(s, name, value.strip())
        return s

    @classmethod
    def _load_json(cls, path: Path) -> AppSettings:
        if not path.is_file():
            return cls()
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            log.warning("settings file %s unreadable (%s); using defaults", path, exc)
            return cls()
        known = {f.name for f in fields(cls)}
        s = cls(**{k: v for k, v in raw.items() if k in known})  # unknown keys from other versions ignored
        for name in MODEL_FIELDS:
            value = getattr(s, name)
            setattr(s, name, value if isinstance(value, str) else "")
        s.thumb_size = int(s.thumb_size) if str(s.thumb_size).isdigit() else 160
        s.window_size = s.window_size if window_size(s.window_size) else ""
        return s

    def model_source(self) -> str:
        """The SDXL model edits and training use, in the engine's order (this choice, then
        $LIPE_SDXL_MODEL, then the shipped toy model when it is installed), else "" (the caller
        then asks the user to open Settings)."""
        found = locations.configured("sdxl_model", self.sdxl_model)
        return found or toy_model()

    def save(self, data_dir: Path, lib: locations.SettingsStore | None = None) -> Path:
        """Write the settings; with the library, model choices go to it and not into the JSON."""
        values = asdict(self)
        if lib is not None:
            locations.store_model_choices(lib, {name: values.pop(name) for name in MODEL_FIELDS})
        path = locations.DataLayout(data_dir).desktop_settings
        tmp = path.with_suffix(".json.part")
        tmp.write_text(json.dumps(values, indent=2), encoding="utf-8")
        os.replace(tmp, path)
        return path


def window_size(text: object) -> tuple[int, int] | None:
    """``"1280x820"`` -> (1280, 820); anything else (or a size out of 400..16000) -> None."""
    if not isinstance(text, str) or text.count("x") != 1:
        return None
    w, h = text.split("x")
    if not (w.isdigit() and h.isdigit()) or not (400 <= int(w) <= 16000 and 300 <= int(h) <= 16000):
        return None
    return int(w), int(h)


def toy_model() -> str:
    """The shipped toy-world model folder, or "" when it is not installed (nothing is downloaded)."""
    return str(locations.toy_model_dir()) if locations.toy_model_installed() else ""


def _hf_cached(repo_id: str) -> bool:
    return any(h.repo_id == repo_id for h in scan_hf_cache())


def _model_location(value: str, allow_downloads: bool = False) -> str | None:
    """Checks headers only (engine's discovery); never loads weights, never downloads."""
    p = Path(value).expanduser()
    if p.exists():
        hits = inspect_path(p)
        sdxl = [h for h in hits if h.kind in (Kind.SDXL_DIFFUSERS, Kind.SDXL_CHECKPOINT)]
        if any(h.usable for h in sdxl):
            return None
        if sdxl and sdxl[0].note:
            return f"'{value}': {sdxl[0].note.rstrip('.')}: pick a complete SDXL model"
        if hits:
            return f"'{value}' is {hits[0].label} ({hits[0].kind}), not SDXL: pick an SDXL folder or .safetensors"
        return f"'{value}' is not an SDXL model: pick a diffusers SDXL folder or an SDXL .safetensors file"
    if _HF_ID.match(value) and not value.startswith(("/", "~", ".")):
        if allow_downloads or _hf_cached(value):
            return None
        return (
            f"'{value}' is not in the Hugging Face cache and downloads are off: tick 'Allow downloads', "
            f"run `hf download {value}`, or pick a local folder"
        )
    return f"'{value}' does not exist: pick a model folder or .safetensors file"


def _gguf(value: str, what: str) -> str | None:
    p = Path(value).expanduser()
    if not p.is_file():
        return f"{what} '{value}' does not exist: pick a .gguf file"
    if p.suffix.lower() != ".gguf":
        return f"{what} '{value}' is not a .gguf file: pick a GGUF model file"
    return None


def _device_problem(device: str) -> str | None:
    try:
        _deferred.pick_device(device)
    except LipeError as exc:
        return str(exc).rstrip(".")
    return None


def validate(s: AppSettings) -> dict[str, str]:
    """Field name -> one-line problem ("what: fix"); empty when everything is usable."""
    problems: dict[str, str] = {}
    if s.sdxl_model.strip():
        msg = _model_location(s.sdxl_model.strip(), s.allow_downloads)
        if msg:
            problems["sdxl_model"] = msg
    for name, what in (
        ("llava_gguf", "LLaVA model"),
        ("llava_mmproj", "LLaVA projector"),
        ("llm_gguf", "LLM"),
    ):
        value = getattr(s, name).strip()
        if value:
            msg = _gguf(value, what)
            if msg:
                problems[name] = msg
    if s.llava_gguf.strip() and not s.llava_mmproj.strip():
        problems["llava_mmproj"] = "LLaVA needs its mmproj file too: pick the matching mmproj .gguf"
    if s.clip_model.strip():
        c = s.clip_model.strip()
        if not Path(c).expanduser().exists() and not (_HF_ID.match(c) and _hf_cached(c)):
            problems["clip_model"] = (
                f"CLIP model '{c}' is neither a folder nor in the Hugging Face cache: pick a local CLIP folder"
            )
    if s.device not in DEVICES:
        problems["device"] = f"unknown device '{s.device}': use one of {', '.join(DEVICES)}"
    elif s.device != "auto":
        msg = _device_problem(s.device)
        if msg:
            problems["device"] = msg
    if s.precision not in PRECISIONS:
        problems["precision"] = f"unknown precision '{s.precision}': use one of {', '.join(PRECISIONS)}"
    if s.memory_mode not in MEMORY_MODES:
        problems["memory_mode"] = (
            f"unknown memory mode '{s.memory_mode}': use one of {', '.join(MEMORY_MODES)}"
        )
    return problems
