"""DINOv2 and CLIP encoders for the metrics, loaded only from local files.

``source`` is a local folder (``save_pretrained`` layout: config, weights, preprocessor config and,
for CLIP, the tokenizer) or a hub id already in the Hugging Face cache. Nothing is downloaded;
a missing model becomes one :class:`ModelLoadError` line naming it and the command that fetches it.

Embeddings (float32 on CPU, *not* normalised: Eq. 12 differences the encoders' outputs as they
are; the cosines DINOv2-I, CLIP-I and CLIP-T do not depend on scale):

- DINOv2: the pooled CLS token (``Dinov2Model.pooler_output``: final layer norm of CLS), the
  standard DINO image embedding.
- CLIP image / text: the projected pooled outputs (what ``get_image_features`` /
  ``get_text_features`` return). The scorer also reports CLIP-D on L2-normalised embeddings
  (StyleGAN-NADA's directional loss, which the paper cites) as a separate, named column.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from PIL import Image

from ..devices import pick_device
from ..errors import ModelLoadError
from ..locations import SHIPPED_DEFAULTS

DINO_ID = SHIPPED_DEFAULTS["dino_model"]
CLIP_ID = SHIPPED_DEFAULTS["clip_model"]
_REPO_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*/[A-Za-z0-9][A-Za-z0-9_.-]*$")


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:160] if text else type(exc).__name__


def _resolve(source: str | os.PathLike[str], what: str, option: str) -> str:
    text = str(source).strip()
    path = Path(text).expanduser()
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise ModelLoadError(
                f"{what} folder '{path}' has no config.json",
                f"point {option} to a folder written by save_pretrained (config, weights, preprocessor)",
            )
        return str(path)
    if not _REPO_ID.match(text) or text.startswith((".", "/", "~")):
        raise ModelLoadError(f"{what} folder '{path}' does not exist", f"give an existing folder to {option}")
    return text


def _load(loader: Any, source: str, what: str, option: str, hub_id: str, **kw: Any) -> Any:
    quiet = logging.getLogger("transformers")
    level = quiet.level
    quiet.setLevel(logging.ERROR)  # torchvision-less fallbacks are announced as warnings
    try:
        return loader.from_pretrained(source, local_files_only=True, **kw)
    except (OSError, ValueError, KeyError, RuntimeError, TypeError) as exc:
        if Path(source).is_dir():
            raise ModelLoadError(
                f"could not load the {what} from '{source}' ({_first_line(exc)})",
                "the folder needs config.json, the weights and preprocessor_config.json",
            ) from exc
        raise ModelLoadError(
            f"{what} '{source}' is not in the Hugging Face cache",
            f"download it once (hf download {source if '/' in source else hub_id}) or pass {option} FOLDER",
        ) from exc
    finally:
        quiet.setLevel(level)


def _embedding(x: torch.Tensor) -> torch.Tensor:
    return x.float().cpu()


class DinoEncoder:
    """DINOv2 image embeddings (paper: dinov2-base)."""

    def __init__(self, source: str | os.PathLike[str] = DINO_ID, device: str | None = None) -> None:
        from transformers import AutoImageProcessor, Dinov2Model

        src = _resolve(source, "DINOv2 model", "--dino-model")
        self.source = src
        self.device = pick_device(device)
        self.model = _load(Dinov2Model, src, "DINOv2 model", "--dino-model", DINO_ID).to(self.device).eval()
        self.processor = _load(AutoImageProcessor, src, "DINOv2 image processor", "--dino-model", DINO_ID)

    @torch.no_grad()
    def images(self, images: Sequence[Image.Image]) -> torch.Tensor:
        px = self.processor(images=[im.convert("RGB") for im in images], return_tensors="pt")["pixel_values"]
        out = self.model(pixel_values=px.to(self.device, self.model.dtype))
        return _embedding(out.pooler_output)


class ClipEncoder:
    """CLIP image and text embeddings in the shared projected space (paper: clip-vit-large-patch14)."""

    def __init__(self, source: str | os.PathLike[str] = CLIP_ID, device: str | None = None) -> None:
        from transformers import AutoImageProcessor, AutoTokenizer, CLIPModel

        src = _resolve(source, "CLIP model", "--clip-model")
        self.source = src
        self.device = pick_device(device)
        self.model = _load(CLIPModel, src, "CLIP model", "--clip-model", CLIP_ID).to(self.device).eval()
        self.processor = _load(AutoImageProcessor, src, "CLIP image processor", "--clip-model", CLIP_ID)
        self.tokenizer = _load(AutoTokenizer, src, "CLIP tokenizer", "--clip-model", CLIP_ID)
        self.max_length = int(self.model.config.text_config.max_position_embeddings)

    @torch.no_grad()
    def images(self, images: Sequence[Image.Image]) -> torch.Tensor:
        px = self.processor(images=[im.convert("RGB") for im in images], return_tensors="pt")["pixel_values"]
        vision = self.model.vision_model(pixel_values=px.to(self.device, self.model.dtype))
        return _embedding(self.model.visual_projection(vision.pooler_output))

    @torch.no_grad()
    def texts(self, texts: Sequence[str]) -> torch.Tensor:
        tok = self.tokenizer(list(texts), padding=True, truncation=True, max_length=self.max_length,
                             return_tensors="pt")
        text = self.model.text_model(input_ids=tok["input_ids"].to(self.device),
                                     attention_mask=tok["attention_mask"].to(self.device))
        return _embedding(self.model.text_projection(text.pooler_output))
