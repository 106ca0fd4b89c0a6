"""Photos as vectors, and what is computed from them: "find similar photos" (and later grouping).

- :mod:`.photos`: embed a library's photos with a CLIP encoder (from their cached thumbnails) and
  keep the vectors in the library (:mod:`lipe_engine.library.vectors`).
- :mod:`.suggest`: the photos most like an identity's confirmed ones, recorded as suggestions.

The encoder is the app's one CLIP (:mod:`lipe_engine.encoders`, the ``clip_model`` key), the same
the metrics use; :func:`clip_for_library` loads it image-only.
"""

from __future__ import annotations

from .photos import clip_for_library, embed_photos
from .suggest import suggest_similar

__all__ = ["clip_for_library", "embed_photos", "suggest_similar"]
