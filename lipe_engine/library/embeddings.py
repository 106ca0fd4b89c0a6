""" "Find photos similar to these": CLIP image embeddings, stored per photo and model.

The model is a CLIP checkpoint (transformers ``CLIPModel`` + its image processor) from a local
folder or the Hugging Face cache, never downloaded here. Which one: the library setting
``embedding_model`` (``lipe library set-embedding-model``), else ``$LIPE_EMBEDDING_MODEL``, the order
of every model (:mod:`lipe_engine.locations`); with neither, the command says so. Embeddings are computed from the cached thumbnails (256 px is more than CLIP's 224),
L2-normalised, and stored with the photo's content hash so a changed photo is re-embedded.

A candidate's score is its highest cosine similarity to any photo the user confirmed for the
identity. Photos the user confirmed or rejected are never suggested and never changed.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from PIL import Image

from ..progress import CancelToken, ProgressCallback, ProgressReporter, as_reporter
from .db import LibraryError
from .identities import IdentityRef
from .records import Photo

if TYPE_CHECKING:
    from .library import Library

ENV_MODEL = "LIPE_EMBEDDING_MODEL"
SETTING_KEY = "embedding_model"


class EmbeddingModelMissing(LibraryError):
    """No usable image embedding model is configured."""


def configured_source(lib: Library) -> str | None:
    from ..locations import configured

    return configured(SETTING_KEY, None, lib)  # library setting > environment, like every model


def resolve_model_dir(source: str | os.PathLike[str]) -> Path:
    """A local folder with a CLIP checkpoint, or the cached snapshot of a Hub id (offline only)."""
    p = Path(source).expanduser()
    if p.is_dir():
        if not (p / "config.json").is_file():
            raise EmbeddingModelMissing(
                f"embedding model folder '{p}' has no config.json",
                "give a folder saved by transformers (a CLIP model)",
            )
        return p
    src = str(source)
    if src.count("/") == 1 and not src.startswith((".", "/", "~")):
        try:
            from huggingface_hub import snapshot_download

            return Path(snapshot_download(src, local_files_only=True))
        except Exception as exc:  # noqa: BLE001 - any hub failure means "not in the cache"
            raise EmbeddingModelMissing(
                f"embedding model '{src}' is not in the Hugging Face cache ({type(exc).__name__})",
                f"download it once (hf download {src}) or give a local folder",
            ) from exc
    raise EmbeddingModelMissing(f"embedding model folder '{source}' does not exist", "check the path")


class ImageEmbedder:
    """A CLIP image tower that turns PIL images into unit vectors."""

    def __init__(self, model: Any, processor: Any, name: str, device: str = "cpu") -> None:
        self.model, self.processor, self.name, self.device = model, processor, name, device

    @classmethod
    def load(cls, source: str | os.PathLike[str], device: str | None = None) -> ImageEmbedder:
        folder = resolve_model_dir(source)
        try:
            import torch
            from transformers import CLIPImageProcessor, CLIPModel

            model = CLIPModel.from_pretrained(folder, local_files_only=True).eval()
            processor = CLIPImageProcessor.from_pretrained(folder, local_files_only=True)
        except Exception as exc:  # noqa: BLE001 - report any loader failure as one line
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise EmbeddingModelMissing(
                f"embedding model '{source}' could not be loaded as CLIP ({first[:200]})",
                "give a CLIP checkpoint folder with config.json, weights and preprocessor_config.json",
            ) from exc
        dev = device or ("cuda" if torch.cuda.is_available() else "cpu")
        model.to(dev)
        return cls(model, processor, str(source), dev)

    def embed(self, images: list[Image.Image]) -> np.ndarray:
        import torch

        inputs = self.processor(images=[im.convert("RGB") for im in images], return_tensors="pt")
        pixels = inputs["pixel_values"].to(self.device, dtype=next(self.model.parameters()).dtype)
        with torch.inference_mode():
            pooled = self.model.vision_model(pixel_values=pixels).pooler_output
            vec = self.model.visual_projection(pooled).float()
        vec = vec / vec.norm(dim=-1, keepdim=True).clamp_min(1e-12)
        return vec.cpu().numpy().astype(np.float32)


def load_configured(lib: Library, device: str | None = None) -> ImageEmbedder:
    source = configured_source(lib)
    if not source:
        raise EmbeddingModelMissing(
            "no image embedding model is configured, so similar photos cannot be found",
            "set a CLIP model folder or cached Hub id with `lipe library set-embedding-model MODEL` "
            f"(or {ENV_MODEL})",
        )
    return ImageEmbedder.load(source, device)


def embed_photos(
    lib: Library,
    embedder: ImageEmbedder,
    photos: list[Photo] | None = None,
    *,
    batch_size: int = 16,
    progress: ProgressReporter | ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> int:
    """Compute the missing or stale embeddings of ``photos`` (all present photos by default)."""
    reporter = as_reporter(progress, cancel)
    photos = photos if photos is not None else lib.list_photos()
    have = {
        (r[0], r[1])
        for r in lib.conn.execute(
            "SELECT photo_id, content_hash FROM embeddings WHERE model = ?", (embedder.name,)
        )
    }
    todo = [p for p in photos if (p.id, p.content_hash) not in have and not p.missing]
    reporter.start("embedding photos", len(todo))
    done = 0
    for i in range(0, len(todo), batch_size):
        batch, images = [], []
        for p in todo[i : i + batch_size]:
            try:
                with Image.open(lib.thumbnails.get(p)) as im:
                    images.append(im.convert("RGB"))
                batch.append(p)
            except (LibraryError, OSError):
                continue  # vanished or damaged since the scan: the next scan flags it
        vecs = embedder.embed(images) if images else np.zeros((0, 0), np.float32)
        with lib.transaction() as c:
            for p, v in zip(batch, vecs, strict=True):
                c.execute(
                    "INSERT INTO embeddings(photo_id, model, content_hash, dim, vector) VALUES (?, ?, ?, ?, ?) "
                    "ON CONFLICT(photo_id, model) DO UPDATE SET content_hash = excluded.content_hash, "
                    "dim = excluded.dim, vector = excluded.vector",
                    (p.id, embedder.name, p.content_hash, int(v.shape[0]), v.astype(np.float32).tobytes()),
                )
        done += len(batch)
        reporter.step(len(todo[i : i + batch_size]))
    return done


def _vectors(lib: Library, model: str, ids: list[int]) -> dict[int, np.ndarray]:
    out: dict[int, np.ndarray] = {}
    wanted = set(ids)
    for r in lib.conn.execute("SELECT photo_id, vector FROM embeddings WHERE model = ?", (model,)):
        if r[0] in wanted:
            out[r[0]] = np.frombuffer(r[1], dtype=np.float32)
    return out


def suggest_similar(
    lib: Library,
    identity: IdentityRef,
    embedder: ImageEmbedder | None = None,
    *,
    top_k: int = 20,
    min_score: float | None = None,
    role: str = "reference",
    record: bool = True,
    progress: ProgressReporter | ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> list[tuple[Photo, float]]:
    """Photos most like the identity's confirmed ones, best first; recorded as suggestions."""
    import math

    if isinstance(top_k, bool) or not isinstance(top_k, int) or not 1 <= top_k <= 10_000:
        raise LibraryError(f"{top_k} suggestions is not usable", "ask for 1 to 10000 (--top)")
    if min_score is not None and not (math.isfinite(min_score) and -1.0 <= min_score <= 1.0):
        raise LibraryError(f"minimum score {min_score} is not usable", "use a similarity from -1 to 1 (--min-score)")
    ident = lib.get_identity(identity)
    confirmed = [x.photo for x in lib.identity_photos(ident, status="confirmed") if not x.photo.missing]
    if not confirmed:
        raise LibraryError(
            f"identity '{ident.name}' has no confirmed photos to compare with",
            f"add a few with `lipe identity add {ident.name} PHOTO...`",
        )
    embedder = embedder or load_configured(lib)
    decided = {x.photo.id for x in lib.identity_photos(ident, status=None) if x.status != "suggested"}
    candidates = [p for p in lib.list_photos(include_duplicates=False) if p.id not in decided]
    embed_photos(lib, embedder, confirmed + candidates, progress=progress, cancel=cancel)
    vecs = _vectors(lib, embedder.name, [p.id for p in confirmed + candidates])
    ref_rows = [vecs[p.id] for p in confirmed if p.id in vecs]
    scored: list[tuple[Photo, float]] = []
    if not ref_rows:
        return scored
    ref = np.stack(ref_rows)
    for p in candidates:
        if p.id in vecs:
            scored.append((p, float(np.max(ref @ vecs[p.id]))))
    scored.sort(key=lambda t: (-t[1], t[0].id))
    if min_score is not None:
        scored = [t for t in scored if t[1] >= min_score]
    scored = scored[: max(0, top_k)]
    if record and scored:
        lib.suggest_identity_photos(ident, [(p.id, s) for p, s in scored], role=role)
    return scored
