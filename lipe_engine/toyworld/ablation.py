"""The paper's ablation in the toy world: learned prior vs none, NIMA mask vs none, judged by truth.

:func:`train_prior` learns the LoRA identity prior for one individual (four ground-truth-captioned
reference photos plus captioned class photos); :func:`run_variant` edits a set of :class:`EditCase`
photos with one variant and measures every output against the world's ground truth;
:func:`table` formats the rows like the paper's Table 2.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..models.loader import LoadedModel
from .checks import classify_pose, identity_distance, iou, masked_psnr, resize_mask
from .identity import EditCase, class_scenes, reference_scenes, sks_caption
from .world import Individual

# The individuals the ablation benchmark and the behavioural tests edit: one of each kind, with
# fixed markings, so the figures are not one sprite's luck (the tests use the dog).
ABLATION_INDIVIDUALS: dict[str, Individual] = {
    "dog": Individual("dog", "red", "striped", "white", "blue"),
    "robot": Individual("robot", "yellow", "spotted", "black", "red"),
    "bird": Individual("bird", "blue", "plain", "white", "orange"),
}


@dataclass
class CaseResult:
    pose_reached: bool  # the drawn sprite's silhouette best matches the target pose (either facing)
    view_kept: bool  # ... and the photo's facing (left/right), which the edit should not change
    mask_iou: float
    background_psnr: float
    identity_distance: float


@dataclass
class VariantResult:
    name: str
    cases: list[CaseResult] = field(default_factory=list)

    def mean(self, attr: str) -> float:
        vals = [float(getattr(c, attr)) for c in self.cases]
        vals = [v for v in vals if not math.isnan(v)]
        return float(np.mean(vals)) if vals else float("nan")

    def row(self) -> dict[str, float]:
        return {"pose reached": self.mean("pose_reached"), "pose and view": self.mean("view_kept"),
                "mask IoU": self.mean("mask_iou"),
                "background PSNR (dB)": self.mean("background_psnr"),
                "identity distance": self.mean("identity_distance")}


def train_prior(model: LoadedModel, individual: Individual, out_dir: str | Path, steps: int = 300,
                seed: int = 0, progress=None) -> Path:
    """LoRA prior for ``individual`` through the training API; returns the LoRA folder."""
    from ..training import TrainingConfig, train_identity_lora

    refs = reference_scenes(individual, 4, seed=seed)
    instance = [(s.render()[0], sks_caption(s)) for s in refs]
    classes = [(s.render()[0], s.caption()) for s in class_scenes(individual.kind, 8, seed=seed + 1)]
    config = TrainingConfig(max_steps=steps, resolution=64, rank=8, lr_unet=1e-3, lr_text=1e-3,
                            checkpoint_every=max(steps, 1), device="cpu", seed=seed)
    return train_identity_lora(model, instance, classes, out_dir, config=config, progress=progress)


def run_variant(name: str, model: LoadedModel, cases: list[EditCase], personalized: bool, use_mask: bool,
                steps: int = 50, region: list[np.ndarray] | None = None, progress=None,
                **params: object) -> tuple[VariantResult, list[np.ndarray]]:
    """Edit every case; returns the results and the per-case edit regions (union masks at pixel size,
    OR the ground-truth sprite mask) so a mask-less variant can be scored on the same background."""
    from ..nima import edit_image, edit_params_for

    out = VariantResult(name)
    regions = []
    for i, case in enumerate(cases):
        photo, gt = case.scene.render()
        src, tgt, ident = case.prompts(personalized)
        settings = {"skip": max(1, steps // 10), **params}
        p = edit_params_for(model.source, steps=steps, use_mask=use_mask, **settings)
        res = edit_image(model, photo, src, [tgt], ident, params=p, progress=progress)
        edited = res.images[0]
        if region is not None:
            edit_region = region[i]
        else:
            edit_region = (resize_mask(res.union_masks[0], gt.shape) > 0.5) | (gt > 0.05)
        regions.append(edit_region)
        guess = classify_pose(edited, case.scene)
        out.cases.append(CaseResult(
            pose_reached=guess.pose == case.target_pose,
            view_kept=guess.pose == case.target_pose and guess.facing == case.scene.facing,
            mask_iou=iou(res.source_mask, gt) if use_mask else float("nan"),
            background_psnr=masked_psnr(edited, photo, ~edit_region),
            identity_distance=identity_distance(edited, case.scene, case.target_pose),
        ))
    return out, regions


def table(rows: list[VariantResult]) -> str:
    """Markdown table, one row per variant (arrows: which way is better)."""
    head = ("| variant | pose reached ↑ | pose and view ↑ | mask IoU ↑ | background PSNR (dB) ↑ "
            "| identity distance ↓ |")
    lines = [head, "|---|---|---|---|---|---|"]
    for r in rows:
        v = r.row()
        iou_text = "-" if math.isnan(v["mask IoU"]) else f"{v['mask IoU']:.2f}"
        lines.append(f"| {r.name} | {v['pose reached']:.0%} | {v['pose and view']:.0%} | {iou_text} | "
                     f"{v['background PSNR (dB)']:.1f} | {v['identity distance']:.3f} |")
    return "\n".join(lines)
