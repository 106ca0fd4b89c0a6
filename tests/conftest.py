"""Shared fixtures: offline hub, a tiny SDXL-architecture model saved once per test session."""

from __future__ import annotations

import os
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import pytest  # noqa: E402

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


@pytest.fixture(scope="module")
def one_torch_thread():
    """One torch thread for a module (``pytestmark = pytest.mark.usefixtures("one_torch_thread")``):
    on the shared 2-core CI machine two threads oversubscribe and run tiny models far slower."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def tiny_sdxl_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny SDXL pipeline (random weights, generated tokenizers) saved as a diffusers folder."""
    from lipe_engine.models.tiny import build_tiny_sdxl

    return build_tiny_sdxl(tmp_path_factory.mktemp("tiny_sdxl") / "model")


@pytest.fixture(scope="session")
def tiny_model(tiny_sdxl_dir: Path):
    """The tiny model loaded through the same loader real SDXL weights use (CPU, fp32)."""
    from lipe_engine.models.loader import load_sdxl

    return load_sdxl(tiny_sdxl_dir, device="cpu", dtype="fp32")


@pytest.fixture(scope="session")
def toy_priors(tmp_path_factory: pytest.TempPathFactory):
    """Toy-model LoRA priors trained once per session, on demand: ``toy_priors.model_with(individual,
    caption_kind)`` is a toy model with that prior loaded."""
    from lipe_engine.toyworld.ablation import ToyPriors

    return ToyPriors(tmp_path_factory.mktemp("toy_priors"))


@pytest.fixture(scope="session")
def dreambooth_dir() -> Path:
    """Real photos from ../shared/data/dreambooth; tests using it skip cleanly when absent."""
    d = SHARED_DATA / "dreambooth"
    if not d.is_dir():
        pytest.skip("shared/data/dreambooth not present")
    return d
