"""Suggest photos for an identity: those most like the photos the user confirmed.

A candidate's score is its highest cosine similarity to any confirmed photo. Photos the user
confirmed or rejected are never suggested and never changed.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from ..library import Library, LibraryError, vectors
from ..library.identities import IdentityRef
from ..library.records import Photo
from ..progress import CancelToken, ProgressCallback, ProgressReporter
from .photos import clip_for_library, embed_photos

if TYPE_CHECKING:
    from ..encoders import ClipEncoder


def suggest_similar(
    lib: Library,
    identity: IdentityRef,
    encoder: ClipEncoder | None = None,
    *,
    top_k: int = 20,
    min_score: float | None = None,
    role: str = "reference",
    record: bool = True,
    progress: ProgressReporter | ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> list[tuple[Photo, float]]:
    """Photos most like the identity's confirmed ones, best first; recorded as suggestions."""
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
    encoder = encoder or clip_for_library(lib)
    decided = {x.photo.id for x in lib.identity_photos(ident, status=None) if x.status != "suggested"}
    candidates = [p for p in lib.list_photos(include_duplicates=False) if p.id not in decided]
    embed_photos(lib, encoder, confirmed + candidates, progress=progress, cancel=cancel)
    vecs = vectors.load(lib, encoder.source, [p.id for p in confirmed + candidates])
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
