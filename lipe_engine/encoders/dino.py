"""DINOv2 image embeddings (paper: dinov2-base): the pooled CLS token, the standard DINO embedding.

``Dinov2Model.pooler_output`` is the final layer norm of CLS; float32 on the CPU, not normalised.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import torch
from PIL import Image
from transformers import AutoImageProcessor, Dinov2Model

from .. import locations
from ..devices import pick_device
from .hub import load_pretrained, resolve

WHERE = "--dino-model"


class DinoEncoder:
    """A DINOv2 model loaded once."""

    def __init__(self, source: str | os.PathLike[str] = locations.SHIPPED_DEFAULTS["dino_model"],
                 device: str | None = None, *, where: str = WHERE) -> None:
        src = resolve(source, "DINOv2 model", where)
        self.source = src
        self.device = pick_device(device)
        self.model = load_pretrained(Dinov2Model, src, "DINOv2 model", where).to(self.device).eval()
        self.processor = load_pretrained(AutoImageProcessor, src, "DINOv2 image processor", where)

    @torch.no_grad()
    def images(self, images: Sequence[Image.Image]) -> torch.Tensor:
        px = self.processor(images=[im.convert("RGB") for im in images], return_tensors="pt")["pixel_values"]
        out = self.model(pixel_values=px.to(self.device, self.model.dtype))
        return out.pooler_output.float().cpu()
