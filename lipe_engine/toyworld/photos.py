"""Is this the shipped toy model, and is this photo one of its world's? (The app warns before an edit
that cannot work: the 64-px toy model turns a real photo into a smear.)

A toy-world photo is rendered at 64x64 and saved as is or scaled up by a whole factor with nearest
neighbour (the screenshots' 256 px): square, a multiple of 64 px, and made of flat k x k blocks. A real
photo fails the size test from its header alone, or the block test (a camera photo is not constant
over 4x4 blocks).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from PIL import Image

from .. import toyworld
from ..errors import InputError
from ..photo_reader import decode, open_unloaded
from .world import SIZE

MAX_SIDE = 1024  # toy photos scaled beyond this are not expected (and decoding them costs time)
BLOCK_PSNR_DB = 34.0  # nearest-upscaled toy photos (JPEG q75-92) measured 36-46 dB; smooth camera photos up to 32


def is_toy_model(source: str | os.PathLike[str] | None) -> bool:
    """True when ``source`` (a model setting; "" means the default) is the shipped toy-world model."""
    text = str(source or "").strip()
    if not text:
        return True
    try:
        return Path(text).expanduser().resolve() == toyworld.TOY_MODEL_DIR.resolve()  # read late: the first-run tests point it elsewhere
    except OSError:
        return False


def looks_like_toy_photo(photo: str | os.PathLike[str] | Image.Image) -> bool:
    """True when the photo is a toy-world rendering (64 px, or a whole-factor nearest upscale of one)."""
    if isinstance(photo, Image.Image):
        return _blocky(photo, np)
    try:
        im = open_unloaded(photo, "photo")
        w, h = im.size
        if w != h or w % SIZE or w > MAX_SIDE:
            return False  # decided from the header: no decoding
        return _blocky(decode(im, "photo", str(photo)), np)
    except InputError:
        return False


def _blocky(im: Image.Image, np) -> bool:  # noqa: ANN001 - numpy passed in to keep the import lazy
    w, h = im.size
    if w != h or w % SIZE or w > MAX_SIDE:
        return False
    a = np.asarray(im.convert("RGB"), dtype=np.float32)
    k = w // SIZE
    if k == 1:
        return True
    blocks = a.reshape(SIZE, k, SIZE, k, 3)
    flat = np.broadcast_to(blocks.mean(axis=(1, 3), keepdims=True), blocks.shape)
    mse = float(np.mean((blocks - flat) ** 2))
    psnr = 10 * np.log10(255.0**2 / max(mse, 1e-6))
    return psnr >= BLOCK_PSNR_DB
