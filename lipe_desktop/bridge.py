"""Thin adapters from the GUI to engine calls that run on worker threads.

Nothing here computes: each function opens what it needs (a worker thread gets its own library
connection) and calls the engine with the ``progress``/``cancel`` the ``Worker`` passes in.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import huggingface_hub
from huggingface_hub.utils import filter_repo_objects
from PIL import Image

from lipe_engine import locations
from lipe_engine.errors import Cancelled, ModelLoadError
from lipe_engine.library import Library
from lipe_engine.progress import CancelToken, ProgressCallback, ProgressReporter
from lipe_engine.toyworld import album as toy_album

from .settings import _HF_ID, _hf_cached

log = logging.getLogger(__name__)


def scan_library(
    data_dir: Path, folder_ids: list[int] | None, *, progress: ProgressCallback, cancel: CancelToken
) -> str:
    """Import/rescan folders on a worker thread; returns the engine's one-line summary."""
    with Library.open(data_dir) as lib:
        report = lib.scan(folder_ids, progress=progress, cancel=cancel)
        if report.skipped:  # the reasons, not only a count
            path, reason = report.skipped[0]
            return (f"{report.summary()} (e.g. {Path(path).name}: {reason}); right-click the folder in the "
                    "sidebar to see every skipped file")
        return report.summary()


def export_copy(src: Path, dest: Path, *, progress: ProgressCallback, cancel: CancelToken) -> Path:
    """Write a copy of an image (format from ``dest``'s suffix); the source is only read."""
    cancel.raise_if_cancelled()
    with Image.open(src) as img:
        out = img.convert("RGB") if dest.suffix.lower() in (".jpg", ".jpeg") else img.copy()
    dest.parent.mkdir(parents=True, exist_ok=True)
    out.save(dest)
    return dest


def add_toy_album(data_dir: Path, *, progress: ProgressCallback, cancel: CancelToken) -> str:
    """"Try it on toy photos": toy-world photos in a new folder of the data dir, scanned, with an
    identity of their subject; returns a one-line summary."""
    base = locations.DataLayout(data_dir).toy_album
    folder = next(p for k in range(1000) if not (p := base.with_name(f"{base.name}{f'-{k}' if k else ''}")).exists()
                  or not any(p.iterdir()))
    with Library.open(data_dir) as lib:
        ident = toy_album.add_toy_album(lib, folder, progress=progress, cancel=cancel)
        n = len(lib.identity_photos(ident.id, status=None))
    return (f"Added toy photos and the identity “{ident.name}” ({n} of its photos): queue its training, "
            "then edit one of its photos")


def summary_of(result: Any) -> str:
    return str(result) if result is not None else "done"


# Diffusers SDXL files only: the repositories also hold 7 GB single-file checkpoints and fp16 copies.
SDXL_FILES = [
    "model_index.json",
    "*/*.json",
    "*/*.txt",
    "*/model.safetensors",
    "*/diffusion_pytorch_model.safetensors",
]


def needs_download(source: str, allow_downloads: bool) -> bool:
    """True only when the user allowed downloads and ``source`` is a hub id that is not cached yet."""
    text = source.strip()
    if not allow_downloads or Path(text).expanduser().exists() or not _HF_ID.match(text):
        return False
    return not _hf_cached(text)


def download_model(repo_id: str, *, progress: ProgressCallback, cancel: CancelToken) -> str:
    """Fetch a diffusers SDXL repository into the Hugging Face cache (the user asked for it: Settings
    "Allow downloads" or the first-run choice). Cancel takes effect between files."""
    reporter = ProgressReporter(progress, cancel)
    try:
        names = list(filter_repo_objects(huggingface_hub.HfApi().list_repo_files(repo_id), allow_patterns=SDXL_FILES))
        reporter.start(f"Downloading {repo_id}", len(names))
        for name in names:
            huggingface_hub.hf_hub_download(repo_id, name)  # looked up here: tests replace it
            reporter.step()
    except Exception as exc:  # noqa: BLE001 - network, auth and offline errors all become one line

        if isinstance(exc, Cancelled):
            raise
        first = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
        raise ModelLoadError(
            f"could not download '{repo_id}' ({first})",
            "check the internet connection and the model id, or pick a local model in Settings",
        ) from exc
    log.info("downloaded %s (%d files)", repo_id, len(names))
    return repo_id
