"""An edit's files: its outputs and masks, written by one set of functions for the CLI, the demo and
the desktop; a saved version records the settings the engine used (``EditResult.params``)."""

from __future__ import annotations

import functools
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from PIL import Image

from ..library.safe_paths import write_new_file
from .editor import EditResult

if TYPE_CHECKING:
    from ..library import Library
    from ..library.records import Photo

IMAGE_FORMATS = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".webp": "WEBP"}


def mask_image(mask: Any, size: int | None = None) -> Image.Image:
    """A mask in [0, 1] as an 8-bit grey picture (``size``: scaled to size x size, cells kept sharp)."""
    img = Image.fromarray((np.clip(np.asarray(mask, dtype=np.float32), 0, 1) * 255).astype(np.uint8))
    return img if size is None else img.resize((size, size), Image.Resampling.NEAREST)


def save_mask(mask: Any, dest: str | os.PathLike[str]) -> None:
    mask_image(mask).save(dest, format="PNG")


def output_paths(out: Path, n: int) -> list[Path]:
    """One output keeps its name; several get _1, _2... (one per target prompt x seed)."""
    return [out] if n == 1 else [out.with_name(f"{out.stem}_{i + 1}{out.suffix}") for i in range(n)]


def mask_paths(folder: Path, n: int) -> list[Path]:
    """The source mask, then each output's target and union masks."""
    return [folder / "source_mask.png", *(folder / f"{kind}_mask_{i + 1}.png"
                                          for i in range(n) for kind in ("target", "union"))]


def _save_image(img: Image.Image, fmt: str, dest: str | os.PathLike[str]) -> None:
    img.save(dest, format=fmt)


def write_edit_files(result: EditResult, paths: Sequence[Path], masks: Path | None = None,
                     overwrite: bool = False) -> list[Path]:
    """Write each output to its path (checked beforehand by the caller) and, with ``masks``, the
    source, target and union masks there; never replaces a file unless ``overwrite``."""
    written = []
    for img, path in zip(result.images, paths, strict=True):
        fmt = IMAGE_FORMATS.get(Path(path).suffix.lower(), "PNG")
        write_new_file(path, functools.partial(_save_image, img, fmt), overwrite=overwrite)
        written.append(Path(path))
    if masks is not None:
        arrays = [result.source_mask,
                  *(m for pair in zip(result.target_masks, result.union_masks, strict=True) for m in pair)]
        for arr, path in zip(arrays, mask_paths(masks, len(result.target_masks)), strict=True):
            write_new_file(path, functools.partial(save_mask, arr), overwrite=overwrite)
            written.append(path)
    return written


def save_edit_version(lib: Library, photo: Photo, result: EditResult, index: int, *, source_prompt: str,
                      identity: int | None = None, lora_id: int | None = None) -> Any:
    """Write output ``index`` and its masks under the data folder and record them as a new version of
    ``photo`` with the settings that made it (the original file is never touched)."""
    out = Path(lib.new_edit_path(photo, ".png"))
    result.images[index].save(out, format="PNG")
    mask_files = []
    for name, mask in (("source", result.source_mask), ("target", result.target_masks[index])):
        path = out.with_name(f"{out.stem}-{name}-mask.png")
        save_mask(mask, path)
        mask_files.append(str(path))
    return lib.record_edit(photo, out, source_prompt=source_prompt, target_prompt=result.prompts[index],
                           params=result.params_of(index), mask_paths=mask_files, identity=identity,
                           lora_id=lora_id)
