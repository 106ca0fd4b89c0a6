"""The one encoder service: CLIP and DINOv2 load in one place, from the one key, lazily.

Tiny random-weight models built in code (lipe_engine.encoders.tiny) go through the loader real
weights take; nothing is downloaded (HF_HUB_OFFLINE=1).
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from PIL import Image

from lipe_engine import encoders, locations
from lipe_engine.encoders.tiny import build_tiny_clip
from lipe_engine.errors import ModelLoadError
from lipe_engine.library import Library

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def clip_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_clip(tmp_path_factory.mktemp("enc") / "clip")


def test_one_clip_and_dinov2_loader_in_the_engine() -> None:
    """No second place loads CLIP or DINOv2 weights (the library and the metrics each had one)."""
    pattern = re.compile(r"\b(CLIPModel|Dinov2Model|CLIPVisionModel\w*|AutoModel)\b")
    outside = []
    for path in sorted((ROOT / "lipe_engine").rglob("*.py")):
        rel = path.relative_to(ROOT).as_posix()
        if rel.startswith("lipe_engine/encoders/"):
            continue
        outside += [f"{rel}: {ln.strip()}" for ln in path.read_text(encoding="utf-8").splitlines()
                    if pattern.search(ln)]
    assert outside == []
    assert not (ROOT / "lipe_engine/library/embeddings.py").exists()
    assert not (ROOT / "lipe_engine/metrics/encoders.py").exists()


def test_the_clip_key_decides_for_every_caller(clip_dir: Path, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv("LIPE_CLIP_MODEL", raising=False)
    monkeypatch.delenv("LIPE_EMBEDDING_MODEL", raising=False)
    with Library.open(tmp_path / "data") as lib:
        locations.store_model_choices(lib, {"clip_model": str(clip_dir)})
        enc = encoders.ClipEncoder.configured(lib, device="cpu")
        assert enc.source == str(clip_dir)
        images = [Image.new("RGB", (40, 30), c) for c in ("red", "blue")]
        raw = enc.images(images)
        unit = enc.unit_images(images)
        assert raw.shape == (2, 16) and raw.dtype == torch.float32
        assert torch.allclose(raw / raw.norm(dim=-1, keepdim=True), torch.from_numpy(unit), atol=1e-5)
        assert enc.texts(["a photo of a dog"]).shape == (1, 16)
        with pytest.raises(ModelLoadError, match=r"hf download someone/none.*Settings > CLIP"):
            encoders.ClipEncoder.configured(lib, "someone/none", device="cpu", where="Settings > CLIP")
    image_only = encoders.ClipEncoder(clip_dir, device="cpu", text=False)
    with pytest.raises(RuntimeError, match="without its text side"):
        image_only.texts(["x"])


def test_importing_the_service_loads_no_torch() -> None:
    """CLI modules import it at the top; torch and transformers wait for the first encoder."""
    code = ("import sys, lipe_engine.encoders, lipe_engine.similarity; "
            "print(sorted(m for m in ('torch', 'transformers') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert out.stdout.strip() == "[]"


def test_a_bf16_checkpoint_embeds_like_fp32(clip_dir: Path, tmp_path: Path) -> None:
    """A CLIP saved in bf16 runs in bf16 on the CPU; its unit vectors stay within bf16 rounding of fp32's."""
    import shutil

    from transformers import CLIPModel

    half = tmp_path / "clip-bf16"
    shutil.copytree(clip_dir, half)
    CLIPModel.from_pretrained(clip_dir).to(torch.bfloat16).save_pretrained(half, safe_serialization=True)
    images = [Image.new("RGB", (40, 30), c) for c in ("red", "blue", "green")]
    full = encoders.ClipEncoder(clip_dir, device="cpu", text=False)
    low = encoders.ClipEncoder(half, device="cpu", text=False)
    assert low.model.dtype == torch.bfloat16
    a, b = full.unit_images(images), low.unit_images(images)
    assert b.dtype == a.dtype and (a * b).sum(axis=1).min() > 0.98  # margin set before the first run
