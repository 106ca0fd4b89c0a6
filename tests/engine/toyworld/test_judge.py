"""The toy-world judge (lipe_engine/toyworld/judge.py) passes its controls on individuals it never saw.

Decided before any result was looked at: the individuals come from ``CONTROL_SEED`` (never used by
scripts/train_judge.py, whose pools use seeds 0 and 1_000_003); ``CASES`` edit cases, one new
individual each, kinds in turn. Each control must be judged as a person would in at least
``RATE`` of the cases (truth and softened truth: success; no-op, 3 px blur, a third pose, a
look-alike: failure) and a moved or rescaled individual must look more like itself than the
look-alike does in at least ``RANKING`` of them. The shipped file is also read as a hostile file.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from lipe_engine.locations import toy_judge_file
from lipe_engine.toyworld.judge import EditVerdict, judge_edit
from lipe_engine.toyworld.judge_controls import CONTROLS, control_sets, held_out_cases, run_controls
from lipe_engine.toyworld.judge_nets import JudgeFileError, load_judge, save_judge

pytestmark = pytest.mark.usefixtures("one_torch_thread")

CONTROL_SEED = 20261204
CASES = 36
RATE = 0.95
RANKING = 0.90


@pytest.fixture(scope="module")
def vae():
    from lipe_engine.toyworld import TOY_MODEL_DIR
    from lipe_engine.toyworld.softening import load_vae

    return load_vae(TOY_MODEL_DIR)


@pytest.fixture(scope="module")
def report(vae):
    sets = control_sets(held_out_cases(CONTROL_SEED, CASES), CONTROL_SEED + 1, vae)
    return run_controls(sets)


NOT_YET = {  # measured 2026-12-04 on world v2 (judge seed 0, format /2); strict: must fail until the judge improves
    "look-alike": "92% (33/36): three softened look-alikes (a dog, a robot, a bird) read as the individual "
                  "(identity 0.88-0.96 >= 0.85); the threshold balances them against softened truths on validation",
}


@pytest.mark.parametrize("control", [
    pytest.param(name, marks=pytest.mark.xfail(strict=True, reason=f"below {RATE:.0%}: {NOT_YET[name]}"))
    if name in NOT_YET else name for name in CONTROLS])
def test_judge_agrees_with_a_person_on_each_control(report, control) -> None:
    rate = report.rates[control]
    expected = "success" if CONTROLS[control] else "failure"
    assert rate >= RATE, (f"{control}: judged {expected} in {rate:.0%} of {CASES} cases (>= {RATE:.0%} needed); "
                          f"wrong: {report.failures[control][:4]}")


def test_moved_individual_ranks_above_a_lookalike(report) -> None:
    assert report.ranking >= RANKING, f"identity ranking {report.ranking:.0%} (>= {RANKING:.0%} needed)"


def test_verdict_says_what_went_wrong_in_words() -> None:
    case = held_out_cases(CONTROL_SEED + 7, 1)[0]
    photo = case.scene.render_arrays()[0]  # the unedited photo: the pose did not change
    verdict = judge_edit(photo, case)
    assert isinstance(verdict, EditVerdict) and not verdict.success
    assert verdict.pose == case.scene.pose
    assert "not" in verdict.describe() and case.target_pose in verdict.describe()
    blank = np.full((64, 64, 3), 0.5, np.float32)  # a grey smear over everything
    words = judge_edit(blank, case).describe()
    assert words.startswith("failed") and "background changed" in words
    truth = case.scene.with_pose(case.target_pose).render()[0].resize((256, 256))  # upscaled photos are read too
    assert judge_edit(truth, case).success, judge_edit(truth, case).describe()


def test_a_mirrored_photo_reads_the_same_pose_and_individual_facing_the_other_way() -> None:
    """The world's sprites facing left are mirror images of those facing right: the judge's answers
    follow a left-right flip exactly (pose and identity unchanged, facing swapped)."""
    import torch

    from lipe_engine.toyworld.backgrounds import render_background

    judge = load_judge(toy_judge_file())
    scenes = [c.scene for c in held_out_cases(CONTROL_SEED + 11, 6)]
    photos = torch.stack([torch.from_numpy(s.render_arrays()[0]).permute(2, 0, 1) for s in scenes])
    bgs = torch.stack([torch.from_numpy(render_background(s.setting, s.bg_seed)[0].astype(np.float32))
                       .permute(2, 0, 1) for s in scenes])
    pose, facing = judge.read_pose(photos, bgs)
    pose_m, facing_m = judge.read_pose(photos.flip(3), bgs.flip(3))
    assert torch.allclose(pose, pose_m, atol=1e-4) and torch.allclose(facing, facing_m.flip(1), atol=1e-4)
    assert torch.allclose(judge.embed(photos, bgs), judge.embed(photos.flip(3), bgs.flip(3)), atol=1e-4)
    assert [("left", "right")[int(i)] for i in facing.argmax(1)] == [s.facing for s in scenes]


def test_judge_file_is_small_and_loads(tmp_path: Path) -> None:
    path = toy_judge_file()
    assert path.is_file() and path.stat().st_size < 2_000_000
    judge = load_judge(path)
    assert judge.config.pose_classes[-1] == "unclear"
    copy = save_judge(tmp_path / "again.safetensors", judge)
    assert load_judge(copy).config == judge.config


def _rewrite(tmp_path: Path, change) -> Path:  # type: ignore[no-untyped-def]
    from safetensors import safe_open
    from safetensors.torch import save_file

    with safe_open(str(toy_judge_file()), framework="pt") as fh:
        names = fh.keys()
        tensors = {k: fh.get_tensor(k) for k in names}
        meta = dict(fh.metadata())
    change(tensors, meta)
    out = tmp_path / "hostile.safetensors"
    save_file(tensors, str(out), metadata=meta)
    return out


@pytest.mark.parametrize("damage, message", [
    (lambda t, m: t.pop(next(iter(t))), "tensors differ"),
    (lambda t, m: t.update({"pose.extra": t[next(iter(t))].clone()}), "tensors differ"),
    (lambda t, m: t.update({k: t[k][:1] for k in list(t)[:1]}), "expected"),
    (lambda t, m: t.update({k: t[k].double() for k in list(t)[:1]}), "expected"),
    (lambda t, m: t.update({k: t[k] * float("nan") for k in list(t)[:1]}), "non-finite"),
    (lambda t, m: m.update(format="something else"), "not a"),
    (lambda t, m: m.update(config=m["config"].replace('"pose_confidence": ', '"pose_confidence": 7')),
     "outside"),
    (lambda t, m: m.update(config="{"), "unreadable"),
])
def test_hostile_judge_files_are_refused(tmp_path: Path, damage, message) -> None:
    path = _rewrite(tmp_path, damage)
    with pytest.raises(JudgeFileError, match=message):
        load_judge(path)


def test_truncated_or_huge_judge_files_are_refused(tmp_path: Path) -> None:
    cut = tmp_path / "cut.safetensors"
    cut.write_bytes(toy_judge_file().read_bytes()[:5000])
    with pytest.raises(JudgeFileError, match="damaged"):
        load_judge(cut)
    big = tmp_path / "big.safetensors"
    with big.open("wb") as fh:
        fh.truncate(9 * 1024 * 1024)
    with pytest.raises(JudgeFileError, match="size"):
        load_judge(big)
    with pytest.raises(JudgeFileError, match="cannot be read"):
        load_judge(tmp_path / "missing.safetensors")
