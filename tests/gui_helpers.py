"""Helpers for the GUI tests: a generated photo library (no real photos needed)."""

from __future__ import annotations

from pathlib import Path

from PIL import Image


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
    from lipe_engine.library import Library

    folder = root / "pictures"
    make_photos(folder, n)
    data = root / "data"
    with Library.open(data) as lib:
        f = lib.add_folder(folder)
        lib.scan([f.id])
    return data, folder
