"""Training checkpoints: adapter weights + optimizer state + step, written atomically, read without pickle.

``<output>/checkpoints/step_000120/`` holds ``lora.safetensors``, ``optimizer.safetensors`` (every
tensor of the optimizer state) with ``optimizer.json`` (the structure around them: param groups,
numbers, tuples) and ``state.json`` (written last, then the folder renamed into place), so a folder
that exists is complete. A run resumes from the newest checkpoint whose fingerprint (training
settings + data) matches its own.

Nothing here unpickles: an output folder is a place other people's files can end up in (a shared
drive, a downloaded "resume pack"), and a pickle in it would run code when resumed. Checkpoints of
earlier versions kept the optimizer in ``optimizer.pt`` (a pickle); those are read with
``torch.load(weights_only=True)``, which only accepts tensors and plain containers, and anything
else is refused in one line. A damaged checkpoint (truncated, garbage) is reported in one line
naming its folder.
"""

from __future__ import annotations

import json
import os
import pickle
import shutil
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

from ..errors import InputError

STATE = "state.json"
OPT_TENSORS = "optimizer.safetensors"
OPT_LAYOUT = "optimizer.json"
LEGACY_OPT = "optimizer.pt"
_FIX = "delete that checkpoint folder to resume from the previous one (or start over)"


def checkpoint_dir(output_dir: Path) -> Path:
    return output_dir / "checkpoints"


def list_checkpoints(output_dir: Path) -> list[Path]:
    root = checkpoint_dir(output_dir)
    if not root.is_dir():
        return []
    found = []
    for p in root.iterdir():
        if p.is_dir() and p.name.startswith("step_") and p.name[5:].isdigit() and (p / STATE).is_file():
            found.append(p)
    return sorted(found, key=lambda p: int(p.name.split("_")[1]))


# --- optimizer state as tensors + JSON ------------------------------------------------------------


def _encode(value: Any, tensors: dict[str, torch.Tensor]) -> Any:
    if isinstance(value, torch.Tensor):
        key = f"t{len(tensors)}"
        tensors[key] = value.detach().cpu().contiguous().clone()
        return {"__tensor__": key}
    if isinstance(value, dict):
        return {"__dict__": [[_encode(k, tensors), _encode(v, tensors)] for k, v in value.items()]}
    if isinstance(value, tuple):
        return {"__tuple__": [_encode(v, tensors) for v in value]}
    if isinstance(value, list):
        return [_encode(v, tensors) for v in value]
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    raise TypeError(f"optimizer state holds a {type(value).__name__}, which checkpoints cannot store")


def _decode(value: Any, tensors: dict[str, torch.Tensor]) -> Any:
    if isinstance(value, list):
        return [_decode(v, tensors) for v in value]
    if isinstance(value, dict):
        if set(value) == {"__tensor__"}:
            return tensors[value["__tensor__"]]
        if set(value) == {"__tuple__"}:
            return tuple(_decode(v, tensors) for v in value["__tuple__"])
        if set(value) == {"__dict__"}:
            return {_decode(k, tensors): _decode(v, tensors) for k, v in value["__dict__"]}
        raise ValueError(f"unexpected entry {sorted(value)[:3]}")
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    raise ValueError(f"unexpected {type(value).__name__}")


def save(output_dir: Path, step: int, lora: dict[str, torch.Tensor], optimizer_state: dict[str, Any],
         state: dict[str, Any], keep: int) -> Path:
    root = checkpoint_dir(output_dir)
    final = root / f"step_{step:06d}"
    tmp = root / f".tmp_step_{step:06d}"
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    save_file(lora, str(tmp / "lora.safetensors"))
    tensors: dict[str, torch.Tensor] = {}
    layout = _encode(optimizer_state, tensors)
    save_file(tensors, str(tmp / OPT_TENSORS))
    (tmp / OPT_LAYOUT).write_text(json.dumps(layout), encoding="utf-8")
    (tmp / STATE).write_text(json.dumps(dict(state, step=step), indent=1), encoding="utf-8")
    if final.exists():
        shutil.rmtree(final)
    os.replace(tmp, final)
    for old in list_checkpoints(output_dir)[: -max(1, keep)]:
        shutil.rmtree(old, ignore_errors=True)
    return final


def _damaged(folder: Path, exc: BaseException | str) -> InputError:
    reason = str(exc).splitlines()[0][:160] if str(exc) else type(exc).__name__
    return InputError(f"training checkpoint '{folder}' is damaged ({reason})", _FIX)


def _read_state(folder: Path) -> dict[str, Any]:
    try:
        state = json.loads((folder / STATE).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise _damaged(folder, f"{STATE}: {exc}") from exc
    if not isinstance(state, dict) or not isinstance(state.get("step"), int) or state["step"] < 0:
        raise _damaged(folder, f"{STATE} has no step count")
    return state


def _load_optimizer(folder: Path) -> dict[str, Any]:
    if (folder / OPT_LAYOUT).is_file() or (folder / OPT_TENSORS).is_file():
        try:
            layout = json.loads((folder / OPT_LAYOUT).read_text(encoding="utf-8"))
            tensors = load_file(str(folder / OPT_TENSORS))
            value = _decode(layout, tensors)
        except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError, RuntimeError) as exc:
            raise _damaged(folder, f"optimizer state: {exc}") from exc
        except Exception as exc:  # noqa: BLE001 - safetensors raises its own SafetensorError
            raise _damaged(folder, f"optimizer state: {exc}") from exc
    elif (folder / LEGACY_OPT).is_file():
        try:  # an earlier version's checkpoint: only tensors and plain containers are accepted
            value = torch.load(folder / LEGACY_OPT, map_location="cpu", weights_only=True)
        except pickle.UnpicklingError as exc:
            raise InputError(
                f"training checkpoint '{folder}' holds optimizer state ({LEGACY_OPT}) that would need "
                "unpickling, which could run code; refused", _FIX) from exc
        except (OSError, EOFError, RuntimeError, ValueError) as exc:
            raise _damaged(folder, f"{LEGACY_OPT}: {exc}") from exc
    else:
        raise _damaged(folder, "no optimizer state")
    if not isinstance(value, dict) or not isinstance(value.get("optimizer"), dict):
        raise _damaged(folder, "optimizer state has an unexpected layout")
    return value


def load(folder: Path) -> tuple[dict[str, torch.Tensor], dict[str, Any], dict[str, Any]]:
    state = _read_state(folder)
    try:
        lora = load_file(str(folder / "lora.safetensors"))
    except Exception as exc:  # noqa: BLE001 - OSError or safetensors' own SafetensorError
        raise _damaged(folder, f"lora.safetensors: {exc}") from exc
    return lora, _load_optimizer(folder), state


def find_resumable(output_dir: Path, fingerprint: str) -> Path | None:
    """Newest checkpoint of this run; a checkpoint of a different run is an error, not a silent restart."""
    found = list_checkpoints(output_dir)
    if not found:
        return None
    latest = found[-1]
    state = _read_state(latest)
    if state.get("fingerprint") != fingerprint:
        raise InputError(
            f"'{output_dir}' holds checkpoints of a run with other settings or photos",
            "train into a new folder, or delete its checkpoints/ folder to start over",
        )
    return latest
