"""Thin adapters from the GUI to engine calls that run on worker threads.

Nothing here computes: each function opens what it needs (a worker thread gets its own library
connection) and calls the engine with the ``progress``/``cancel`` the ``Worker`` passes in.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from lipe_engine.library import Library
from lipe_engine.progress import CancelToken, ProgressCallback

log = logging.getLogger(__name__)


def scan_library(
    data_dir: Path, folder_ids: list[int] | None, *, progress: ProgressCallback, cancel: CancelToken
) -> str:
    """Import/rescan folders on a worker thread; returns the engine's one-line summary."""
    with Library.open(data_dir) as lib:
        report = lib.scan(folder_ids, progress=progress, cancel=cancel)
        return report.summary()


def export_copy(src: Path, dest: Path, *, progress: ProgressCallback, cancel: CancelToken) -> Path:
    """Write a copy of an image (format from ``dest``'s suffix); the source is only read."""
    from PIL import Image

    cancel.raise_if_cancelled()
    with Image.open(src) as img:
        out = img.convert("RGB") if dest.suffix.lower() in (".jpg", ".jpeg") else img.copy()
    dest.parent.mkdir(parents=True, exist_ok=True)
    out.save(dest)
    return dest


def summary_of(result: Any) -> str:
    return str(result) if result is not None else "done"
