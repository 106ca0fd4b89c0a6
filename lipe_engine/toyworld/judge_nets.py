"""The toy-world judge's three small networks and their file (one safetensors, read as a hostile file).

Every network sees a photo next to the scene's known background (the world knows it, as a person
comparing before and after does): input channels are the photo and photo minus background, so the
sprite stands out wherever it was drawn. Each looks at a 48 px crop around the subject, found from
that difference alone (no ground truth: :func:`subject_crop`), and at the crop's mirror image too,
so its answers are consistent under a left-right flip by construction (the world's sprites facing
left are mirror images of those facing right). Global pooling makes them indifferent to where the
subject is in the crop.

- :class:`PoseNet` reads the pose: one logit per (kind, pose) of the world plus "unclear" (a smear,
  a heavy blur, two poses at once, no sprite), the mean of the crop's and its mirror's logits.
- :class:`FacingNet` reads left or right at full resolution (a robot's facing is a visor two or three
  pixels off its head's centre): a score of the crop minus the score of its mirror, so a mirrored
  photo always gets the opposite facing with the same confidence.
- :class:`IdentityNet` returns a unit embedding (of the crop and its mirror together): the same
  individual in any pose, view, place, scale and setting lands close, a look-alike (same kind and
  body colour, other markings) far.

The file holds the three state dicts and a JSON header (``__metadata__``) with the classes and the
judge's thresholds; :func:`load_judge` checks every key, shape, dtype and value before use.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from safetensors import safe_open
from safetensors.torch import save_file
from torch import nn

from ..errors import ModelLoadError

FORMAT = "lipe-toy-judge/2"  # /2: a facing network of its own, crops, mirror images
UNCLEAR = "unclear"
MAX_FILE_BYTES = 8 * 1024 * 1024  # the shipped file is about 1 MB
EMBED_DIM = 32
CROP = 48  # pixels around the subject each network sees (the largest sprites are ~45 px wide)
SUBJECT_FLOOR = 0.15  # summed |photo - background| below this is noise or a VAE's drift, not the subject


def _block(cin: int, cout: int, stride: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False), nn.BatchNorm2d(cout),
                         nn.ReLU(inplace=True))


class _Backbone(nn.Module):
    """A stem (3x3, or 4x4 stride 2 that keeps fine markings in its channels), four 3x3 conv blocks
    (two stride-2), then average and max pooling over the whole image."""

    def __init__(self, widths: tuple[int, int, int], stem_stride: int = 1) -> None:
        super().__init__()
        a, b, c = widths
        k = 3 if stem_stride == 1 else 4
        stem = nn.Sequential(nn.Conv2d(6, a, k, stride=stem_stride, padding=1, bias=False), nn.BatchNorm2d(a),
                             nn.ReLU(inplace=True))
        self.layers = nn.Sequential(stem, _block(a, b, 2), _block(b, b, 1), _block(b, c, 2), _block(c, c, 1))
        self.out_features = 2 * c

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.layers(x)
        return torch.cat([h.mean(dim=(2, 3)), h.amax(dim=(2, 3))], dim=1)


def subject_crop(x: torch.Tensor, size: int = CROP) -> torch.Tensor:
    """The ``size`` px window of each network input (n, 6, H, W) centred on where the photo differs
    from its background (the centroid of the difference above :data:`SUBJECT_FLOOR`; the image's
    centre when nothing differs); zero (grey, no difference) outside the photo."""
    n, _, h, w = x.shape
    weight = F.relu(x[:, 3:].abs().sum(1) - SUBJECT_FLOOR)  # (n, H, W)
    total = weight.sum(dim=(1, 2))
    ys = torch.arange(h, dtype=x.dtype)[None, :, None]
    xs = torch.arange(w, dtype=x.dtype)[None, None, :]
    safe = total.clamp(min=1e-6)
    cy = torch.where(total > 1e-3, (weight * ys).sum(dim=(1, 2)) / safe, torch.full_like(total, (h - 1) / 2))
    cx = torch.where(total > 1e-3, (weight * xs).sum(dim=(1, 2)) / safe, torch.full_like(total, (w - 1) / 2))
    half = size // 2
    padded = F.pad(x, (half, half, half, half))
    # the window's first pixel is at c - (size - 1) / 2 (c - half + 1 rounded down; + half in padded
    # coordinates): the window of a mirrored photo is the mirror image of the window
    top = torch.floor(cy + 1).long().clamp(0, h)
    left = torch.floor(cx + 1).long().clamp(0, w)
    return torch.stack([padded[i, :, int(top[i]):int(top[i]) + size, int(left[i]):int(left[i]) + size]
                        for i in range(n)])


def _both_ways(net: nn.Module, crops: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``net`` on the crops and on their mirror images, in one batch (one set of batch statistics)."""
    out = net(torch.cat([crops, crops.flip(3)]))
    return out[:len(crops)], out[len(crops):]


class PoseNet(nn.Module):
    """(photo, background) at 64 px -> pose logits incl. "unclear" (the same for the mirror image)."""

    def __init__(self, n_poses: int) -> None:
        super().__init__()
        self.backbone = _Backbone((32, 48, 64), stem_stride=2)
        self.pose = nn.Linear(self.backbone.out_features, n_poses)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        seen, mirrored = _both_ways(nn.Sequential(self.backbone, self.pose), subject_crop(x))
        return (seen + mirrored) / 2


class FacingNet(nn.Module):
    """(photo, background) at 64 px -> facing logits (left, right); exactly swapped for the mirror image."""

    def __init__(self) -> None:
        super().__init__()
        self.backbone = _Backbone((24, 32, 48), stem_stride=1)
        self.score = nn.Linear(self.backbone.out_features, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        seen, mirrored = _both_ways(nn.Sequential(self.backbone, self.score), subject_crop(x))
        right = (seen - mirrored) / 2
        return torch.cat([-right, right], dim=1)


class IdentityNet(nn.Module):
    """(photo, background) at 64 px -> unit embedding of the individual (the same for the mirror image)."""

    def __init__(self) -> None:
        super().__init__()
        self.backbone = _Backbone((32, 48, 64), stem_stride=2)
        self.head = nn.Sequential(nn.Linear(self.backbone.out_features, 96), nn.ReLU(inplace=True),
                                  nn.Linear(96, EMBED_DIM))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        seen, mirrored = _both_ways(nn.Sequential(self.backbone, self.head), subject_crop(x))
        return F.normalize(seen + mirrored, dim=1)


def net_input(images: torch.Tensor, backgrounds: torch.Tensor) -> torch.Tensor:
    """(n, 3, H, W) photos and their backgrounds in [0, 1] -> the networks' (n, 6, H, W) input."""
    return torch.cat([images - 0.5, images - backgrounds], dim=1)


@dataclass(frozen=True)
class JudgeConfig:
    """What the file says about itself; thresholds are the judge's success criteria."""

    pose_classes: tuple[str, ...]  # "kind/pose" for every pose of the world, then UNCLEAR
    pose_confidence: float  # the target pose must have at least this probability
    identity_threshold: float  # cosine similarity of embeddings counted as the same individual
    background_db: float  # PSNR outside the edit region counted as the background kept
    train_seed: int
    world: str  # which world it was trained on (a short description, for the reader)

    def to_metadata(self) -> dict[str, str]:
        return {"format": FORMAT, "config": json.dumps({
            "pose_classes": list(self.pose_classes), "pose_confidence": self.pose_confidence,
            "identity_threshold": self.identity_threshold, "background_db": self.background_db,
            "train_seed": self.train_seed, "world": self.world})}


@dataclass
class Judge:
    pose_net: PoseNet
    facing_net: FacingNet
    identity_net: IdentityNet
    config: JudgeConfig

    def nets(self) -> dict[str, nn.Module]:
        """The networks by their prefix in the file."""
        return {"pose": self.pose_net, "facing": self.facing_net, "identity": self.identity_net}

    @torch.no_grad()
    def read_pose(self, photos: torch.Tensor, backgrounds: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(pose logits over ``config.pose_classes``, facing logits over left/right) of photos
        (n, 3, 64, 64) in [0, 1] on their backgrounds."""
        x = net_input(photos, backgrounds)
        return self.pose_net(x), self.facing_net(x)

    @torch.no_grad()
    def embed(self, photos: torch.Tensor, backgrounds: torch.Tensor) -> torch.Tensor:
        """Identity embeddings (n, d) of photos (n, 3, 64, 64) in [0, 1] on their known backgrounds."""
        return self.identity_net(net_input(photos, backgrounds))


class JudgeFileError(ModelLoadError):
    """The judge file is missing, damaged or not one this code wrote."""

    def __init__(self, what: str) -> None:
        super().__init__(what, "reinstall LIPE, or write it again with scripts/train_judge.py")


def save_judge(path: str | os.PathLike[str], judge: Judge) -> Path:
    """Write both networks and the config to one safetensors file (through a temporary file)."""
    path = Path(path)
    tensors = {f"{prefix}.{k}": v.detach().contiguous()
               for prefix, net in judge.nets().items() for k, v in net.state_dict().items()}
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    save_file(tensors, str(tmp), metadata=judge.config.to_metadata())
    tmp.replace(path)
    return path


def _config(meta: dict[str, str] | None, where: Path) -> JudgeConfig:
    if not meta or meta.get("format") != FORMAT:
        raise JudgeFileError(f"{where}: not a {FORMAT} file")
    try:
        raw = json.loads(meta.get("config", ""))
        classes = tuple(str(c) for c in raw["pose_classes"])
        numbers = {k: float(raw[k]) for k in ("pose_confidence", "identity_threshold", "background_db")}
        seed, world = int(raw["train_seed"]), str(raw["world"])[:200]
    except (ValueError, KeyError, TypeError) as exc:
        raise JudgeFileError(f"{where}: unreadable config ({exc})") from exc
    if not 2 <= len(classes) <= 64 or classes[-1] != UNCLEAR or len(set(classes)) != len(classes):
        raise JudgeFileError(f"{where}: bad pose classes")
    ranges = {"pose_confidence": (0.0, 1.0), "identity_threshold": (-1.0, 1.0), "background_db": (0.0, 100.0)}
    for key, (lo, hi) in ranges.items():
        if not (math.isfinite(numbers[key]) and lo <= numbers[key] <= hi):
            raise JudgeFileError(f"{where}: {key} {numbers[key]} outside [{lo}, {hi}]")
    return JudgeConfig(classes, numbers["pose_confidence"], numbers["identity_threshold"], numbers["background_db"],
                       seed, world)


def _fill(net: nn.Module, prefix: str, handle, where: Path) -> None:  # type: ignore[no-untyped-def]
    expected = net.state_dict()
    stored = handle.keys()
    names = {k[len(prefix):] for k in stored if k.startswith(prefix)}
    if names != set(expected):
        missing, extra = sorted(set(expected) - names)[:3], sorted(names - set(expected))[:3]
        raise JudgeFileError(f"{where}: {prefix[:-1]} tensors differ (missing {missing}, unexpected {extra})")
    state = {}
    for name, want in expected.items():
        t = handle.get_tensor(prefix + name)
        if t.shape != want.shape or t.dtype != want.dtype:
            raise JudgeFileError(f"{where}: {prefix}{name} is {t.dtype}{tuple(t.shape)}, "
                                 f"expected {want.dtype}{tuple(want.shape)}")
        if t.is_floating_point() and not torch.isfinite(t).all():
            raise JudgeFileError(f"{where}: {prefix}{name} has non-finite values")
        if name.endswith("running_var") and (t < 0).any():
            raise JudgeFileError(f"{where}: {prefix}{name} has negative variances")
        state[name] = t
    net.load_state_dict(state)


def load_judge(path: str | os.PathLike[str]) -> Judge:
    """Read a judge file written by :func:`save_judge`; any deviation is a :class:`JudgeFileError`."""
    path = Path(path)
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise JudgeFileError(f"{path}: cannot be read ({exc.strerror or exc})") from exc
    if not 0 < size <= MAX_FILE_BYTES:
        raise JudgeFileError(f"{path}: {size} bytes is not a judge file's size")
    try:
        with safe_open(str(path), framework="pt", device="cpu") as handle:
            config = _config(handle.metadata(), path)
            judge = Judge(PoseNet(len(config.pose_classes)), FacingNet(), IdentityNet(), config)
            known = set()
            for prefix, net in judge.nets().items():
                _fill(net, f"{prefix}.", handle, path)
                known |= {f"{prefix}.{k}" for k in net.state_dict()}
            if set(handle.keys()) - known:
                raise JudgeFileError(f"{path}: unexpected tensors")
    except JudgeFileError:
        raise
    except Exception as exc:  # noqa: BLE001 - safetensors raises its own SafetensorError (and OSError)
        raise JudgeFileError(f"{path}: damaged ({exc})") from exc
    for net in judge.nets().values():
        net.eval()
    return judge
