"""Training examples: open photos, crop/resize them to the training size, SDXL time ids, VAE latents.

An example is (image, text). Instance examples are the reference photos with their editing-oriented
captions; class examples are the regularization images with their own prompts (LIPE uses one prompt per
image, not a single class prompt). Each keeps its SDXL micro-conditioning (original size, crop
top-left, target size), so class images get their own time ids.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image
from safetensors.torch import load_file, save_file

from ..errors import InputError
from ..models.vae import encode_pixels
from ..photo_reader import open_photo

ImageLike = Image.Image | str | os.PathLike
Item = tuple[ImageLike, str]


@dataclass
class Example:
    pixels: torch.Tensor  # (3, R, R) in [-1, 1]
    text: str
    time_ids: tuple[int, int, int, int, int, int]  # orig_h, orig_w, crop_top, crop_left, R, R
    digest: str  # content hash of pixels + text (cache key, resume check)


def prepare_example(image: Image.Image, text: str, resolution: int) -> Example:
    """Resize the short side to ``resolution`` and center-crop a square; record the SDXL time ids."""
    w, h = image.size
    scale = resolution / min(w, h)
    nw, nh = max(resolution, round(w * scale)), max(resolution, round(h * scale))
    resized = image.resize((nw, nh), Image.Resampling.LANCZOS)
    left, top = (nw - resolution) // 2, (nh - resolution) // 2
    crop = resized.crop((left, top, left + resolution, top + resolution))
    arr = np.asarray(crop, dtype=np.float32) / 127.5 - 1.0
    pixels = torch.from_numpy(arr).permute(2, 0, 1).contiguous()
    digest = hashlib.sha256(np.asarray(crop).tobytes() + text.encode("utf-8")).hexdigest()[:16]
    return Example(pixels, text, (h, w, top, left, resolution, resolution), digest)


def load_examples(items: Sequence[Item], resolution: int, what: str) -> list[Example]:
    examples = []
    for i, entry in enumerate(items):
        try:
            image, text = entry
        except (TypeError, ValueError) as exc:
            raise InputError(f"{what} #{i + 1} is not an (image, caption) pair", "pass a list of (image, text) tuples") from exc
        if not isinstance(text, str) or not text.strip():
            raise InputError(f"{what} #{i + 1} has an empty caption", "caption every photo (run `lipe caption`) or type one")
        examples.append(prepare_example(open_photo(image, what), text.strip(), resolution))
    return examples


@torch.no_grad()
def encode_latents(vae, examples: Sequence[Example], device: torch.device, cache_dir: Path | None) -> torch.Tensor:
    """VAE latents (``models.vae.encode_pixels``: the posterior mean, shifted and scaled), cached on disk by content hash."""
    cached: dict[str, torch.Tensor] = {}
    cache_file = cache_dir / "latents.safetensors" if cache_dir else None
    if cache_file is not None and cache_file.is_file():
        try:
            cached = load_file(str(cache_file))
        except Exception:  # noqa: BLE001 - a damaged cache (any safetensors error) is rebuilt, never fatal
            cached = {}
    out = []
    expected = _latent_shape(vae, examples[0]) if examples else None
    for ex in examples:
        lat = cached.get(ex.digest)
        if lat is not None and not _usable_latent(lat, expected):
            lat = None  # wrong shape, dtype or non-finite values in our own cache: recompute
        if lat is None:
            lat = encode_pixels(vae, ex.pixels.unsqueeze(0))[0].cpu().contiguous()  # with the VAE's shift_factor
            cached[ex.digest] = lat
        out.append(lat)
    if len({tuple(t.shape) for t in out}) > 1:  # a cached entry of another size: rebuild them all
        cached = {ex.digest: encode_pixels(vae, ex.pixels.unsqueeze(0))[0].cpu().contiguous() for ex in examples}
        out = [cached[ex.digest] for ex in examples]
    if cache_file is not None:
        cache_file.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache_file.with_suffix(".tmp")
        save_file(cached, str(tmp))
        os.replace(tmp, cache_file)
    return torch.stack(out)


def _latent_shape(vae, example: Example) -> tuple[int, int, int] | None:
    """(C, h, w) the VAE makes of this example's pixels, from its config (None when it has none)."""
    config: Any = getattr(vae, "config", None)
    try:
        factor = 2 ** (len(config.block_out_channels) - 1)
        channels = int(config.latent_channels)
    except (AttributeError, TypeError):
        return None
    _, h, w = example.pixels.shape
    return channels, h // factor, w // factor


def _usable_latent(lat: object, expected: tuple[int, int, int] | None) -> bool:
    """A cached latent is read as a hostile file: a (C, h, w) float tensor of finite values, the right size."""
    return (isinstance(lat, torch.Tensor) and lat.dim() == 3 and lat.is_floating_point()
            and (expected is None or tuple(lat.shape) == expected) and bool(torch.isfinite(lat).all()))
