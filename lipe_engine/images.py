"""Reading user photos for the model, with one stated size policy.

Size policy (used by editing and training alike): the photo is opened by ``photo_reader.open_photo``
(upright, sRGB, alpha on white, RGB; the one way a user's photo is opened) and
resized (never cropped, so no pixel of the subject is lost) so that its longer side equals the
model's native size (1024 for SDXL), each side then rounded to the nearest multiple of ``multiple``
(64 for SDXL: VAE factor 8 x UNet depth 8). The aspect ratio therefore changes by at most a few
percent; results are resized back to the photo's original size. Aspect ratios beyond 4:1 are
refused with a message, since the model cannot render them.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image

from .errors import InputError
from .photo_reader import open_photo

MAX_ASPECT = 4.0
__all__ = ["PreparedImage", "model_size", "pixel_hash", "prepare_image", "to_pil", "to_tensor"]


@dataclass(frozen=True)
class PreparedImage:
    image: Image.Image  # at model resolution
    original_size: tuple[int, int]  # (width, height) of the photo as the user sees it
    content_hash: str  # sha256 of the decoded, oriented RGB pixels (cache key)
    original: Image.Image  # oriented RGB photo at its original size


def model_size(width: int, height: int, native: int, multiple: int) -> tuple[int, int]:
    """(w, h) the model works at for a photo of (width, height); see the module policy."""
    if width <= 0 or height <= 0:
        raise InputError(f"image size {width}x{height} is empty", "give a real photo")
    aspect = max(width, height) / min(width, height)
    if aspect > MAX_ASPECT:
        raise InputError(
            f"image aspect ratio {width}x{height} is beyond {MAX_ASPECT:.0f}:1",
            "crop the photo closer to the subject first",
        )
    scale = native / max(width, height)

    def side(v: int) -> int:
        return max(multiple, int(round(v * scale / multiple)) * multiple)

    return side(width), side(height)


def pixel_hash(img: Image.Image) -> str:
    h = hashlib.sha256()
    h.update(f"{img.size}:{img.mode}".encode())
    h.update(img.tobytes())
    return h.hexdigest()


def prepare_image(
    source: str | os.PathLike[str] | Image.Image, native: int, multiple: int
) -> PreparedImage:
    original = open_photo(source)
    w, h = model_size(original.width, original.height, native, multiple)
    resized = original if (w, h) == original.size else original.resize((w, h), Image.Resampling.LANCZOS)
    return PreparedImage(resized, original.size, pixel_hash(original), original)


def to_tensor(img: Image.Image) -> torch.Tensor:
    """PIL RGB -> (1, 3, H, W) float in [-1, 1]."""
    arr = np.asarray(img, dtype=np.float32) / 127.5 - 1.0
    return torch.from_numpy(arr).permute(2, 0, 1).unsqueeze(0).contiguous()


def to_pil(t: torch.Tensor) -> list[Image.Image]:
    """(B, 3, H, W) in [-1, 1] -> PIL images."""
    arr = ((t.detach().float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
    return [Image.fromarray(a.permute(1, 2, 0).cpu().numpy()) for a in arr]
