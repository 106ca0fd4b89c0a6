"""Training checkpoints: adapter weights + optimizer state + step, written atomically.

``<output>/checkpoints/step_000120/`` holds ``lora.safetensors``, ``optimizer.pt`` and ``state.json``
(written last, then the folder renamed into place), so a folder that exists is complete. A run
resumes from the newest checkpoint whose fingerprint (training settings + data) matches its own.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import torch

from ..errors import InputError

STATE = "state.json"


def checkpoint_dir(output_dir: Path) -> Path:
    return output_dir / "checkpoints"


def list_checkpoints(output_dir: Path) -> list[Path]:
    root = checkpoint_dir(output_dir)
    if not root.is_dir():
        return []
    found = [p for p in root.iterdir() if p.is_dir() and p.name.startswith("step_") and (p / STATE).is_file()]
    return sorted(found, key=lambda p: int(p.name.split("_")[1]))


def save(output_dir: Path, step: int, lora: dict[str, torch.Tensor], optimizer_state: dict[str, Any],
         state: dict[str, Any], keep: int) -> Path:
    from safetensors.torch import save_file

    root = checkpoint_dir(output_dir)
    final = root / f"step_{step:06d}"
    tmp = root / f".tmp_step_{step:06d}"
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    save_file(lora, str(tmp / "lora.safetensors"))
    torch.save(optimizer_state, tmp / "optimizer.pt")
    (tmp / STATE).write_text(json.dumps(dict(state, step=step), indent=1), encoding="utf-8")
    if final.exists():
        shutil.rmtree(final)
    os.replace(tmp, final)
    for old in list_checkpoints(output_dir)[: -max(1, keep)]:
        shutil.rmtree(old, ignore_errors=True)
    return final


def load(folder: Path) -> tuple[dict[str, torch.Tensor], dict[str, Any], dict[str, Any]]:
    from safetensors.torch import load_file

    state = json.loads((folder / STATE).read_text(encoding="utf-8"))
    lora = load_file(str(folder / "lora.safetensors"))
    optimizer_state = torch.load(folder / "optimizer.pt", map_location="cpu", weights_only=False)
    return lora, optimizer_state, state


def find_resumable(output_dir: Path, fingerprint: str) -> Path | None:
    """Newest checkpoint of this run; a checkpoint of a different run is an error, not a silent restart."""
    found = list_checkpoints(output_dir)
    if not found:
        return None
    latest = found[-1]
    state = json.loads((latest / STATE).read_text(encoding="utf-8"))
    if state.get("fingerprint") != fingerprint:
        raise InputError(
            f"'{output_dir}' holds checkpoints of a run with other settings or photos",
            "train into a new folder, or delete its checkpoints/ folder to start over",
        )
    return latest
