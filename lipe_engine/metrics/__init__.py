"""The paper's evaluation metrics (Appendix E.3): DINOv2-I, CLIP-I, CLIP-T (Eq. 11), CLIP-D (Eq. 12)."""

from .encoders import CLIP_ID, DINO_ID, ClipEncoder, DinoEncoder
from .formulas import clip_d, clip_d_normalised, clip_t, cosine, image_similarity, mean
from .scorer import LABELS, METRICS, Scorer

__all__ = [
    "CLIP_ID", "DINO_ID", "LABELS", "METRICS", "ClipEncoder", "DinoEncoder", "Scorer",
    "clip_d", "clip_d_normalised", "clip_t", "cosine", "image_similarity", "mean",
]
