"""CLIP image and text embeddings in the shared projected space (paper: clip-vit-large-patch14).

Embeddings are the projected pooled outputs (what ``get_image_features`` / ``get_text_features``
return), float32 on the CPU and *not* normalised: the metrics' Eq. 12 differences them as they are.
:meth:`ClipEncoder.unit_images` gives the L2-normalised vectors that similarity compares.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np
import torch
from PIL import Image
from transformers import AutoImageProcessor, AutoTokenizer, CLIPModel

from .. import locations
from ..devices import pick_device
from .hub import load_pretrained, resolve

WHERE = "--clip-model"  # how a metric run names the model; other callers pass their own


class ClipEncoder:
    """A CLIP model loaded once; ``source`` (as given, stripped) names it, e.g. in stored vectors."""

    def __init__(self, source: str | os.PathLike[str] = locations.SHIPPED_DEFAULTS["clip_model"],
                 device: str | None = None, *, where: str = WHERE, text: bool = True) -> None:
        src = resolve(source, "CLIP model", where)
        self.source = src
        self.device = pick_device(device)
        self.model = load_pretrained(CLIPModel, src, "CLIP model", where).to(self.device).eval()
        self.processor = load_pretrained(AutoImageProcessor, src, "CLIP image processor", where)
        # image-only callers (similarity) need no tokenizer in the folder
        self.tokenizer = load_pretrained(AutoTokenizer, src, "CLIP tokenizer", where) if text else None
        self.max_length = int(self.model.config.text_config.max_position_embeddings)

    @classmethod
    def configured(cls, lib: locations.SettingsStore | None, explicit: str | os.PathLike[str] | None = None,
                   device: str | None = None, *, where: str = WHERE, text: bool = True) -> ClipEncoder:
        """The CLIP the ``clip_model`` key names (flag > library setting > environment > shipped id)."""
        source = locations.resolve("clip_model", explicit, lib)
        assert source is not None  # clip_model has a shipped default
        return cls(source, device, where=where, text=text)

    @torch.no_grad()
    def images(self, images: Sequence[Image.Image]) -> torch.Tensor:
        px = self.processor(images=[im.convert("RGB") for im in images], return_tensors="pt")["pixel_values"]
        vision = self.model.vision_model(pixel_values=px.to(self.device, self.model.dtype))
        return self.model.visual_projection(vision.pooler_output).float().cpu()

    def unit_images(self, images: Sequence[Image.Image]) -> np.ndarray:
        """(N, D) float32 unit vectors: cosine similarity is then a dot product."""
        vec = self.images(images)
        return (vec / vec.norm(dim=-1, keepdim=True).clamp_min(1e-12)).numpy().astype(np.float32)

    @torch.no_grad()
    def texts(self, texts: Sequence[str]) -> torch.Tensor:
        if self.tokenizer is None:
            raise RuntimeError("this ClipEncoder was loaded without its text side (text=False)")
        tok = self.tokenizer(list(texts), padding=True, truncation=True, max_length=self.max_length,
                             return_tensors="pt")
        text = self.model.text_model(input_ids=tok["input_ids"].to(self.device),
                                     attention_mask=tok["attention_mask"].to(self.device))
        return self.model.text_projection(text.pooler_output).float().cpu()
