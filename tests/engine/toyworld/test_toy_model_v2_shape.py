"""The toy model v2's shape (scripts/train_toy_model.py: a full-resolution VAE, vae_scale_factor 1, and
a four-level UNet with attention only on its two coarsest levels) loads through the same loader as
SDXL and runs NIMA's edit, LEDITS++ (diffusers' pipeline) and a LoRA prior, in fp32 and bf16. Built
small with random weights; what it draws is not judged here."""

from __future__ import annotations

from pathlib import Path

import pytest

from lipe_engine.models.tiny import TinySDXLConfig, build_tiny_sdxl
from lipe_engine.toyworld.world import WORDS

pytestmark = pytest.mark.usefixtures("one_torch_thread")

V2_SHAPE = TinySDXLConfig(
    unet_channels=(8, 16, 16, 32), unet_heads=(1, 1, 1, 2), transformer_layers=(1, 1, 1, 1), plain_down_blocks=2,
    vae_channels=(8,), vae_layers_per_block=1, vae_mid_attention=False, latent_channels=4, text_hidden=16,
    text2_hidden=16, projection_dim=16, time_embed_dim=8, sample_size=64, norm_groups=4,
)


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import json

    out = build_tiny_sdxl(tmp_path_factory.mktemp("toy_v2") / "model", config=V2_SHAPE, words=WORDS)
    (out / "lipe_edit_defaults.json").write_text(json.dumps({"record_downsample": 4}))
    return out


@pytest.mark.parametrize("dtype", ["fp32", "bf16"])
def test_full_resolution_vae_model_edits_and_trains(folder: Path, tmp_path: Path, dtype: str) -> None:
    from lipe_engine.models.loader import load_lora, load_sdxl
    from lipe_engine.toyworld.ablation import run_arm, train_prior
    from lipe_engine.toyworld.identity import edit_cases
    from lipe_engine.toyworld.world import Individual

    model = load_sdxl(folder, device="cpu", dtype=dtype)
    assert model.vae_scale_factor == 1 and model.native_size == 64
    assert list(model.pipe.unet.config.down_block_types[:2]) == ["DownBlock2D", "DownBlock2D"]
    cases = edit_cases(Individual("dog", "red", "striped", "white", "blue"), 1, seed=3)
    nima, _ = run_arm("nima-noprior", model, cases, steps=4)
    assert nima.images[0].size == (64, 64) and nima.source_masks[0].shape == (64, 64)
    ledits, _ = run_arm("ledits", model, cases, steps=4)
    assert ledits.images[0].size == (64, 64)
    load_lora(model, train_prior(model, cases[0].scene.individual, tmp_path / "prior", steps=2))
    lipe, _ = run_arm("lipe", model, cases, steps=4)
    assert lipe.images[0].size == (64, 64)
