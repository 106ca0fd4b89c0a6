"""The random SDXL-architecture builder (shapes on the meta device) and the scale benchmark (slow)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from lipe_engine.baselines.masactrl import self_attention_layers
from lipe_engine.models.sdxl_architecture import (
    SDXL_PARAMETER_COUNTS,
    build_sdxl_components,
    parameter_counts,
)
from lipe_engine.nima.attention import recorded_layers

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def meta_sdxl():
    return build_sdxl_components()  # meta device: no memory


def test_builder_has_sdxl_base_parameter_counts(meta_sdxl):
    assert parameter_counts(meta_sdxl) == SDXL_PARAMETER_COUNTS
    assert all(p.is_meta for m in meta_sdxl.values() for p in m.parameters())


def test_layer_layout_the_editors_rely_on(meta_sdxl):
    unet = meta_sdxl["unet"]
    names, first_decoder = self_attention_layers(unet)
    assert (len(names), first_decoder) == (70, 34)  # masactrl.py's docstring
    coarsest, factor = recorded_layers(unet)
    assert factor == 4 and len(coarsest) == 120  # 60 transformer blocks at 32x32 (1024 px), attn1 + attn2
    fine, factor = recorded_layers(unet, 2)
    assert factor == 2 and len(fine) == 20  # the 64x64-token layers record_downsample=2 picks
    assert meta_sdxl["text_encoder"].config.hidden_size + meta_sdxl["text_encoder_2"].config.hidden_size == \
        unet.config.cross_attention_dim


@pytest.mark.slow
def test_benchmark_runs_with_tiny_settings(tmp_path):
    """Builds the full-size random SDXL (~7 GB of bf16 weights, about a minute) and runs every phase."""
    import json

    out = tmp_path / "rows.json"
    proc = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "sdxl_scale.py"), "--device", "cpu", "--size", "64",
         "--steps", "2", "--presets", "12gb,40gb", "--json", str(out)],
        capture_output=True, text=True, timeout=3600, cwd=ROOT,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    rows = json.loads(out.read_text())
    phases = [r["phase"] for r in rows]
    assert phases == ["build model", "NIMA edit", "train step, preset 12gb", "train step, preset 40gb", "class image"]
    edit = rows[1]
    # 2 inversion steps (one call) + 2 edit steps, each step 2 rows (CFG)
    assert edit["finite"] and edit["unet_calls"] == 3 and edit["unet_rows"] == 8 and edit["peak_gib"] > 6
    for r in rows[2:4]:
        assert r["seconds"] > 0 and r["peak_gib"] > 6 and r["loss"] == r["loss"]  # not NaN
    assert rows[4]["finite"]
    assert "| NIMA edit |" in proc.stdout
