"""LEDITS++ through diffusers' own LEditsPPPipelineStableDiffusionXL, on the loaded model's components."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from lipe_engine.baselines.ledits import LeditsParams, ledits_edit, ledits_pipeline
from lipe_engine.errors import Cancelled, InputError
from lipe_engine.progress import CancelToken

pytestmark = pytest.mark.usefixtures("one_torch_thread")
SRC, TGT = "a photo of a dog sitting", "a photo of a dog standing"
FAST = LeditsParams(steps=8, skip=2, zero_noise_steps=1)


def photo(size: tuple[int, int] = (64, 64)) -> Image.Image:
    rng = np.random.RandomState(0)
    return Image.fromarray((rng.rand(8, 8, 3) * 255).astype(np.uint8)).resize(size, Image.Resampling.BICUBIC)


@pytest.mark.parametrize(("steps", "skip"), [(100, 10), (30, 3), (50, 0), (8, 2), (97, 13)])
def test_step_mapping_gives_our_schedule(steps, skip):
    n, frac = LeditsParams(steps=steps, skip=skip).inversion_steps()
    assert n == steps - skip and int(n * (1 + frac)) == steps  # what the pipeline schedules


def test_pipeline_shares_the_models_components(tiny_model):
    from diffusers import DDIMScheduler, LEditsPPPipelineStableDiffusionXL

    lp = ledits_pipeline(tiny_model)
    # diffusers' own pipeline: the one override is the photo's dtype on its way into the fp32 VAE
    assert type(lp).__mro__[1] is LEditsPPPipelineStableDiffusionXL
    assert [n for n in vars(type(lp)) if not n.startswith("__")] == ["encode_image"]
    assert isinstance(lp.scheduler, DDIMScheduler)  # the edit-friendly DDPM inversion
    assert lp.unet is tiny_model.pipe.unet and lp.vae is tiny_model.pipe.vae
    assert lp.text_encoder_2 is tiny_model.pipe.text_encoder_2


@pytest.mark.parametrize("dtype", ["fp32", "bf16"])
def test_ledits_edits_and_restores_the_processors(tiny_sdxl_dir, dtype):
    from lipe_engine.models.loader import load_sdxl

    model = load_sdxl(tiny_sdxl_dir, device="cpu", dtype=dtype)
    before = dict(model.pipe.unet.attn_processors)
    img = photo((80, 48))  # not square and not at model size: comes back at the photo's size
    events = []
    res = ledits_edit(model, img, SRC, [TGT, "a photo of a dog lying"], FAST, progress=events.append)
    assert [im.size for im in res.images] == [(80, 48), (80, 48)]
    a, b = (np.asarray(im, np.float32) for im in res.images)
    assert np.isfinite(a).all() and np.abs(a - b).mean() > 0.5  # the target prompt steers the edit
    after = model.pipe.unet.attn_processors
    assert all(after[k] is before[k] for k in before)  # the model's own processors are back
    assert events[-1].step == events[-1].total == 1 + 2 * (FAST.steps - FAST.skip)
    again = ledits_edit(model, img, SRC, TGT, FAST)
    assert np.array_equal(np.asarray(again.images[0]), np.asarray(res.images[0]))  # seeded


def test_ledits_cancels_and_checks_its_settings(tiny_model):
    token = CancelToken()
    token.cancel()
    with pytest.raises(Cancelled):
        ledits_edit(tiny_model, photo(), SRC, TGT, FAST, cancel=token)
    with pytest.raises(InputError, match="threshold"):
        ledits_edit(tiny_model, photo(), SRC, TGT, LeditsParams(edit_threshold=1.5))
    with pytest.raises(InputError, match="no target prompt"):
        ledits_edit(tiny_model, photo(), SRC, [], FAST)


def test_ledits_on_the_shipped_toy_model_in_bf16():
    """The toy model (what the toy ablation runs LEDITS++ on), in bf16 as users run SDXL."""
    from lipe_engine.models.loader import load_sdxl
    from lipe_engine.toyworld import TOY_MODEL_DIR
    from lipe_engine.toyworld.identity import edit_cases
    from lipe_engine.toyworld.world import Individual

    model = load_sdxl(TOY_MODEL_DIR, device="cpu", dtype="bf16")
    case = edit_cases(Individual("dog", "red", "striped", "white", "blue"), 1, seed=3)[0]
    photo_img, _ = case.scene.render()
    src, tgt, _ = case.prompts(personalized=False)
    res = ledits_edit(model, photo_img, src, tgt, LeditsParams(steps=10, skip=1))
    out = np.asarray(res.images[0], np.float32)
    assert res.images[0].size == photo_img.size and np.isfinite(out).all()
    assert np.abs(out - np.asarray(photo_img, np.float32)).mean() > 2.0  # it edited something
