"""SDXL base 1.0's exact architecture with random weights: for tests and benchmarks only.

Never a model for users: its weights are noise. It exists so that memory and time can be measured
at the real scale (2.57 B UNet parameters, 0.82 B in the two text encoders, 84 M in the VAE)
where no weights can be downloaded. The configuration values below are the public ones of
``stabilityai/stable-diffusion-xl-base-1.0`` (its ``unet``, ``vae``, ``text_encoder`` and
``text_encoder_2`` configs), written out so nothing is fetched; the tokenizers are generated like
the tiny model's (:mod:`.tokenizer_files`), with the text encoders' 49,408-row embeddings kept.

Building happens on the meta device (no memory) and the weights are then materialised once, in
the dtype asked for, with a cheap scaled-normal initialisation (std 1/sqrt(3 fan_in), PyTorch's
default scale): ``build_sdxl_components(device="meta")`` gives the exact modules with no storage,
enough to count parameters and list layers.
"""

from __future__ import annotations

import math
import tempfile
from pathlib import Path
from typing import Any

import torch
from diffusers import AutoencoderKL, EulerDiscreteScheduler, StableDiffusionXLPipeline, UNet2DConditionModel
from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection, CLIPTokenizer

from ..devices import pick_device, pick_dtype, vae_dtype
from .loader import LoadedModel
from .tiny import SDXL_SCHEDULER_CONFIG
from .tokenizer_files import DEFAULT_WORDS, EOS, write_clip_tokenizer

SDXL_UNET_CONFIG: dict[str, Any] = {
    "sample_size": 128,
    "in_channels": 4,
    "out_channels": 4,
    "center_input_sample": False,
    "flip_sin_to_cos": True,
    "freq_shift": 0,
    "down_block_types": ("DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"),
    "mid_block_type": "UNetMidBlock2DCrossAttn",
    "up_block_types": ("CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"),
    "only_cross_attention": False,
    "block_out_channels": (320, 640, 1280),
    "layers_per_block": 2,
    "downsample_padding": 1,
    "mid_block_scale_factor": 1,
    "act_fn": "silu",
    "norm_num_groups": 32,
    "norm_eps": 1e-5,
    "cross_attention_dim": 2048,
    "transformer_layers_per_block": (1, 2, 10),
    "attention_head_dim": (5, 10, 20),
    "use_linear_projection": True,
    "upcast_attention": False,
    "resnet_time_scale_shift": "default",
    "addition_embed_type": "text_time",
    "addition_time_embed_dim": 256,
    "projection_class_embeddings_input_dim": 2816,
}

SDXL_VAE_CONFIG: dict[str, Any] = {
    "in_channels": 3,
    "out_channels": 3,
    "down_block_types": ("DownEncoderBlock2D",) * 4,
    "up_block_types": ("UpDecoderBlock2D",) * 4,
    "block_out_channels": (128, 256, 512, 512),
    "layers_per_block": 2,
    "act_fn": "silu",
    "latent_channels": 4,
    "norm_num_groups": 32,
    "sample_size": 1024,
    "scaling_factor": 0.13025,
    "force_upcast": True,
}

# CLIP ViT-L/14's text tower (SDXL's text_encoder)
SDXL_TEXT_ENCODER_CONFIG: dict[str, Any] = {
    "vocab_size": 49408,
    "hidden_size": 768,
    "intermediate_size": 3072,
    "num_hidden_layers": 12,
    "num_attention_heads": 12,
    "max_position_embeddings": 77,
    "hidden_act": "quick_gelu",
    "layer_norm_eps": 1e-5,
    "projection_dim": 768,
}

# OpenCLIP ViT-bigG/14's text tower with its projection (SDXL's text_encoder_2)
SDXL_TEXT_ENCODER_2_CONFIG: dict[str, Any] = {
    "vocab_size": 49408,
    "hidden_size": 1280,
    "intermediate_size": 5120,
    "num_hidden_layers": 32,
    "num_attention_heads": 20,
    "max_position_embeddings": 77,
    "hidden_act": "gelu",
    "layer_norm_eps": 1e-5,
    "projection_dim": 1280,
}

# Parameter counts of SDXL base 1.0's parts (the public model's; the tests check the build against them)
SDXL_PARAMETER_COUNTS = {
    "unet": 2_567_463_684,
    "vae": 83_653_863,
    "text_encoder": 123_060_480,
    "text_encoder_2": 694_659_840,
}


def build_sdxl_components(token_ids: dict[str, int] | None = None, device: str | torch.device = "meta",
                          dtype: torch.dtype = torch.float32, seed: int = 0) -> dict[str, Any]:
    """UNet, VAE and both text encoders with SDXL base's architecture.

    ``device="meta"``: no storage (shapes only). Otherwise the weights are materialised on
    ``device`` in ``dtype`` (the VAE in the precision policy's VAE dtype) with random values.
    ``token_ids`` gives the text encoders' bos/eos/pad ids (those of the generated tokenizer).
    """
    ids: dict[str, Any] = dict(token_ids or {"bos_token_id": 49406, "eos_token_id": 49407, "pad_token_id": 49407})
    with torch.device("meta"):
        parts: dict[str, Any] = {
            "unet": UNet2DConditionModel(**SDXL_UNET_CONFIG),
            "vae": AutoencoderKL(**SDXL_VAE_CONFIG),
            "text_encoder": CLIPTextModel(CLIPTextConfig(**SDXL_TEXT_ENCODER_CONFIG, **ids)),
            "text_encoder_2": CLIPTextModelWithProjection(CLIPTextConfig(**SDXL_TEXT_ENCODER_2_CONFIG, **ids)),
        }
    dev = torch.device(device)
    if dev.type == "meta":
        return parts
    gen = torch.Generator(device="cpu").manual_seed(seed)
    for name, module in parts.items():
        dt = vae_dtype(dev, dtype) if name == "vae" else dtype
        module.to(dt)  # still on meta: free
        module.to_empty(device=dev)  # storage for the weights, once, in their final dtype
        _random_init(module, gen)
        module.eval()
    return parts


@torch.no_grad()
def _random_init(module: torch.nn.Module, gen: torch.Generator) -> None:
    """Cheap stand-in for trained weights: keeps activations of the right size through 70 blocks."""
    for name, p in module.named_parameters():
        leaf = name.rsplit(".", 1)[-1]
        if p.ndim == 1:
            # norms' scales 1, biases 0 (also the positional/timestep biases)
            p.fill_(1.0 if leaf == "weight" and "norm" in name.lower() else 0.0)
            continue
        fan_in = math.prod(p.shape[1:]) if p.ndim > 1 else p.shape[0]
        std = 0.02 if "embedding" in name else 1.0 / math.sqrt(3 * fan_in)
        p.copy_(torch.randn(p.shape, generator=gen, dtype=torch.float32).mul_(std))
    for name, b in module.named_buffers():
        if "position_ids" in name:
            b.copy_(torch.arange(b.shape[-1], device=b.device).expand_as(b))


def parameter_counts(parts: dict[str, Any]) -> dict[str, int]:
    return {name: sum(p.numel() for p in m.parameters()) for name, m in parts.items()}


def build_random_sdxl(device: str | None = "cpu", dtype: str | torch.dtype | None = None, seed: int = 0) -> Any:
    """A ready :class:`~lipe_engine.models.loader.LoadedModel` with SDXL base's architecture and random
    weights, in memory (nothing written to disk), under the same precision policy as loaded models."""
    dev = pick_device(device)
    dt = pick_dtype(dev, dtype)
    with tempfile.TemporaryDirectory() as tmp:
        tok1, tok2 = Path(tmp) / "tokenizer", Path(tmp) / "tokenizer_2"
        write_clip_tokenizer(tok1, DEFAULT_WORDS, pad_token=EOS)
        write_clip_tokenizer(tok2, DEFAULT_WORDS, pad_token="!")
        tokenizer, tokenizer_2 = CLIPTokenizer.from_pretrained(tok1), CLIPTokenizer.from_pretrained(tok2)
    ids = {"bos_token_id": tokenizer.bos_token_id, "eos_token_id": tokenizer.eos_token_id,
           "pad_token_id": tokenizer.eos_token_id}
    parts = build_sdxl_components(ids, device=dev, dtype=dt, seed=seed)
    pipe = StableDiffusionXLPipeline(
        tokenizer=tokenizer, tokenizer_2=tokenizer_2,
        scheduler=EulerDiscreteScheduler.from_config(SDXL_SCHEDULER_CONFIG),
        force_zeros_for_empty_prompt=True, **parts,
    )
    pipe.set_progress_bar_config(disable=True)  # type: ignore[attr-defined]
    return LoadedModel(pipe=pipe, source="random-sdxl-architecture", model_id=f"random-sdxl:{seed}:{dt}",
                       device=dev, dtype=dt)
