"""Image (and text) encoders: CLIP and DINOv2, loaded once, only from local files.

One service for every caller that turns photos into vectors: the paper's metrics
(:mod:`lipe_engine.metrics`), "find similar photos" (:mod:`lipe_engine.similarity`) and any later
grouping. Which CLIP: the ``clip_model`` key of :mod:`lipe_engine.locations` (flag > library
setting > ``$LIPE_CLIP_MODEL`` > ``openai/clip-vit-large-patch14``); DINOv2: ``dino_model``.

- :mod:`.hub`: a folder or a Hugging Face id already in the cache -> loaded transformers objects,
  every failure one :class:`~lipe_engine.errors.ModelLoadError` line naming the model and the fix.
- :mod:`.clip`: :class:`ClipEncoder` (image and text embeddings; unit vectors for similarity).
- :mod:`.dino`: :class:`DinoEncoder` (DINOv2's pooled CLS token).
- :mod:`.tiny`: tiny random-weight CLIP/DINOv2 saved like the real ones (tests, CPU demos).

torch and transformers load on first use of a class (``__getattr__`` below, the package's one
deferred import), so importing the package from a CLI module costs nothing.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ..locations import SHIPPED_DEFAULTS

if TYPE_CHECKING:
    from .clip import ClipEncoder
    from .dino import DinoEncoder

CLIP_ID = SHIPPED_DEFAULTS["clip_model"]
DINO_ID = SHIPPED_DEFAULTS["dino_model"]
_LAZY = {"ClipEncoder": ".clip", "DinoEncoder": ".dino"}

__all__ = ["CLIP_ID", "DINO_ID", "ClipEncoder", "DinoEncoder"]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
