"""Build an SDXL-architecture pipeline with tiny, random weights and save it as a diffusers folder.

Same classes as the real SDXL base (``UNet2DConditionModel`` with ``text_time`` added conditioning,
``CLIPTextModel`` + ``CLIPTextModelWithProjection``, ``AutoencoderKL``, ``EulerDiscreteScheduler``,
two CLIP tokenizers sharing one BPE vocabulary); only the widths and depths are small. The tests
save it to a folder and read it back with :func:`lipe_engine.models.loader.load_sdxl`, the exact
code path real weights take. The toy-world model (a trained instance) uses the same factory.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from diffusers import AutoencoderKL, EulerDiscreteScheduler, StableDiffusionXLPipeline, UNet2DConditionModel
from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection, CLIPTokenizer

from .tokenizer_files import DEFAULT_WORDS, EOS, write_clip_tokenizer

# SDXL base's scheduler configuration: the noise schedule NIMA's inversion depends on.
SDXL_SCHEDULER_CONFIG = {
    "beta_start": 0.00085,
    "beta_end": 0.012,
    "beta_schedule": "scaled_linear",
    "num_train_timesteps": 1000,
    "prediction_type": "epsilon",
    "steps_offset": 1,
    "timestep_spacing": "leading",
    "interpolation_type": "linear",
    "use_karras_sigmas": False,
    "clip_sample": False,
    "sample_max_value": 1.0,
    "set_alpha_to_one": False,
}


@dataclass(frozen=True)
class TinySDXLConfig:
    """Sizes of the tiny model. Defaults keep one CPU UNet call around a few milliseconds."""

    unet_channels: tuple[int, ...] = (32, 64)
    unet_layers_per_block: int = 1
    unet_heads: tuple[int, ...] = (2, 4)
    transformer_layers: tuple[int, ...] = (1, 1)
    vae_channels: tuple[int, ...] = (32, 64)
    vae_layers_per_block: int = 1
    vae_mid_attention: bool = True  # off for a full-resolution VAE: self-attention over every pixel
    latent_channels: int = 4  # the UNet's in/out channels follow the VAE's latent
    plain_down_blocks: int = 1  # leading UNet levels without attention (SDXL: 1)
    text_hidden: int = 32
    text_layers: int = 2
    text_heads: int = 4
    text2_hidden: int = 32
    projection_dim: int = 32
    time_embed_dim: int = 8
    sample_size: int = 32  # latent side; pixels = sample_size * 2 ** (len(vae_channels) - 1)
    norm_groups: int = 8


def build_tiny_components(
    config: TinySDXLConfig = TinySDXLConfig(), vocab_size: int = 1000, seed: int = 0
) -> dict[str, Any]:
    torch.manual_seed(seed)
    n, plain = len(config.unet_channels), config.plain_down_blocks
    down = ["DownBlock2D"] * plain + ["CrossAttnDownBlock2D"] * (n - plain)
    up = ["CrossAttnUpBlock2D"] * (n - plain) + ["UpBlock2D"] * plain
    cross_dim = config.text_hidden + config.text2_hidden
    unet = UNet2DConditionModel(
        sample_size=config.sample_size,
        in_channels=config.latent_channels,
        out_channels=config.latent_channels,
        block_out_channels=config.unet_channels,
        layers_per_block=config.unet_layers_per_block,
        down_block_types=tuple(down),
        up_block_types=tuple(up),
        attention_head_dim=config.unet_heads,
        transformer_layers_per_block=config.transformer_layers,
        use_linear_projection=True,
        addition_embed_type="text_time",
        addition_time_embed_dim=config.time_embed_dim,
        projection_class_embeddings_input_dim=6 * config.time_embed_dim + config.projection_dim,
        cross_attention_dim=cross_dim,
        norm_num_groups=config.norm_groups,
    )
    vae = AutoencoderKL(
        in_channels=3,
        out_channels=3,
        down_block_types=["DownEncoderBlock2D"] * len(config.vae_channels),
        up_block_types=["UpDecoderBlock2D"] * len(config.vae_channels),
        block_out_channels=list(config.vae_channels),
        layers_per_block=config.vae_layers_per_block,
        mid_block_add_attention=config.vae_mid_attention,
        latent_channels=config.latent_channels,
        norm_num_groups=config.norm_groups,
        sample_size=config.sample_size * 2 ** (len(config.vae_channels) - 1),
        scaling_factor=0.13025,
    )
    common: dict[str, Any] = dict(
        vocab_size=vocab_size,
        intermediate_size=config.text_hidden * 2,
        num_attention_heads=config.text_heads,
        num_hidden_layers=config.text_layers,
        max_position_embeddings=77,
        bos_token_id=vocab_size - 2,
        eos_token_id=vocab_size - 1,
        pad_token_id=vocab_size - 1,
        hidden_act="gelu",
    )
    text_encoder = CLIPTextModel(CLIPTextConfig(hidden_size=config.text_hidden, **common))
    text_encoder_2 = CLIPTextModelWithProjection(
        CLIPTextConfig(hidden_size=config.text2_hidden, projection_dim=config.projection_dim, **common)
    )
    return {"unet": unet, "vae": vae, "text_encoder": text_encoder, "text_encoder_2": text_encoder_2}


def build_tiny_sdxl(
    folder: str | Path,
    config: TinySDXLConfig = TinySDXLConfig(),
    words: Iterable[str] = DEFAULT_WORDS,
    seed: int = 0,
) -> Path:
    """Create the tiny pipeline and save it as a diffusers folder (safetensors). Returns the folder."""
    folder = Path(folder)
    tok_dir = folder / "_tokenizer_src"
    words = list(words)
    vocab_size = write_clip_tokenizer(tok_dir / "tokenizer", words, pad_token=EOS)
    write_clip_tokenizer(tok_dir / "tokenizer_2", words, pad_token="!")
    components = build_tiny_components(config, vocab_size=vocab_size, seed=seed)
    pipe = StableDiffusionXLPipeline(
        tokenizer=CLIPTokenizer.from_pretrained(tok_dir / "tokenizer"),
        tokenizer_2=CLIPTokenizer.from_pretrained(tok_dir / "tokenizer_2"),
        scheduler=EulerDiscreteScheduler.from_config(SDXL_SCHEDULER_CONFIG),
        force_zeros_for_empty_prompt=True,
        **components,
    )
    pipe.save_pretrained(folder, safe_serialization=True)  # type: ignore[attr-defined]
    shutil.rmtree(tok_dir)
    return folder
