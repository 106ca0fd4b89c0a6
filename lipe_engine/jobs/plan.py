"""Progress of a whole training job and a time-left estimate that does not jump.

The engine reports each stage on its own (captions, prompts, class images, training, save), so a
per-stage percentage restarts at 0 several times and a per-stage ETA swings between "0:00" and
hours. :class:`JobPlan` weighs the stages by their expected work (denoising steps of class images,
training steps at ~3 forward passes each) and turns any stage's event into one fraction of the job;
:class:`EtaSmoother` turns that fraction over time into a time left that is said only once it is
stable ("estimating…" before), and then moves smoothly.
"""

from __future__ import annotations

import math
import re
import time
from dataclasses import dataclass

from ..progress import ProgressEvent

# a training step is a forward and a backward pass (~3 forwards) of the same network a class image
# takes one forward per denoising step of
TRAIN_STEP_UNITS = 3.0
# the stages in the order a job runs them: (prefix of the engine's stage name, name on screen)
STAGES = (
    ("caption", "captions"), ("describe", "captions"), ("prompts", "prompts"), ("class images", "class images"),
    ("prepare training data", "preparing"), ("train", "training"), ("save lora", "saving"),
)


def stage_of(name: str) -> str:
    low = name.lower()
    return next((kind for prefix, kind in STAGES if low.startswith(prefix)), "other")


@dataclass(frozen=True)
class JobPlan:
    """How much of the job each stage is: fractions summing to 1, in the order they run."""

    class_images: int = 0
    class_steps: int = 30
    train_steps: int = 1000

    @property
    def weights(self) -> dict[str, float]:
        units = {
            "captions": 0.02, "prompts": 0.01, "class images": float(self.class_images * self.class_steps),
            "preparing": 0.01, "training": self.train_steps * TRAIN_STEP_UNITS, "saving": 0.01,
        }
        work = units["class images"] + units["training"]
        for k in ("captions", "prompts", "preparing", "saving"):  # small fixed shares of the whole
            units[k] *= max(work, 1.0)
        total = sum(units.values())
        return {k: v / total for k, v in units.items()}

    def fraction(self, ev: ProgressEvent) -> float:
        """The whole job's done fraction at this event of one of its stages."""
        kind = stage_of(ev.stage)
        weights = self.weights
        order = list(weights)
        if kind not in weights:
            return 0.0
        before = sum(weights[k] for k in order[: order.index(kind)])
        inside = ev.step / ev.total if ev.total else 0.0
        if kind == "training" and ev.total:
            # a resumed run counts from its checkpoint: the steps before it are done work
            start = self.train_steps - ev.total if self.train_steps >= ev.total else 0
            step = ev.info.get("global_step") if ev.info else None
            done = step if isinstance(step, int) else start + ev.step
            inside = done / max(self.train_steps, ev.total)
        return max(0.0, min(1.0, before + weights[kind] * max(0.0, min(1.0, inside))))


# within one photo of an edit job: the inversion (one image) then the edit (every target x seed at
# once); loading a model before a photo is no part of it done
PHOTO_STAGES = (("load", 0.0, 0.0), ("inversion", 0.0, 0.3), ("editing", 0.3, 1.0))
_PHOTO = re.compile(r"^photo (\d+)/(\d+): (.*)$")


@dataclass(frozen=True)
class PhotosPlan:
    """Progress of a job made of photos done one after another (an edit job, a caption job): its
    handler names each event "photo k/n: <stage>"; events before the first photo (loading a
    captioner) count as nothing done."""

    photos: int = 1

    def fraction(self, ev: ProgressEvent) -> float:
        m = _PHOTO.match(ev.stage or "")
        if m is None:
            return 0.0
        k, n, stage = int(m.group(1)), max(1, int(m.group(2))), m.group(3).lower()
        inside = ev.step / ev.total if ev.total else 0.0
        low, high = next(((lo, hi) for prefix, lo, hi in PHOTO_STAGES if stage.startswith(prefix)), (0.0, 1.0))
        within = low + (high - low) * max(0.0, min(1.0, inside))
        return max(0.0, min(1.0, (min(k, n) - 1 + within) / n))


class EtaSmoother:
    """Seconds left from the job's done fraction over time: None ("estimating…") until the rate has
    been seen for ``settle_s`` seconds over at least ``min_progress`` of the job, then an exponential
    average of the rate, so one slow or fast stretch does not make the estimate jump."""

    def __init__(self, settle_s: float = 20.0, min_progress: float = 0.01, alpha: float = 0.2,
                 clock=time.monotonic) -> None:
        self.settle_s, self.min_progress, self.alpha, self.clock = settle_s, min_progress, alpha, clock
        self._first: tuple[float, float] | None = None
        self._last: tuple[float, float] | None = None
        self._rate: float | None = None  # fraction per second

    def update(self, fraction: float) -> float | None:
        now = self.clock()
        if not math.isfinite(fraction):
            return self.eta(fraction)
        if self._first is None or fraction < self._first[1]:
            self._first = self._last = (now, fraction)
            self._rate = None
            return None
        assert self._last is not None
        t0, f0 = self._last
        if now - t0 >= 2.0 and fraction > f0:  # one rate sample every couple of seconds
            rate = (fraction - f0) / (now - t0)
            self._rate = rate if self._rate is None else self.alpha * rate + (1 - self.alpha) * self._rate
            self._last = (now, fraction)
        return self.eta(fraction)

    def eta(self, fraction: float) -> float | None:
        if self._first is None or self._rate is None or self._rate <= 0:
            return None
        t_first, f_first = self._first
        if self.clock() - t_first < self.settle_s or fraction - f_first < self.min_progress:
            return None
        return max(0.0, (1.0 - fraction) / self._rate)


def eta_text(seconds: float | None) -> str:
    """"estimating time left…", "about 40 s left", "about 12 min left", "about 3 h 20 min left"."""
    if seconds is None:
        return "estimating time left…"
    s = int(round(seconds))
    if s < 60:
        return f"about {max(5, 5 * round(s / 5))} s left"
    m = int(round(s / 60))
    if m < 60:
        return f"about {m} min left"
    return f"about {m // 60} h {m % 60:02d} min left"


def plan_for(lib, job) -> JobPlan | PhotosPlan:  # noqa: ANN001 - Library, Job (kept light: no import cycle)
    """The plan of a job: a training's from its config (the preset's steps for its reference
    photos); an edit's or a caption job's, its photos."""
    cfg = dict(job.config or {})
    if job.kind != "train":
        return PhotosPlan(max(1, len(cfg.get("photos") or [])))
    from ..training.config import config_from_preset

    n_refs = 1
    if job.identity_id is not None:
        try:
            n_refs = max(1, len(lib.identity_photos(int(job.identity_id), role="reference")))
        except Exception:  # noqa: BLE001 - a deleted identity: the job itself says so
            n_refs = 1
    try:
        steps = config_from_preset(cfg.get("preset"), **dict(cfg.get("overrides") or {})).total_steps(n_refs)
    except Exception:  # noqa: BLE001 - a bad config fails the job itself, with its own message
        steps = 1000
    return JobPlan(class_images=int(cfg.get("class_images") or 0), class_steps=int(cfg.get("class_steps") or 30),
                   train_steps=max(1, int(steps)))


# Seconds per training step and per class-image denoising step, and to start (load the model), by
# (model, device). The toy figures are from the 2-core CI machine (2026-12-04: `lipe demo`'s 300 steps
# took 59 s at load 7-8; the desktop's whole toy job, 8 class images included, 129 s at load 11); the
# SDXL ones are rough orders of magnitude (1024 px, batch 1 + one class image) for the estimate shown
# before queueing.
SECONDS_PER_STEP = {
    ("toy", "cpu"): (0.2, 0.03, 10.0), ("toy", "gpu"): (0.03, 0.005, 5.0),
    ("sdxl", "gpu"): (1.5, 0.15, 60.0), ("sdxl", "cpu"): (90.0, 20.0, 120.0),
}


def estimate_seconds(plan: JobPlan, model: str, device: str) -> float:
    """A rough duration of a job on this machine (``model``: toy | sdxl, ``device``: cpu | gpu)."""
    train_s, denoise_s, start_s = SECONDS_PER_STEP[(model, device)]
    return start_s + plan.train_steps * train_s + plan.class_images * plan.class_steps * denoise_s
