"""Tiny DINOv2 and CLIP models with random weights, saved like the real ones (tests, CPU demos).

Same classes and file layout as ``facebook/dinov2-base`` and ``openai/clip-vit-large-patch14``
(config.json + safetensors + preprocessor_config.json, and for CLIP a BPE tokenizer written by
:mod:`lipe_engine.models.tokenizer_files`); only the widths are small. The encoders (:mod:`lipe_engine.encoders`) load
them back through exactly the code real weights take. Their values mean nothing about image
quality: they exercise the pipeline, not the science.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from transformers import CLIPConfig, CLIPModel, Dinov2Config, Dinov2Model

from ..models.tokenizer_files import DEFAULT_WORDS, EOS, write_clip_tokenizer

IMAGENET_MEAN = [0.485, 0.456, 0.406]
IMAGENET_STD = [0.229, 0.224, 0.225]
CLIP_MEAN = [0.48145466, 0.4578275, 0.40821073]
CLIP_STD = [0.26862954, 0.26130258, 0.27577711]


def _processor_config(kind: str, resize: int, crop: int, mean: list[float], std: list[float]) -> dict:
    return {
        "image_processor_type": kind,
        "do_resize": True,
        "size": {"shortest_edge": resize},
        "resample": 3,
        "do_center_crop": True,
        "crop_size": {"height": crop, "width": crop},
        "do_rescale": True,
        "rescale_factor": 1 / 255,
        "do_normalize": True,
        "image_mean": mean,
        "image_std": std,
        "do_convert_rgb": True,
    }


def build_tiny_dinov2(folder: str | Path, image_size: int = 28, seed: int = 0) -> Path:
    """A 2-layer Dinov2Model (patch 4) with a BitImageProcessor config like dinov2-base's."""
    folder = Path(folder)
    torch.manual_seed(seed)
    cfg = Dinov2Config(hidden_size=32, num_hidden_layers=2, num_attention_heads=4, mlp_ratio=2,
                       patch_size=4, image_size=image_size)
    Dinov2Model(cfg).save_pretrained(folder, safe_serialization=True)
    proc = _processor_config("BitImageProcessor", image_size + 4, image_size, IMAGENET_MEAN, IMAGENET_STD)
    (folder / "preprocessor_config.json").write_text(json.dumps(proc, indent=2), encoding="utf-8")
    return folder


def build_tiny_clip(folder: str | Path, image_size: int = 32, seed: int = 0) -> Path:
    """A 2-layer CLIPModel (text + vision, projection 16) with tokenizer and CLIPImageProcessor config."""
    folder = Path(folder)
    vocab = write_clip_tokenizer(folder, DEFAULT_WORDS, pad_token=EOS)
    torch.manual_seed(seed)
    text = dict(vocab_size=vocab, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                num_attention_heads=4, max_position_embeddings=77, bos_token_id=vocab - 2,
                eos_token_id=vocab - 1, pad_token_id=vocab - 1)
    vision = dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
                  image_size=image_size, patch_size=8)
    cfg = CLIPConfig(text_config=text, vision_config=vision, projection_dim=16)
    CLIPModel(cfg).save_pretrained(folder, safe_serialization=True)
    proc = _processor_config("CLIPImageProcessor", image_size, image_size, CLIP_MEAN, CLIP_STD)
    (folder / "preprocessor_config.json").write_text(json.dumps(proc, indent=2), encoding="utf-8")
    return folder
