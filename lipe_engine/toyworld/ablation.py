"""The paper's ablation and peers in the toy world, every edit judged by the toy world's judge.

Arms (names and editors from :data:`lipe_engine.baselines.methods.METHODS`, the same table
``lipe eval`` runs): the general prior (no LoRA) with and without NIMA's mask; MasaCtrl and
LEDITS++ (diffusers' pipeline) on the general prior; DreamBooth's plain-caption prior with NIMA
("w/o editing captions") and with MasaCtrl (DreamCtrl); LIPE's editing-caption prior without the
mask ("w/o NIMA"), with it (LIPE) and with the pixel composite; and a "no-op" row that returns the
photo unchanged, the floor every reader should see.

Each edit gets the judge's verdict (:func:`lipe_engine.toyworld.judge.judge_edit`: success = target
pose reached with confidence, view, identity and background kept) and two ground-truth checks: the
identity mask's IoU with the true sprite mask, and background PSNR over a region the caller can fix
for all arms. Identity is averaged over the edits that reached the pose only, so that a method that
changes nothing cannot win on it.

:func:`train_prior` learns one individual's LoRA prior of either caption kind;
:func:`run_arm` edits a set of :class:`EditCase` photos with one arm and scores every output;
:func:`table` formats the rows like the paper's Table 2.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from .. import toyworld
from ..baselines.methods import METHODS, PRIOR_DREAMBOOTH, PRIOR_EDITING, Method, run_method
from ..models.loader import LoadedModel, load_lora, load_sdxl
from ..nima import edit_image, edit_params_for
from ..training import TrainingConfig, train_identity_lora
from .checks import iou, masked_psnr, resize_mask
from .identity import EditCase, class_scenes, identity_prompt, reference_scenes, sks_caption
from .judge import judge_edit
from .sprites import POSES
from .world import Individual

# The individuals the ablation benchmark edits: one of each kind, with fixed markings, so the
# figures are not one sprite's luck. The behavioural tests draw their own (random_individuals).
ABLATION_INDIVIDUALS: dict[str, Individual] = {
    "dog": Individual("dog", "red", "striped", "white", "blue"),
    "robot": Individual("robot", "yellow", "spotted", "black", "red"),
    "bird": Individual("bird", "blue", "plain", "white", "orange"),
}

NOOP = Method("noop", "no-op (the photo)", None, "noop", use_mask=False)

# Arms in the order the benchmark runs them (grouped by prior: none, DreamBooth, editing captions).
ARMS: tuple[str, ...] = ("noop", "nima-noprior-nomask", "nima-noprior", "masactrl", "ledits", "lipe-nocaptions",
                         "dreamctrl", "lipe-nomask", "lipe", "lipe-composite")
PRIOR_STEPS = 300  # LoRA steps of the toy prior (the demo's)
CLASS_IMAGES = 8  # toy class photos per prior


def random_individuals(seed: int) -> list[Individual]:
    """One random individual of each kind (dog, bird, robot), drawn from ``seed``."""
    rng = np.random.default_rng(seed)
    return [Individual.random(rng, kind=kind) for kind in POSES]


def arm_method(name: str) -> Method:
    """An arm by name: the no-op or one of the method table's."""
    return NOOP if name == NOOP.name else METHODS[name]


@dataclass
class CaseResult:
    success: bool  # the judge's verdict: pose reached, view, identity and background kept
    pose_reached: bool  # the judge reads the target pose with confidence
    view_kept: bool  # ... and the photo's facing (left/right), which the edit should not change
    identity: float  # the judge's identity similarity to the individual, 0..1
    mask_iou: float
    background_psnr: float  # ground truth, over the region the caller chose
    verdict: str = ""  # the judge's words


@dataclass
class VariantResult:
    name: str
    cases: list[CaseResult] = field(default_factory=list)
    images: list[Image.Image] = field(default_factory=list)  # the edits, in case order
    source_masks: list[np.ndarray] = field(default_factory=list)  # NIMA's M^s per case (mask arms)

    def mean(self, attr: str) -> float:
        vals = [float(getattr(c, attr)) for c in self.cases]
        vals = [v for v in vals if not math.isnan(v)]
        return float(np.mean(vals)) if vals else float("nan")

    def identity_when_reached(self) -> float:
        """Mean identity over the edits that reached the target pose (nan when none did)."""
        vals = [c.identity for c in self.cases if c.pose_reached]
        return float(np.mean(vals)) if vals else float("nan")

    def row(self) -> dict[str, float]:
        return {"success": self.mean("success"), "pose reached": self.mean("pose_reached"),
                "pose and view": self.mean("view_kept"), "identity (pose reached)": self.identity_when_reached(),
                "mask IoU": self.mean("mask_iou"), "background PSNR (dB)": self.mean("background_psnr")}


def prior_items(individual: Individual, captions: str, seed: int = 0,
                n_class: int = CLASS_IMAGES, without_pose: str | None = None) -> tuple[list, list]:
    """(instance, class) (image, caption) pairs for a prior of ``captions`` kind.

    Editing captions (LIPE): the world's caption with the identity as "sks <kind>" (pose, view,
    setting in words); class photos with their own full captions. DreamBooth: "a photo of a sks
    <kind>" for every reference and "a photo of a <kind>" for every class photo.
    """
    refs = reference_scenes(individual, 4, seed=seed, without_pose=without_pose)
    classes = class_scenes(individual.kind, n_class, seed=seed + 1)
    if captions == PRIOR_EDITING:
        return ([(s.render()[0], sks_caption(s)) for s in refs], [(s.render()[0], s.caption()) for s in classes])
    if captions == PRIOR_DREAMBOOTH:
        return ([(s.render()[0], f"a photo of {identity_prompt(individual)}") for s in refs],
                [(s.render()[0], f"a photo of a {individual.kind}") for s in classes])
    raise ValueError(f"unknown caption kind {captions!r}")


def train_prior(model: LoadedModel, individual: Individual, out_dir: str | Path, steps: int = PRIOR_STEPS,
                seed: int = 0, progress=None, captions: str = PRIOR_EDITING,  # type: ignore[no-untyped-def]
                n_class: int = CLASS_IMAGES, without_pose: str | None = None) -> Path:
    """LoRA prior for ``individual`` through the training API; returns the LoRA folder. With
    ``without_pose`` no reference photo shows that pose."""
    instance, classes = prior_items(individual, captions, seed, n_class, without_pose=without_pose)
    config = TrainingConfig(max_steps=steps, resolution=64, rank=8, lr_unet=1e-3, lr_text=1e-3,
                            checkpoint_every=max(steps, 1), device="cpu", seed=seed)
    return train_identity_lora(model, instance, classes, out_dir, config=config, progress=progress)


def run_arm(method: Method | str, model: LoadedModel, cases: list[EditCase], steps: int = 30,
            region: list[np.ndarray] | None = None, progress=None,  # type: ignore[no-untyped-def]
            **params: object) -> tuple[VariantResult, list[np.ndarray]]:
    """Edit every case with one arm (its prior already loaded on ``model``).

    Returns the results and the per-case edit regions (NIMA arms: union mask at pixel size OR the
    true sprite mask; others: the true sprite mask) so that arms can be scored on one background:
    pass the regions of a reference arm as ``region``.
    """
    method = arm_method(method) if isinstance(method, str) else method
    out = VariantResult(method.label)
    regions = []
    for i, case in enumerate(cases):
        photo, gt = case.scene.render()
        src, tgt, ident = case.prompts(method.prior is not None)
        settings = {"skip": max(1, steps // 10), **params}
        p = edit_params_for(model.source, steps=steps, use_mask=method.use_mask, composite=method.composite,
                            **settings)
        union = source_mask = None
        if method.editor == "noop":
            edited = photo.copy()
        elif method.editor == "nima":
            res = edit_image(model, photo, src, [tgt], ident, params=p, progress=progress)
            edited = res.images[0]
            if method.use_mask:
                union, source_mask = res.union_masks[0], res.source_mask
                out.source_masks.append(source_mask)
        else:
            edited = run_method(method, model, photo, src, [tgt], ident, p, progress=progress)[0]
        if region is not None:
            edit_region = region[i]
        elif union is not None:
            edit_region = (resize_mask(union, gt.shape) > 0.5) | (gt > 0.05)
        else:
            edit_region = gt > 0.05
        regions.append(edit_region)
        verdict = judge_edit(edited, case)
        out.images.append(edited)
        out.cases.append(CaseResult(
            success=verdict.success, pose_reached=verdict.pose_reached, view_kept=verdict.view_kept,
            identity=verdict.identity,
            mask_iou=iou(source_mask, gt) if source_mask is not None else float("nan"),
            background_psnr=masked_psnr(edited, photo, ~edit_region), verdict=verdict.describe(),
        ))
    return out, regions


def table(rows: list[VariantResult]) -> str:
    """Markdown table, one row per variant (arrows: which way is better); success is the headline."""
    head = ("| variant | success ↑ | pose reached ↑ | pose and view ↑ | identity, pose reached ↑ | mask IoU ↑ "
            "| background PSNR (dB) ↑ |")
    lines = [head, "|---|---|---|---|---|---|---|"]
    for r in rows:
        v = r.row()
        n = len(r.cases)
        iou_text = "-" if math.isnan(v["mask IoU"]) else f"{v['mask IoU']:.2f}"
        reached = sum(c.pose_reached for c in r.cases)
        ident = "-" if math.isnan(v["identity (pose reached)"]) else f"{v['identity (pose reached)']:.2f} ({reached})"
        lines.append(f"| {r.name} | **{v['success']:.0%}** ({sum(c.success for c in r.cases)}/{n}) | "
                     f"{v['pose reached']:.0%} | {v['pose and view']:.0%} | {ident} | {iou_text} | "
                     f"{v['background PSNR (dB)']:.1f} |")
    return "\n".join(lines)


class ToyPriors:
    """Priors of toy individuals trained on demand, once each, into ``root``; each comes loaded on
    its own fresh copy of the toy model (tests share one instance per session)."""

    def __init__(self, root: str | Path, model_source: str | Path | None = None, steps: int = PRIOR_STEPS) -> None:
        self.root = Path(root)
        self.model_source = str(model_source or toyworld.TOY_MODEL_DIR)
        self.steps = steps
        self._models: dict[tuple[Individual, str], LoadedModel] = {}

    def model_with(self, individual: Individual, captions: str) -> LoadedModel:
        key = (individual, captions)
        if key not in self._models:
            model = load_sdxl(self.model_source, device="cpu", dtype="fp32")
            folder = self.root / f"{len(self._models):02d}_{individual.kind}_{captions}"
            load_lora(model, train_prior(model, individual, folder, steps=self.steps, captions=captions))
            self._models[key] = model
        return self._models[key]
