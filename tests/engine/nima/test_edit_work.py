"""How much UNet work an edit does: NIMA against diffusers' LEDITS++ on the shipped toy model, the
preview against the full edit, and the batched inversion's outputs against the step-by-step one's.

UNet work is counted by a hook on the UNet (forward calls, latent rows): the hardware-free measure
benchmarks/peer_speed.py prints beside its CPU times."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from lipe_engine.baselines.ledits import LeditsParams, ledits_edit
from lipe_engine.edit_settings import preview_schedule
from lipe_engine.errors import InputError
from lipe_engine.models.loader import load_sdxl
from lipe_engine.nima import EditParams, NimaSession, edit_image
from lipe_engine.progress import ProgressReporter
from lipe_engine.toyworld import TOY_EDIT_PARAMS, TOY_MODEL_DIR
from lipe_engine.toyworld.ablation import ABLATION_INDIVIDUALS
from lipe_engine.toyworld.identity import edit_cases


class Rows:
    """UNet forward calls and latent rows while the block runs."""

    def __init__(self, unet: torch.nn.Module) -> None:
        self.unet, self.calls, self.rows = unet, 0, 0

    def __enter__(self) -> Rows:
        def hook(_m: object, args: tuple, kwargs: dict) -> None:
            self.calls += 1
            self.rows += int((args[0] if args else kwargs["sample"]).shape[0])

        self.handle = self.unet.register_forward_pre_hook(hook, with_kwargs=True)
        return self

    def __exit__(self, *exc: object) -> None:
        self.handle.remove()


@pytest.fixture(scope="module")
def toy_model():
    return load_sdxl(TOY_MODEL_DIR, device="cpu", dtype="fp32")


def toy_case(kind: str, index: int = 0) -> tuple[Image.Image, str, str, str]:
    case = edit_cases(ABLATION_INDIVIDUALS[kind], index + 1)[index]
    source, target, identity = case.prompts(personalized=False)
    return case.scene.render()[0], source, target, identity


@pytest.mark.parametrize(("steps", "skip"), [(100, 10), (30, 3), (50, 5), (1000, 0), (12, 8), (7, 0)])
def test_preview_schedule_is_at_most_a_quarter(steps, skip):
    p_steps, p_skip = preview_schedule(steps, skip)
    assert 0 <= p_skip < p_steps <= steps
    assert (p_steps - p_skip) * 4 <= steps - skip  # sampled steps (each one guided UNet evaluation)
    assert p_steps - p_skip >= 1
    if p_steps >= 8:  # the same share of noisiest steps left out (a 2-step schedule must skip one of 2)
        assert abs(p_skip / p_steps - skip / steps) <= 0.15


def test_preview_schedule_checks_its_input():
    with pytest.raises(InputError, match="skip"):
        preview_schedule(10, 10)


def test_preview_does_a_quarter_of_the_full_edits_unet_work(toy_model):
    photo, source, target, identity = toy_case("dog")
    full = EditParams(**TOY_EDIT_PARAMS)  # 30 steps, skip 3
    with Rows(toy_model.pipe.unet) as work_full:
        edit_image(toy_model, photo, source, target, identity, full)
    with Rows(toy_model.pipe.unet) as work_preview:
        res = edit_image(toy_model, photo, source, target, identity, full.preview())
    assert work_preview.rows * 4 <= work_full.rows
    assert res.params.steps < full.steps and res.images[0].size == photo.size


def test_nima_does_less_unet_work_than_ledits(toy_model):
    """Same photo, prompts and steps: NIMA's inversion + edit against LEDITS++'s inversion + edit
    (its two concepts and unconditional branch per step): at most 0.8x the rows, fewer calls."""
    photo, source, target, identity = toy_case("bird")
    params = EditParams(**{**TOY_EDIT_PARAMS, "steps": 10, "skip": 1})
    with Rows(toy_model.pipe.unet) as nima:
        edit_image(toy_model, photo, source, target, identity, params)
    with Rows(toy_model.pipe.unet) as peer:
        ledits_edit(toy_model, photo, source, target, LeditsParams(steps=10, skip=1))
    assert nima.rows <= 0.8 * peer.rows and nima.calls < peer.calls


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["dog", "robot", "bird"])
def test_batched_inversion_keeps_the_toy_edits(toy_model, kind):
    """Several inversion steps per UNet call against one step per call (the algorithm as written):
    the edited image and its masks stay the same up to float rounding (cases: each ablation
    individual's first held-out edit, chosen before looking)."""
    photo, source, target, identity = toy_case(kind)
    outs = []
    for per_call in (1, None):
        s = NimaSession(toy_model, photo, source, identity, EditParams(**TOY_EDIT_PARAMS))
        if per_call is not None:
            s.inversion_steps_per_call = per_call
        outs.append(s.edit([target], ProgressReporter()))
    a, b = (np.asarray(o.images[0], np.float32) for o in outs)
    assert np.abs(a - b).max() <= 2 and np.abs(a - b).mean() <= 0.01  # grey levels of 255
    assert (outs[0].source_mask == outs[1].source_mask).mean() >= 0.99
    assert (outs[0].union_masks[0] == outs[1].union_masks[0]).mean() >= 0.99
