"""Identity work that runs on worker threads (each opens its own library connection)."""

from __future__ import annotations

from pathlib import Path

from lipe_engine.errors import LipeError
from lipe_engine.library import Library
from lipe_engine.progress import CancelToken, ProgressCallback


def suggest_similar(
    data_dir: Path, identity_id: int, clip_model: str, *, progress: ProgressCallback, cancel: CancelToken
) -> str:
    from lipe_engine.library import embeddings

    with Library.open(data_dir) as lib:
        try:
            embedder = (
                embeddings.ImageEmbedder.load(clip_model) if clip_model else embeddings.load_configured(lib)
            )
        except embeddings.EmbeddingModelMissing as exc:
            if clip_model:
                raise
            # the engine's hint names the CLI; in the app the place to fix it is Settings
            raise LipeError(
                "no CLIP model is set, so similar photos cannot be found",
                "choose a CLIP folder in Settings > CLIP (suggestions)",
            ) from exc
        found = embeddings.suggest_similar(lib, identity_id, embedder, progress=progress, cancel=cancel)
        return f"{len(found)} similar photo(s) suggested: confirm or reject them (right-click)"


def caption_photos(
    data_dir: Path, identity_id: int, settings: dict, *, progress: ProgressCallback, cancel: CancelToken
) -> str:
    """Caption the identity's photos with the engine's captioner (LLaVA from Settings)."""
    try:
        import importlib

        captioning = importlib.import_module("lipe_engine.captioning")
    except ImportError as exc:
        raise LipeError("captioning is not available in this build", "install the 'llm' extra") from exc
    fn = getattr(captioning, "caption_identity", None)
    if fn is None:
        raise LipeError("this engine version has no identity captioner", "update LIPE Desktop")
    with Library.open(data_dir) as lib:
        from lipe_engine import locations

        if not locations.resolve("llava_gguf", settings.get("llava_gguf") or None, lib):
            # the engine's own line names command-line flags and variables; here it is a setting
            raise LipeError("no LLaVA model configured to describe photos",
                            "choose the LLaVA .gguf file (and its projector) in Settings, or write captions by hand")
        out = fn(
            lib,
            identity_id,
            llava=settings.get("llava_gguf") or None,
            mmproj=settings.get("llava_mmproj") or None,
            progress=progress,
            cancel=cancel,
        )
        n = len(out) if isinstance(out, (list, tuple, dict)) else out  # a count or the captions
        return f"{n} caption(s) written" if isinstance(n, int) else "captions written"
