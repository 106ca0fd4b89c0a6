"""The judge of a toy-world edit: did the photo become the same individual in the target pose?

:func:`judge_edit` (``image``, ``case``) returns an :class:`EditVerdict`. It looks at the edited
photo as a person comparing it with the original would:

- pose: which pose the photo shows, with a probability, from a small network trained on the
  world's renders softened as a diffusion model's output is (blur, noise, colour drift, a VAE round
  trip, ghosts of another pose). It can answer "unclear" (a smear, a heavy blur, two poses at once,
  nothing drawn), which no pose template does; the facing comes from a network of its own that
  reads the subject at full resolution and gives a mirrored photo the opposite answer;
- identity: cosine similarity in [0, 1] of a second network's embeddings of the photo and of the
  individual's true rendering in the target pose (what success looks like); the network is trained
  to be invariant to pose, view, place, scale and background and sensitive to the markings captions
  do not name (compared with the original photo instead, in another pose, look-alikes and softened
  truths separate less well: 85% vs 93% balanced accuracy on validation individuals);
- background: PSNR against the original photo outside the edit region (the sprite's silhouettes in
  the source and target poses, grown by a few pixels); a ground-truth check, no network.

``success`` = the target pose reached with at least the file's confidence, the facing kept, the
identity above the file's threshold and the background kept. The networks and the thresholds are
one small safetensors file (``resources/judge/``) written by ``scripts/train_judge.py``.
"""

from __future__ import annotations

import functools
import os
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from ..locations import toy_judge_file
from .backgrounds import render_background
from .checks import dilate, masked_psnr, to_float
from .identity import EditCase
from .judge_nets import UNCLEAR, Judge, load_judge
from .world import FACINGS, SIZE, Scene

EDIT_REGION_GROW = 4  # pixels around the source and target silhouettes that an edit may repaint


@dataclass(frozen=True)
class EditVerdict:
    """The judge's reading of one edited photo against its :class:`EditCase`."""

    target_pose: str
    target_facing: str
    pose: str  # the detected pose of the individual's kind, or "unclear"
    facing: str
    pose_confidence: float  # probability of the detected pose
    target_confidence: float  # probability of the target pose
    facing_confidence: float
    identity: float  # similarity to the individual in [0, 1]
    background_psnr: float  # dB outside the edit region
    pose_reached: bool
    view_kept: bool
    identity_kept: bool
    background_kept: bool
    identity_threshold: float
    background_db: float

    @property
    def success(self) -> bool:
        return self.pose_reached and self.view_kept and self.identity_kept and self.background_kept

    def problems(self) -> list[str]:
        """What went wrong, in words (empty when the edit succeeded)."""
        out = []
        if self.pose == UNCLEAR:
            out.append(f"no clear pose can be seen (unclear {self.pose_confidence:.0%}): a smear or a blur")
        elif not self.pose_reached:
            if self.pose == self.target_pose:
                out.append(f"the target pose '{self.target_pose}' is only {self.target_confidence:.0%} likely")
            else:
                out.append(f"the photo shows '{self.pose}' ({self.pose_confidence:.0%}), "
                           f"not '{self.target_pose}' ({self.target_confidence:.0%})")
        if self.pose != UNCLEAR and self.facing != self.target_facing:
            out.append(f"it faces {self.facing}; the photo faced {self.target_facing}")
        if not self.identity_kept:
            out.append(f"it does not look like the same individual (identity {self.identity:.2f} < "
                       f"{self.identity_threshold:.2f})")
        if not self.background_kept:
            out.append(f"the background changed ({self.background_psnr:.1f} dB < {self.background_db:.0f} dB)")
        return out

    def describe(self) -> str:
        """One sentence a person can check against the before/after picture."""
        seen = (f"{self.pose} facing {self.facing}" if self.pose != UNCLEAR else "no clear pose")
        if self.success:
            return (f"success: the same individual {seen} ({self.target_confidence:.0%} sure), identity "
                    f"{self.identity:.2f}, background {self.background_psnr:.1f} dB")
        return f"failed: {'; '.join(self.problems())} (detected {seen})"

    def to_dict(self) -> dict[str, object]:
        return {**asdict(self), "success": self.success, "verdict": self.describe()}


@functools.lru_cache(maxsize=2)
def _load(path: str) -> Judge:
    return load_judge(path)


def default_judge() -> Judge:
    """The shipped judge (loaded once per process)."""
    return _load(str(toy_judge_file()))


def _photo_tensor(image: Image.Image | np.ndarray) -> torch.Tensor:
    if isinstance(image, Image.Image):
        image = image.convert("RGB")
        if image.size != (SIZE, SIZE):
            image = image.resize((SIZE, SIZE), Image.Resampling.BOX)
    arr = to_float(image)
    if arr.shape != (SIZE, SIZE, 3) or not np.isfinite(arr).all():
        raise ValueError(f"a toy-world photo is {SIZE}x{SIZE} RGB, got an array of shape {arr.shape}")
    return torch.from_numpy(np.ascontiguousarray(arr, dtype=np.float32)).permute(2, 0, 1)


def _background(scene: Scene) -> torch.Tensor:
    bg, _ = render_background(scene.setting, scene.bg_seed, SIZE, SIZE)
    return torch.from_numpy(bg.astype(np.float32)).permute(2, 0, 1)


def _arrays(scene: Scene) -> tuple[torch.Tensor, np.ndarray]:
    rgb, mask = scene.render_arrays()
    return torch.from_numpy(rgb.astype(np.float32)).permute(2, 0, 1), mask


@torch.no_grad()
def embed(photos: torch.Tensor, backgrounds: torch.Tensor, judge: Judge | None = None) -> torch.Tensor:
    """Identity embeddings (n, d) of photos (n, 3, 64, 64) in [0, 1] on their known backgrounds."""
    return (judge or default_judge()).embed(photos, backgrounds)


@torch.no_grad()
def judge_edits(images: list[Image.Image | np.ndarray], cases: list[EditCase],
                judge: Judge | None = None) -> list[EditVerdict]:
    """:func:`judge_edit` for many photos at once (one batch through each network)."""
    judge = judge or default_judge()
    if len(images) != len(cases):
        raise ValueError(f"{len(images)} images for {len(cases)} cases")
    if not cases:
        return []
    classes = judge.config.pose_classes
    photos = torch.stack([_photo_tensor(im) for im in images])
    backgrounds = torch.stack([_background(c.scene) for c in cases])
    originals, truths, regions = [], [], []
    for c in cases:
        original, source_mask = _arrays(c.scene)
        truth, target_mask = _arrays(c.scene.with_pose(c.target_pose))
        originals.append(original)
        truths.append(truth)
        regions.append(dilate(np.maximum(source_mask, target_mask), EDIT_REGION_GROW))
    pose_logits, facing_logits = judge.read_pose(photos, backgrounds)
    facing_prob = torch.softmax(facing_logits, dim=1)
    similarity = (judge.embed(photos, backgrounds) * judge.embed(torch.stack(truths), backgrounds)).sum(1)
    out = []
    for i, c in enumerate(cases):
        kind = c.scene.individual.kind
        names = [name for name in classes if name.split("/", 1)[0] == kind] + [UNCLEAR]
        if len(names) < 2:
            raise ValueError(f"the judge was trained on a world without {kind}s: retrain it (scripts/train_judge.py)")
        probs = torch.softmax(pose_logits[i, [classes.index(n_) for n_ in names]], dim=0)
        best = int(probs.argmax())
        pose = names[best].split("/", 1)[-1]
        target_name = f"{kind}/{c.target_pose}"
        if target_name not in names:
            raise ValueError(f"'{c.target_pose}' is not a pose of {kind}s the judge knows")
        target_p = float(probs[names.index(target_name)])
        facing = FACINGS[int(facing_prob[i].argmax())]
        ident = float(similarity[i])
        bg_psnr = masked_psnr(photos[i].permute(1, 2, 0).numpy(), originals[i].permute(1, 2, 0).numpy(),
                              ~regions[i])
        reached = pose == c.target_pose and target_p >= judge.config.pose_confidence
        out.append(EditVerdict(
            target_pose=c.target_pose, target_facing=c.scene.facing, pose=pose, facing=facing,
            pose_confidence=round(float(probs[best]), 4), target_confidence=round(target_p, 4),
            facing_confidence=round(float(facing_prob[i].max()), 4),
            identity=round(min(max(ident, 0.0), 1.0), 4), background_psnr=round(bg_psnr, 2),
            pose_reached=reached, view_kept=reached and facing == c.scene.facing,
            identity_kept=ident >= judge.config.identity_threshold,
            background_kept=bool(bg_psnr >= judge.config.background_db),
            identity_threshold=judge.config.identity_threshold, background_db=judge.config.background_db,
        ))
    return out


def judge_edit(image: Image.Image | np.ndarray, case: EditCase, judge: Judge | None = None) -> EditVerdict:
    """The verdict on ``image`` as an edit of ``case`` (its scene's photo to ``case.target_pose``)."""
    return judge_edits([image], [case], judge)[0]


def judge_file_from(path: str | os.PathLike[str]) -> Judge:
    """A judge from another file (a retrained one), read as a hostile file like the shipped one."""
    return _load(str(Path(path)))
