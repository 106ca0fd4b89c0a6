"""The kohya-format LoRA carries the metadata A1111, ComfyUI and kohya's tools read (its header)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from lipe_engine.training import TrainingConfig, train_identity_lora
from lipe_engine.training.lora import tag_frequency

pytestmark = pytest.mark.usefixtures("one_torch_thread")

CAPTIONS = [
    "a photo of a sks dog sitting on grass, sunny day",
    "a sks dog standing in a park, sunny day",
    "a photo of a sks dog lying on a sofa",
]


def _photo(i: int) -> Image.Image:
    a = np.zeros((40, 48, 3), np.uint8)
    a[:] = (60 * i % 256, 120, 200)
    a[10:30, 14 + i : 34 + i] = 250
    return Image.fromarray(a)


def _header(path: Path) -> dict[str, str]:
    from safetensors import safe_open

    with safe_open(str(path), "pt") as f:
        return dict(f.metadata() or {})


@pytest.fixture(scope="module")
def trained(tiny_sdxl_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("kohya") / "run"
    cfg = TrainingConfig(max_steps=3, resolution=32, rank=4, lr_unet=1e-3, lr_text=2e-4, seed=5,
                         checkpoint_every=100)
    train_identity_lora(tiny_sdxl_dir, [(_photo(i), c) for i, c in enumerate(CAPTIONS)], None, out, cfg,
                        name="Rex")
    return out / "lora_kohya.safetensors"


def test_header_says_sdxl_lora_for_a1111(trained: Path) -> None:
    meta = _header(trained)
    assert meta["ss_base_model_version"] == "sdxl_base_v1-0"  # else A1111 hides it under SDXL
    assert meta["modelspec.architecture"] == "stable-diffusion-xl-v1-base/lora"
    assert meta["modelspec.sai_model_spec"] == "1.0.0"
    assert meta["ss_network_module"] == "networks.lora"
    assert meta["ss_v2"] == "False"


def test_header_describes_the_training(trained: Path, tiny_sdxl_dir: Path) -> None:
    meta = _header(trained)
    assert meta["ss_network_dim"] == "4" and float(meta["ss_network_alpha"]) == 4.0
    assert meta["ss_resolution"] == "(32, 32)" and meta["modelspec.resolution"] == "32x32"
    assert meta["ss_output_name"] == "Rex" and meta["modelspec.title"] == "Rex"
    assert meta["ss_steps"] == "3"
    assert meta["ss_num_train_images"] == "3"
    assert meta["ss_sd_model_name"] == Path(tiny_sdxl_dir).name
    assert float(meta["ss_unet_lr"]) == pytest.approx(1e-3)
    assert float(meta["ss_text_encoder_lr"]) == pytest.approx(2e-4)
    assert meta["ss_network_train_unet_only"] == "False"
    tags = json.loads(meta["ss_tag_frequency"])
    assert list(tags) == ["references"]
    assert tags["references"]["sunny day"] == 2  # comma-separated tags, counted per caption
    assert tags["references"]["a photo of a sks dog lying on a sofa"] == 1
    assert all(isinstance(v, str) for v in meta.values())  # safetensors metadata is str -> str


def test_per_layer_alpha_matches_the_header(trained: Path) -> None:
    from safetensors.torch import load_file

    state = load_file(str(trained))
    alphas = {float(v) for k, v in state.items() if k.endswith(".alpha")}
    assert alphas == {float(_header(trained)["ss_network_alpha"])}
    downs = [v for k, v in state.items() if k.endswith("lora_down.weight")]
    assert downs and all(v.shape[0] == int(_header(trained)["ss_network_dim"]) for v in downs)


def test_tag_frequency_counts_like_kohya() -> None:
    assert tag_frequency(["a, b, a", " b ,c", ""]) == {"b": 2, "a": 1, "c": 1}
