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

import numpy as np
import torch
from PIL import Image, ImageOps, UnidentifiedImageError

from ..errors import InputError
from ..models.vae import encode_pixels

ImageLike = Image.Image | str | os.PathLike
Item = tuple[ImageLike, str]


@dataclass
class Example:
    pixels: torch.Tensor  # (3, R, R) in [-1, 1]
    text: str
    time_ids: tuple[int, int, int, int, int, int]  # orig_h, orig_w, crop_top, crop_left, R, R
    digest: str  # content hash of pixels + text (cache key, resume check)


def open_image(item: ImageLike, what: str) -> Image.Image:
    """A PIL RGB image from a PIL image or a path, with EXIF rotation applied."""
    if isinstance(item, Image.Image):
        return item.convert("RGB")
    path = Path(item).expanduser()
    if not path.is_file():
        raise InputError(f"{what} '{path}' does not exist", "check the path or re-import the photo")
    try:
        with Image.open(path) as im:
            im.load()
            return ImageOps.exif_transpose(im).convert("RGB")
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        raise InputError(f"{what} '{path}' cannot be read as an image ({type(exc).__name__})",
                         "replace it with a JPEG or PNG file") from exc


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
        examples.append(prepare_example(open_image(image, what), text.strip(), resolution))
    return examples


@torch.no_grad()
def encode_latents(vae, examples: Sequence[Example], device: torch.device, cache_dir: Path | None) -> torch.Tensor:
    """VAE latents (``models.vae.encode_pixels``: the posterior mean, shifted and scaled), cached on disk by content hash."""
    from safetensors.torch import load_file, save_file

    cached: dict[str, torch.Tensor] = {}
    cache_file = cache_dir / "latents.safetensors" if cache_dir else None
    if cache_file is not None and cache_file.is_file():
        try:
            cached = load_file(str(cache_file))
        except (OSError, ValueError, RuntimeError):
            cached = {}
    out = []
    for ex in examples:
        if ex.digest not in cached:
            lat = encode_pixels(vae, ex.pixels.unsqueeze(0))  # with the VAE's shift_factor, like every encode
            cached[ex.digest] = lat[0].cpu().contiguous()
        out.append(cached[ex.digest])
    if cache_file is not None:
        cache_file.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache_file.with_suffix(".tmp")
        save_file(cached, str(tmp))
        os.replace(tmp, cache_file)
    return torch.stack(out)
