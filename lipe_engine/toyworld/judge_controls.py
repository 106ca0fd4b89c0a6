"""Controls that show the judge is right, and its accuracy on renders it never saw.

For an edit case of a held-out individual the controls are photos whose verdict a person knows:
the truth (the individual drawn in the target pose in place) and a softened truth (blurred 0.8 px,
a little noise, through the toy VAE) are successes; the unedited photo (no-op), the truth blurred
by 3 px, the individual in a third pose and a look-alike (same kind and body colour, other
markings) in the target pose are not. A moved or rescaled truth must look more like the individual
than the look-alike does. The tests (tests/engine/toyworld/test_judge.py) and
``benchmarks/judge_accuracy.py`` draw their individuals from seeds the training script never uses.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import torch

from .backgrounds import render_background
from .identity import EditCase
from .judge import embed, judge_edits
from .lookalikes import lookalike
from .softening import gaussian_blur, soften
from .sprites import POSES
from .world import KINDS, Individual, Scene, random_scene

HEAVY_BLUR_PX = 3.0
SOFT_BLUR_PX = 0.8
# expected verdict per control: success or not
CONTROLS: dict[str, bool] = {"truth": True, "softened truth": True, "no-op": False, "heavy blur": False,
                             "another pose": False, "look-alike": False}


def _tensor(rgb: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(rgb.astype(np.float32)).permute(2, 0, 1)


def _array(t: torch.Tensor) -> np.ndarray:
    return t.permute(1, 2, 0).numpy()


def held_out_cases(seed: int, n: int) -> list[EditCase]:
    """n edit cases of n new individuals (kinds in turn), each to another pose of its kind."""
    rng = np.random.default_rng(seed)
    cases = []
    for i in range(n):
        scene = random_scene(rng, individual=Individual.random(rng, kind=KINDS[i % len(KINDS)]))
        others = [p for p in POSES[scene.individual.kind] if p != scene.pose]
        cases.append(EditCase(scene, others[int(rng.integers(len(others)))]))
    return cases


@dataclass
class ControlSet:
    case: EditCase
    images: dict[str, np.ndarray]  # control name -> (64, 64, 3) float photo
    moved: np.ndarray  # the softened truth moved and rescaled
    lookalike_soft: np.ndarray  # the look-alike softened the same way


def moved_scene(scene: Scene, rng: np.random.Generator) -> Scene:
    """The scene shifted 4-8 px sideways and scaled by 0.8-0.9 or 1.1-1.2."""
    shift = float(rng.uniform(4, 8)) * (1 if rng.random() < 0.5 else -1)
    factor = float(rng.uniform(0.8, 0.9) if rng.random() < 0.5 else rng.uniform(1.1, 1.2))
    return replace(scene, cx=scene.cx + shift, scale=scene.scale * factor)


def control_sets(cases: list[EditCase], seed: int, vae: Any | None) -> list[ControlSet]:
    """Every control photo for every case (softened ones through ``vae`` when given)."""
    rng = np.random.default_rng(seed)
    out = []
    for k, case in enumerate(cases):
        scene, target = case.scene, case.target_pose
        truth_scene = scene.with_pose(target)
        third = [p for p in POSES[scene.individual.kind] if p not in (scene.pose, target)][0]
        other = replace(truth_scene, individual=lookalike(scene.individual, rng))
        truth = _tensor(truth_scene.render_arrays()[0])
        batch = torch.stack([truth, _tensor(moved_scene(truth_scene, rng).render_arrays()[0]),
                             _tensor(other.render_arrays()[0])])
        soft = soften(batch, vae, SOFT_BLUR_PX, seed=seed + k)
        images = {
            "truth": _array(truth),
            "softened truth": _array(soft[0]),
            "no-op": scene.render_arrays()[0],
            "heavy blur": _array(gaussian_blur(truth[None], HEAVY_BLUR_PX)[0]),
            "another pose": scene.with_pose(third).render_arrays()[0],
            "look-alike": _array(soft[2]),
        }
        out.append(ControlSet(case, images, _array(soft[1]), _array(soft[2])))
    return out


@dataclass
class ControlReport:
    rates: dict[str, float]  # control -> share of cases judged as expected
    ranking: float  # share of cases where the moved individual's identity beats the look-alike's
    failures: dict[str, list[str]]  # control -> verdicts of the cases judged wrongly


def run_controls(sets: list[ControlSet], judge: Any = None) -> ControlReport:
    rates, failures = {}, {}
    for name, expected in CONTROLS.items():
        verdicts = judge_edits([s.images[name] for s in sets], [s.case for s in sets], judge)
        wrong = [f"{s.case.scene.individual.description} {s.case.scene.pose}->{s.case.target_pose}: {v.describe()}"
                 for s, v in zip(sets, verdicts, strict=True) if v.success != expected]
        rates[name] = 1 - len(wrong) / len(sets)
        failures[name] = wrong
    moved = judge_edits([s.moved for s in sets], [s.case for s in sets], judge)
    look = judge_edits([s.lookalike_soft for s in sets], [s.case for s in sets], judge)
    ranking = float(np.mean([m.identity > x.identity for m, x in zip(moved, look, strict=True)]))
    return ControlReport(rates, ranking, failures)


def pose_accuracy(seed: int, n: int, vae: Any | None, judge: Any = None) -> dict[str, float]:
    """Pose and facing read from n softened renders of new individuals in random scenes."""
    rng = np.random.default_rng(seed)
    scenes = [random_scene(rng, individual=Individual.random(rng, kind=KINDS[i % len(KINDS)])) for i in range(n)]
    photos = soften(torch.stack([_tensor(s.render_arrays()[0]) for s in scenes]), vae, SOFT_BLUR_PX, seed=seed)
    # judged as an "edit" to the pose it shows: the verdict's detected pose and facing are what count
    verdicts = judge_edits([_array(p) for p in photos], [EditCase(s, s.pose) for s in scenes], judge)
    return {"pose": float(np.mean([v.pose == s.pose for v, s in zip(verdicts, scenes, strict=True)])),
            "facing": float(np.mean([v.facing == s.facing for v, s in zip(verdicts, scenes, strict=True)])),
            "pose and facing": float(np.mean([v.pose == s.pose and v.facing == s.facing
                                              for v, s in zip(verdicts, scenes, strict=True)]))}


def identity_retrieval(seed: int, n: int, gallery: int, vae: Any | None, judge: Any = None) -> float:
    """Top-1 retrieval among look-alikes: a softened photo of each of n new individuals in a new scene
    is matched against photos of it and ``gallery - 1`` look-alikes (each in its own random scene)."""
    rng = np.random.default_rng(seed)
    hits = []
    for i in range(n):
        ind = Individual.random(rng, kind=KINDS[i % len(KINDS)])
        members = [ind] + [lookalike(ind, rng) for _ in range(gallery - 1)]
        scenes = [random_scene(rng, individual=m) for m in members] + [random_scene(rng, individual=ind)]
        photos = soften(torch.stack([_tensor(s.render_arrays()[0]) for s in scenes]), vae, SOFT_BLUR_PX,
                        seed=seed + i)
        bgs = torch.stack([_tensor(render_background(s.setting, s.bg_seed)[0]) for s in scenes])
        emb = embed(photos, bgs, judge)
        hits.append(int((emb[:-1] @ emb[-1]).argmax()) == 0)
    return float(np.mean(hits))
