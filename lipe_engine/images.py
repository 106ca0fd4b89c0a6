"""Reading user photos for the model, with one stated size policy.

Size policy (used by editing and training alike): the photo is EXIF-rotated, converted to RGB and
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
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps, UnidentifiedImageError

from .errors import InputError

MAX_ASPECT = 4.0


@dataclass(frozen=True)
class PreparedImage:
    image: Image.Image  # at model resolution
    original_size: tuple[int, int]  # (width, height) of the photo as the user sees it
    content_hash: str  # sha256 of the decoded, oriented RGB pixels (cache key)
    original: Image.Image  # oriented RGB photo at its original size


def open_photo(source: str | os.PathLike[str] | Image.Image) -> Image.Image:
    """Open a photo (EXIF orientation applied, RGB) or raise a one-line InputError."""
    if isinstance(source, Image.Image):
        img = source
    else:
        path = Path(source).expanduser()
        if not path.exists():
            raise InputError(f"image '{path}' does not exist", "check the path")
        if path.is_dir():
            raise InputError(f"'{path}' is a folder, not an image", "give a JPEG, PNG or WebP file")
        if path.stat().st_size == 0:
            raise InputError(f"image '{path}' is empty (0 bytes)", "the file is damaged: pick another photo")
        try:
            img = Image.open(path)
            img.load()
        except UnidentifiedImageError as exc:
            raise InputError(f"'{path}' is not an image Pillow can read", "give a JPEG, PNG or WebP file") from exc
        except (OSError, Image.DecompressionBombError, ValueError) as exc:
            raise InputError(f"image '{path}' could not be decoded ({exc})", "the file may be truncated") from exc
    img = ImageOps.exif_transpose(img) or img
    if img.mode != "RGB":
        if img.mode in ("RGBA", "LA", "P"):
            rgba = img.convert("RGBA")
            bg = Image.new("RGB", rgba.size, (255, 255, 255))
            bg.paste(rgba, mask=rgba.getchannel("A"))
            img = bg
        else:
            img = img.convert("RGB")
    return img


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
