"""The paper's evaluation metrics (Appendix E.3): DINOv2-I, CLIP-I, CLIP-T (Eq. 11), CLIP-D (Eq. 12).

The formulas are plain math on embeddings (:mod:`.formulas`); :class:`Scorer` computes them for one
edit with the app's one encoder service (:mod:`lipe_engine.encoders`, CLIP and DINOv2).
"""

from .formulas import clip_d, clip_d_normalised, clip_t, cosine, image_similarity, mean
from .scorer import LABELS, METRICS, Scorer

__all__ = [
    "LABELS", "METRICS", "Scorer",
    "clip_d", "clip_d_normalised", "clip_t", "cosine", "image_similarity", "mean",
]
