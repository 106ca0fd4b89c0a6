"""How many edit outputs (target prompts x seeds) one reverse process samples at once.

All outputs of an edit share one inversion; the reverse process runs them in batches so that a
long prompt list or many seeds does not ask the device for more memory than it has. The batch is
the free memory divided by an *estimate* of what one output costs during sampling, and on a GPU a
batch that still runs out of memory is halved and redone (``sample_in_batches``), so the estimate
only needs to be of the right size, not exact.

Per output, one guided UNet evaluation holds two rows (unconditional and conditional) of
activations. Per row we count, at each UNet level i with C_i channels over T_i latent positions,
the skip connections kept for the decoder (layers_per_block + 1 tensors of T_i x C_i per level)
plus the largest transient of the level (the transformer feed-forward: GEGLU's 8 x C_i
intermediate and its products, about 16 x T_i x C_i), in the UNet's dtype, times
``SAFETY`` for allocator slack and kernels' workspaces. Recording adds the output's running
self-attention sum (L x L fp32) and the inverted latents the blend reads are already held.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import torch

try:  # free memory off Linux (psutil comes with accelerate; without it the size is not told)
    import psutil  # type: ignore[import-untyped]
except ImportError:  # pragma: no cover - depends on the environment
    psutil = None

SAFETY = 4.0  # multiplies the activation estimate (allocator slack, workspaces, what is not counted)
MEMORY_FRACTION = 0.8  # of the free memory the edit may plan for

T = TypeVar("T")


def free_memory_bytes(device: torch.device) -> int | None:
    """Memory the edit can still take on ``device`` (None when it cannot be told)."""
    if device.type == "cuda":
        free, _total = torch.cuda.mem_get_info(device)
        cached = torch.cuda.memory_reserved(device) - torch.cuda.memory_allocated(device)
        return int(free + cached)
    if device.type == "mps":
        try:
            return int(torch.mps.recommended_max_memory() - torch.mps.driver_allocated_memory())
        except (AttributeError, RuntimeError):
            return None
    try:  # CPU (Linux): MemAvailable counts reclaimable page cache, like `free`'s "available"
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return int(psutil.virtual_memory().available) if psutil is not None else None


def output_bytes(unet: Any, latent_hw: tuple[int, int], record_hw: tuple[int, int] | None) -> int:
    """Estimated memory one edit output takes while sampling (see the module docstring)."""
    cfg = unet.config
    h, w = latent_hw
    elem = torch.finfo(unet.dtype).bits // 8
    layers = int(cfg.layers_per_block if isinstance(cfg.layers_per_block, int) else max(cfg.layers_per_block))
    kept, peak = 0, 0
    for i, channels in enumerate(cfg.block_out_channels):
        tokens = (h // 2**i) * (w // 2**i)
        kept += (layers + 1) * tokens * channels
        peak = max(peak, 16 * tokens * channels)
    per_row = int(SAFETY * (kept + peak) * elem)
    store = 4 * (record_hw[0] * record_hw[1]) ** 2 if record_hw else 0
    return 2 * per_row + store


def edit_batch_size(unet: Any, device: torch.device, latent_hw: tuple[int, int],
                    record_hw: tuple[int, int] | None, n_outputs: int, max_batch: int | None = None) -> int:
    """Outputs per reverse-process batch: ``max_batch`` when given, else what the free memory allows."""
    if n_outputs < 1:
        return 1
    if max_batch is not None:
        return max(1, min(int(max_batch), n_outputs))
    free = free_memory_bytes(device)
    if free is None:
        return n_outputs
    fit = int(MEMORY_FRACTION * free) // max(1, output_bytes(unet, latent_hw, record_hw))
    return max(1, min(n_outputs, fit))


def _is_out_of_memory(exc: BaseException) -> bool:
    oom = getattr(torch, "OutOfMemoryError", None)
    return (oom is not None and isinstance(exc, oom)) or "out of memory" in str(exc).lower()


def sample_in_batches(items: Sequence[T], batch: int, run: Callable[[Sequence[T]], Any],
                      device: torch.device) -> list[Any]:
    """``run`` on consecutive slices of ``items`` of at most ``batch``; on a GPU out-of-memory error
    the slice is halved and redone (down to one item, whose error is raised)."""
    results: list[Any] = []
    start, size = 0, max(1, batch)
    while start < len(items):
        part = items[start : start + size]
        try:
            results.append(run(part))
        except (RuntimeError, MemoryError) as exc:
            if device.type == "cpu" or size == 1 or not _is_out_of_memory(exc):
                raise
            size = max(1, size // 2)
            if device.type == "cuda":
                torch.cuda.empty_cache()
            continue
        start += len(part)
    return results
