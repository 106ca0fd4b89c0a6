"""Generated photo folders and libraries for tests and benchmarks (no real photos needed)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from PIL import Image

from ..library import Library


def make_photos(folder: Path, n: int, size: tuple[int, int] = (96, 72)) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for i in range(n):
        img = Image.new("RGB", size, ((i * 37) % 256, (i * 91) % 256, (i * 53) % 256))
        for x in range(0, size[0], 8):
            img.putpixel((x, (x + i) % size[1]), (255, 255, 255))
        p = folder / f"photo_{i:03d}.jpg"
        img.save(p, quality=80)
        out.append(p)
    return out


def make_library(root: Path, n: int = 12) -> tuple[Path, Path]:
    """A data dir with one scanned folder of ``n`` generated photos; returns (data_dir, folder)."""
    folder = root / "pictures"
    make_photos(folder, n)
    data = root / "data"
    with Library.open(data) as lib:
        f = lib.add_folder(folder)
        lib.scan([f.id])
    return data, folder


HELPER_MODEL_VARIABLES = ("LIPE_LLAVA_GGUF", "LIPE_LLAVA_MMPROJ", "LIPE_LLM_GGUF", "LIPE_SDXL_MODEL")


def add_rex(lib: Any, references: int = 3, targets: int = 2, caption: str | None = "a dog sitting on grass") -> Any:
    """Identity "Rex" (a dog) of the library's first photos: ``references`` to train on, the next
    ``targets`` to edit; with ``caption``, every photo of the library gets it. Returns the identity."""
    photos = lib.list_photos()
    rex = lib.create_identity("Rex", "dog")
    lib.add_identity_photos(rex, photos[:references], role="reference")
    if targets:
        lib.add_identity_photos(rex, photos[references:references + targets], role="target")
    if caption is not None:
        for p in photos:
            lib.set_caption(p, caption)
    return rex


def make_big_library(root: Path, n: int, distinct: int = 8, originals: list[Path] | None = None) -> Path:
    """A data dir with ``n`` photo records (inserted directly: scanning is not what these tests and
    benchmarks time) whose files are hard links to ``originals`` (default: ``distinct`` generated
    320x240 JPEGs); each record has its own content hash and a capture date spread over 15 years."""
    if originals is None:
        originals = make_photos(root / "originals", distinct, (320, 240))
    with Image.open(originals[0]) as im:
        width, height = im.size
    folder = root / "Pictures"
    folder.mkdir()
    rows = []
    for i in range(n):
        dest = folder / f"IMG_{i:05d}.jpg"
        os.link(originals[i % len(originals)], dest)
        st = dest.stat()
        taken = f"20{10 + i % 15}-0{1 + i % 9}-1{i % 10}T12:00"
        rows.append((str(dest), f"{i:064x}", st.st_size, st.st_mtime, width, height, taken))
    data = root / "data"
    with Library.open(data) as lib:
        f = lib.add_folder(folder)
        with lib.transaction() as c:
            c.executemany(
                "INSERT INTO photos(folder_id, path, content_hash, size, mtime, width, height, taken_at, "
                "orientation, format) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 1, 'JPEG')",
                [(f.id, *r) for r in rows],
            )
    return data
