"""Cache of inversions: a second edit of the same photo with another target prompt skips inversion.

Keyed by the photo's pixel hash, the model (with its LoRAs), the source and identity prompts, and
every parameter the inversion depends on. Entries hold the inverted latents, noise maps and the
source-mask attention sums recorded during inversion. Kept in memory (small LRU) and, when a folder
is given, on disk (written atomically, so a crash never leaves a half entry).
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import tempfile
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from .attention import AttentionStore
from .inversion import Inversion, Schedule


@dataclass
class CachedInversion:
    inversion: Inversion
    source_store: AttentionStore


def inversion_key(**parts: Any) -> str:
    text = json.dumps(parts, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


class InversionCache:
    def __init__(self, folder: str | os.PathLike[str] | None = None, max_memory: int = 4) -> None:
        self.folder = Path(folder) if folder is not None else None
        self.max_memory = max_memory
        self._mem: OrderedDict[str, CachedInversion] = OrderedDict()
        self.hits = 0
        self.misses = 0

    def get(self, key: str, device: torch.device) -> CachedInversion | None:
        item = self._mem.get(key)
        if item is None and self.folder is not None:
            path = self.folder / f"{key}.pt"
            if path.is_file():
                try:
                    item = _from_state(torch.load(path, map_location="cpu", weights_only=True), device)
                except (OSError, RuntimeError, KeyError, EOFError, pickle.UnpicklingError,  # never unpickled
                        ValueError, TypeError, AttributeError, IndexError):  # loads, but not an entry of ours
                    path.unlink(missing_ok=True)  # damaged entry: recompute rather than fail
                    item = None
                if item is not None:
                    self._remember(key, item)
        if item is None:
            self.misses += 1
            return None
        self._mem.move_to_end(key)
        self.hits += 1
        return CachedInversion(item.inversion.to(device), item.source_store.clone())

    def put(self, key: str, item: CachedInversion) -> None:
        self._remember(key, CachedInversion(item.inversion, item.source_store.clone()))
        if self.folder is None:
            return
        self.folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.folder, suffix=".tmp")
        os.close(fd)
        try:
            torch.save(_to_state(item), tmp)
            os.replace(tmp, self.folder / f"{key}.pt")
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)

    def clear(self) -> None:
        self._mem.clear()
        if self.folder is not None and self.folder.is_dir():
            for p in self.folder.glob("*.pt"):
                p.unlink(missing_ok=True)

    def _remember(self, key: str, item: CachedInversion) -> None:
        self._mem[key] = item
        self._mem.move_to_end(key)
        while len(self._mem) > self.max_memory:
            self._mem.popitem(last=False)


def _to_state(item: CachedInversion) -> dict[str, Any]:
    inv = item.inversion
    return {
        "xs": torch.cat([x.cpu() for x in inv.xs]),
        "zs": {str(i): z.cpu() for i, z in enumerate(inv.zs) if z is not None},
        "timesteps": torch.tensor(inv.schedule.timesteps),
        "abar": inv.schedule.abar,
        "abar_prev": inv.schedule.abar_prev,
        "skip": inv.skip,
        "store": item.source_store.state_dict(),
    }


def _check_state(state: Any) -> None:
    """An entry on disk is a hostile file: every field of the structure ``_to_state`` writes, checked
    (types, shapes, ranges, finiteness), or ValueError. An entry that loads but is not ours is a miss."""
    def tensor(value: Any, dims: int, what: str) -> torch.Tensor:
        if not isinstance(value, torch.Tensor) or value.dim() != dims:
            raise ValueError(f"{what} is not a {dims}-d tensor")
        if value.is_floating_point() and not bool(torch.isfinite(value).all()):
            raise ValueError(f"{what} has non-finite values")
        return value

    if not isinstance(state, dict):
        raise ValueError("entry is not a dict")
    xs = tensor(state.get("xs"), 4, "xs")
    if not xs.is_floating_point() or xs.shape[0] < 2:
        raise ValueError("xs holds no latents")
    n = xs.shape[0] - 1
    zs = state.get("zs")
    if not isinstance(zs, dict):
        raise ValueError("zs is not a dict")
    for k, z in zs.items():
        if not (isinstance(k, str) and k.isdigit() and int(k) < n):
            raise ValueError(f"noise map index {k!r} is out of range")
        if tuple(tensor(z, 4, "noise map").shape) != (1, *xs.shape[1:]):
            raise ValueError("noise map shape differs from the latents'")
    timesteps = tensor(state.get("timesteps"), 1, "timesteps")
    for name in ("abar", "abar_prev"):
        if tensor(state.get(name), 1, name).shape[0] != n:
            raise ValueError(f"{name} has the wrong length")
    if timesteps.shape[0] != n or timesteps.is_floating_point():
        raise ValueError("timesteps do not match the latents")
    skip = state.get("skip")
    if isinstance(skip, bool) or not isinstance(skip, int) or not 0 <= skip <= n:
        raise ValueError("skip is out of range")
    store = state.get("store")
    if not isinstance(store, dict):
        raise ValueError("store is not a dict")
    hw = store.get("hw")
    if not (isinstance(hw, (tuple, list)) and len(hw) == 2 and all(isinstance(v, int) and v > 0 for v in hw)):
        raise ValueError("store size is not two positive whole numbers")
    ca, sa = tensor(store.get("ca_sum"), 2, "ca_sum"), tensor(store.get("sa_sum"), 3, "sa_sum")
    seq = hw[0] * hw[1]
    if ca.shape[1] != seq or tuple(sa.shape) != (ca.shape[0], seq, seq):
        raise ValueError("attention sums do not match the store size")
    for name in ("ca_count", "sa_count"):
        count = store.get(name)
        if isinstance(count, bool) or not isinstance(count, int) or count < 0:
            raise ValueError(f"{name} is not a count")


def _from_state(state: dict[str, Any], device: torch.device) -> CachedInversion:
    _check_state(state)
    xs = list(state["xs"].unsqueeze(1).unbind(0))
    n = len(xs) - 1
    zs: list[torch.Tensor | None] = [None] * n
    for k, z in state["zs"].items():
        zs[int(k)] = z
    sched = Schedule([int(t) for t in state["timesteps"]], state["abar"], state["abar_prev"])
    inv = Inversion(xs, zs, sched, int(state["skip"])).to(device)
    return CachedInversion(inv, AttentionStore.from_state_dict(state["store"], device))
