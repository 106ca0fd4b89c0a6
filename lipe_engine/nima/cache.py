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
                except (OSError, RuntimeError, KeyError, EOFError, pickle.UnpicklingError):  # never unpickled
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


def _from_state(state: dict[str, Any], device: torch.device) -> CachedInversion:
    xs = list(state["xs"].unsqueeze(1).unbind(0))
    n = len(xs) - 1
    zs: list[torch.Tensor | None] = [None] * n
    for k, z in state["zs"].items():
        zs[int(k)] = z
    sched = Schedule([int(t) for t in state["timesteps"]], state["abar"], state["abar_prev"])
    inv = Inversion(xs, zs, sched, int(state["skip"])).to(device)
    return CachedInversion(inv, AttentionStore.from_state_dict(state["store"], device))
