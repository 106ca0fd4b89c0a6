"""Behavioural tests of the shipped toy-world model (resources/toy_model): LIPE's claims as comparisons.

Decided before any result was looked at, and not tuned afterwards:

- cases: one individual of each kind (dog, bird, robot) drawn at random from ``TEST_SEED``, and
  ``CASES`` edits of each from a case seed derived from it. The benchmark
  (benchmarks/toy_ablation.py) uses fixed individuals and case seed 100, so no threshold here was
  chosen on the data it tests;
- claims and margins:
  * the identity mask's IoU with the true sprite mask beats a position-only guess (the fixed box
    that best covers sprites where the world places them, fitted on other scenes) by ``IOU_MARGIN``;
  * the background outside the edit region is ``BACKGROUND_DB`` dB better with NIMA's mask than
    without it;
  * LIPE's identity distance is below that of "w/o editing captions" (DreamBooth prior + NIMA),
    of the general prior + NIMA, and of LEDITS++, each by ``IDENTITY_REL`` (relative);
  * LIPE's pose-reached and pose-and-view rates are within ``POSE_MARGIN`` of the best arm's.
  A claim that does not hold on the toy model is marked xfail (strict) with the numbers measured,
  never given a weaker threshold.

The mask and background tests need no training and run in CI (~30 s of CPU); those that need the
learned priors (six LoRA trainings, shared through the session-scoped ``toy_priors`` fixture) are
``slow`` (the whole file: ~140 s of CPU on one thread).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from lipe_engine.models.edit_defaults import read_edit_defaults
from lipe_engine.toyworld import TOY_EDIT_PARAMS, TOY_MODEL_DIR
from lipe_engine.toyworld.ablation import random_individuals, run_arm
from lipe_engine.toyworld.checks import box_mask, iou, position_only_box
from lipe_engine.toyworld.identity import edit_cases

pytestmark = pytest.mark.usefixtures("one_torch_thread")

STEPS = 30
TEST_SEED = 20261201
CASES = 3  # edits per individual: 9 in all
IOU_MARGIN = 0.10
BACKGROUND_DB = 3.0
IDENTITY_REL = 0.02  # LIPE's distance at most 98% of the other arm's
POSE_MARGIN = 0.20  # rates are in ninths: LIPE may trail the best arm by one edit, not two


@pytest.fixture(scope="module")
def toy() -> object:
    from lipe_engine.models.loader import load_sdxl

    assert (TOY_MODEL_DIR / "model_index.json").is_file(), "the toy model is not shipped"
    return load_sdxl(TOY_MODEL_DIR, device="cpu", dtype="fp32")


@pytest.fixture(scope="module")
def individuals() -> list:
    return random_individuals(TEST_SEED)


@pytest.fixture(scope="module")
def cases(individuals) -> dict:
    return {ind: edit_cases(ind, CASES, seed=TEST_SEED + 1 + k) for k, ind in enumerate(individuals)}


def all_cases(cases: dict) -> list:
    return [c for cs in cases.values() for c in cs]


def test_toy_model_is_small_and_sdxl_shaped(toy, individuals) -> None:
    pipe = toy.pipe
    assert type(pipe).__name__ == "StableDiffusionXLPipeline"
    assert pipe.unet.config.addition_embed_type == "text_time"
    assert toy.native_size == 64
    size = sum(p.stat().st_size for p in Path(TOY_MODEL_DIR).rglob("*.safetensors"))
    assert size < 20e6
    # its edit settings travel with it (app, CLI, demo and these tests all read them from the folder)
    assert read_edit_defaults(TOY_MODEL_DIR) == TOY_EDIT_PARAMS
    # the identity words NIMA's mask reads must be single tokens in both tokenizers
    for word in ("sks", "dog", "bird", "robot"):
        assert len(pipe.tokenizer(word, add_special_tokens=False).input_ids) == 1, word
        assert len(pipe.tokenizer_2(word, add_special_tokens=False).input_ids) == 1, word
    assert sorted(i.kind for i in individuals) == ["bird", "dog", "robot"]


@pytest.fixture(scope="module")
def general(toy, cases):
    """General prior (no LoRA) + NIMA on every case: (results, edit regions)."""
    return run_arm("nima-noprior", toy, all_cases(cases), steps=STEPS)


def check_mask_beats_position_guess(masks: list[np.ndarray], cases: list) -> None:
    """The claim: mean IoU of ``masks`` with the true sprite masks >= the fixed box's + margin."""
    box = position_only_box()
    truths = [c.scene.render()[1] for c in cases]
    mask_iou = [iou(m, gt) for m, gt in zip(masks, truths, strict=True)]
    box_iou = [iou(box_mask(box, gt.shape), gt) for gt in truths]
    assert np.mean(mask_iou) >= np.mean(box_iou) + IOU_MARGIN, (
        f"mask IoU {np.mean(mask_iou):.3f} vs position-only box {box} {np.mean(box_iou):.3f} "
        f"(+{IOU_MARGIN} needed); per case {np.round(mask_iou, 2).tolist()} vs {np.round(box_iou, 2).tolist()}")


def test_identity_mask_beats_a_position_only_guess(general, cases) -> None:
    result, _ = general
    check_mask_beats_position_guess(result.source_masks, all_cases(cases))


def test_a_broken_mask_fails_the_mask_check(general, cases) -> None:
    """The mask claim can fail: the same check rejects an all-ones mask and the right mask transposed."""
    result, _ = general
    everywhere = [np.ones_like(m) for m in result.source_masks]
    with pytest.raises(AssertionError, match="position-only box"):
        check_mask_beats_position_guess(everywhere, all_cases(cases))
    transposed = [m.T.copy() for m in result.source_masks]
    with pytest.raises(AssertionError, match="position-only box"):
        check_mask_beats_position_guess(transposed, all_cases(cases))


def test_mask_keeps_the_background_better_than_no_mask(toy, cases, general) -> None:
    masked, regions = general
    unmasked, _ = run_arm("nima-noprior-nomask", toy, all_cases(cases), steps=STEPS, region=regions)
    with_mask, without = masked.mean("background_psnr"), unmasked.mean("background_psnr")
    assert with_mask >= without + BACKGROUND_DB, (with_mask, without)


# ---- claims that need the learned priors (slow: six LoRA trainings) -------------------------------


@pytest.fixture(scope="module")
def prior_arms(cases, toy_priors):
    """LIPE and "w/o editing captions" on every case, each individual with its own priors."""
    from lipe_engine.baselines.methods import PRIOR_DREAMBOOTH, PRIOR_EDITING

    out = {}
    for arm, kind in (("lipe", PRIOR_EDITING), ("lipe-nocaptions", PRIOR_DREAMBOOTH)):
        total = None
        for ind, cs in cases.items():
            model = toy_priors.model_with(ind, kind)
            res, _ = run_arm(arm, model, cs, steps=STEPS)
            if total is None:
                total = res
            else:
                total.cases.extend(res.cases)
                total.images.extend(res.images)
        out[arm] = total
    return out


@pytest.fixture(scope="module")
def ledits(toy, cases):
    return run_arm("ledits", toy, all_cases(cases), steps=STEPS)[0]


@pytest.mark.slow
@pytest.mark.parametrize("other", [
    "lipe-nocaptions",
    pytest.param("nima-noprior", marks=pytest.mark.xfail(strict=True, reason=(
        "does not hold by the margin on the toy model: measured LIPE 0.795 vs general prior + NIMA 0.808 "
        "(1.6% lower, 2% needed), 9 edits of the TEST_SEED individuals"))),
    "ledits",
])
def test_lipe_keeps_identity_better(other, prior_arms, general, ledits) -> None:
    arms = {**prior_arms, "nima-noprior": general[0], "ledits": ledits}
    lipe, them = arms["lipe"].mean("identity_distance"), arms[other].mean("identity_distance")
    assert lipe <= (1 - IDENTITY_REL) * them, f"identity distance: LIPE {lipe:.3f} vs {other} {them:.3f}"


@pytest.mark.slow
@pytest.mark.parametrize("rate", [
    "pose_reached",
    pytest.param("view_kept", marks=pytest.mark.xfail(strict=True, reason=(
        "does not hold on the toy model: measured pose-and-view LIPE 7/9 (78%) vs general prior + NIMA "
        "9/9, LEDITS++ 7/9, w/o editing captions 5/9 (the learned prior loses the facing; see docs/method.md)"))),
])
def test_lipe_keeps_editability_of_the_best_arm(rate, prior_arms, general, ledits) -> None:
    arms = {**prior_arms, "nima-noprior": general[0], "ledits": ledits}
    rates = {name: r.mean(rate) for name, r in arms.items()}
    assert rates["lipe"] >= max(rates.values()) - POSE_MARGIN, rates


@pytest.mark.slow
def test_composite_background_is_the_photos_own(toy, cases, general) -> None:
    """With the pixel composite the background outside the composite's dilated, feathered mask (1 + 1
    px at 64 px) is the photo's own pixels (the VAE round trip alone reaches ~24 dB)."""
    from lipe_engine.baselines.methods import Method
    from lipe_engine.toyworld.checks import dilate

    _, regions = general
    grown = [dilate(r.astype("float32"), 2) for r in regions]
    composite = Method("noprior-composite", "general prior + composite", None, "nima", composite=True)
    res, _ = run_arm(composite, toy, all_cases(cases), steps=STEPS, region=grown)
    assert res.mean("background_psnr") >= 35.0, [c.background_psnr for c in res.cases]
