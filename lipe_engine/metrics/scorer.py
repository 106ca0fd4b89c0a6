"""Score one edit with the paper's four metrics (Table 2 columns), on the encoders of :mod:`lipe_engine.encoders`."""

from __future__ import annotations

import os
from dataclasses import dataclass

from PIL import Image

from .. import encoders
from . import formulas

# the paper's four (Table 2), then CLIP-D on normalised embeddings (not the paper's; named apart)
METRICS = ("dinov2_i", "clip_i", "clip_t", "clip_d", "clip_d_norm")
LABELS = {"dinov2_i": "DINOv2-I", "clip_i": "CLIP-I", "clip_t": "CLIP-T", "clip_d": "CLIP-D",
          "clip_d_norm": "CLIP-D (unit embeddings)"}


@dataclass
class Scorer:
    """Both encoders, loaded once; :meth:`score` gives the four values for one edited image."""

    dino: encoders.DinoEncoder
    clip: encoders.ClipEncoder

    @classmethod
    def load(
        cls,
        dino: str | os.PathLike[str] = encoders.DINO_ID,
        clip: str | os.PathLike[str] = encoders.CLIP_ID,
        device: str | None = None,
    ) -> Scorer:
        return cls(encoders.DinoEncoder(dino, device), encoders.ClipEncoder(clip, device))

    def score(
        self, source: Image.Image, edited: Image.Image, source_prompt: str, target_prompt: str
    ) -> dict[str, float]:
        """``source``: the test photo x_ori; ``edited``: x_tar; prompts y_ori and y_tar."""
        d = self.dino.images([source, edited])
        c = self.clip.images([source, edited])
        t = self.clip.texts([source_prompt, target_prompt])
        return {
            "dinov2_i": float(formulas.image_similarity(d[0], d[1])[0]),
            "clip_i": float(formulas.image_similarity(c[0], c[1])[0]),
            "clip_t": float(formulas.clip_t(c[1], t[1])[0]),
            "clip_d": float(formulas.clip_d(c[0], c[1], t[0], t[1])[0]),
            "clip_d_norm": float(formulas.clip_d_normalised(c[0], c[1], t[0], t[1])[0]),
        }
