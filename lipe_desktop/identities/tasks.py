"""Identity work that runs on worker threads (each opens its own library connection)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lipe_engine import captioning, locations, similarity
from lipe_engine.errors import LipeError
from lipe_engine.library import Library
from lipe_engine.progress import CancelToken, ProgressCallback

from ..settings import CLIP_LABEL


def suggest_similar(
    data_dir: Path, identity_id: int, clip_model: str, *, progress: ProgressCallback, cancel: CancelToken
) -> str:
    with Library.open(data_dir) as lib:
        # the engine's hints name the CLI; in the app the place to fix it is Settings
        encoder = similarity.clip_for_library(lib, clip_model or None, where=f"Settings > {CLIP_LABEL}")
        found = similarity.suggest_similar(lib, identity_id, encoder, progress=progress, cancel=cancel)
        return f"{len(found)} similar photo(s) suggested: confirm or reject them (right-click)"


def _llava_set(lib: Library, settings: dict) -> None:
    if not (locations.resolve("llava_gguf", settings.get("llava_gguf") or None, lib)
            and locations.resolve("llava_mmproj", settings.get("llava_mmproj") or None, lib)):
        # the engine's own line names command-line flags and variables; here it is a setting
        raise LipeError("no LLaVA model configured to describe photos",
                        "choose the LLaVA .gguf file (and its projector) in Settings, or write captions by hand")


def queue_captions(lib: Library, identity_id: int, settings: dict) -> Any:
    """Queue describing the identity's photos (the queue's ``caption`` job, LLaVA from Settings)."""
    from lipe_engine.captioning.job import enqueue_caption

    _llava_set(lib, settings)
    return enqueue_caption(lib, identity_id, llava=settings.get("llava_gguf") or None,
                           mmproj=settings.get("llava_mmproj") or None, runner="desktop")


def caption_photos(
    data_dir: Path, identity_id: int, settings: dict, *, progress: ProgressCallback, cancel: CancelToken
) -> str:
    """Caption the identity's photos with the engine's captioner (LLaVA from Settings)."""
    with Library.open(data_dir) as lib:
        _llava_set(lib, settings)
        n = captioning.caption_identity(
            lib,
            identity_id,
            llava=settings.get("llava_gguf") or None,
            mmproj=settings.get("llava_mmproj") or None,
            progress=progress,
            cancel=cancel,
        )
        return f"{n} caption(s) written"
