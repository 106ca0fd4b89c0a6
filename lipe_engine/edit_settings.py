"""The edit settings, declared once: each field's default, range and help (no torch import).

``nima.EditParams`` takes its defaults and checks its ranges from :data:`SETTINGS`; ``lipe edit``'s
options, ``lipe eval``'s defaults and the desktop's Advanced box are built from the same entries, so
a range or a help text is written in one place.

Only ``steps`` (100 DDPM-inversion steps, Appendix E.2) is the paper's. It states no guidance scales,
skip, lambda, threshold or attention resolution; those defaults are this project's own choices, each
with its reason beside it.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from .errors import InputError
from .validation import SEED_MAX, check_float, check_int

__all__ = ["DEFAULTS", "EDIT_OPTIONS", "PREVIEW_DIVISOR", "PREVIEW_FIRST", "PREVIEW_HELP", "SEED_MAX", "SETTINGS",
           "Setting", "check_float", "check_int", "check_settings", "option_help", "preview_schedule"]


@dataclass(frozen=True)
class Setting:
    """One numeric edit setting: its kind, default, inclusive range and what it does."""

    name: str
    kind: type  # int or float
    default: int | float | None
    low: int | float
    high: int | float
    help: str
    label: str = ""  # the desktop's Advanced box shows the settings that have a label
    step: float = 1.0  # the Advanced box's spin step

    @property
    def option(self) -> str:
        return "--" + self.name.replace("_", "-")

    def check(self, value: Any) -> None:
        """One-line error unless ``value`` is a number of this setting's kind inside its range."""
        if self.kind is int:
            check_int(self.name, value, int(self.low), int(self.high))
        else:
            check_float(self.name, value, float(self.low), float(self.high), f"{self.default:g} is the default")


SETTINGS: dict[str, Setting] = {s.name: s for s in (
    Setting("steps", int, 100, 2, 1000, "denoising steps (the paper's 100; fewer is faster)", "Steps"),
    # 0-40 of 100 in the inversion reference code; 10 keeps the photo's layout without freezing the pose
    Setting("skip", int, 10, 0, 999, "start the edit this many steps below the noisiest (below --steps)", "Skip"),
    # 3.5: the source guidance of edit-friendly DDPM inversion's reference code and of diffusers'
    # LEDITS++ (ties the inversion to the prompt, small enough to invert faithfully)
    Setting("cfg_source", float, 3.5, 0.0, 50.0, "guidance for the source prompt (inversion)", "Source guidance",
            0.5),
    # SDXL's usual sampling guidance; the inversion reference uses 7-18 (higher drifts from the photo)
    Setting("cfg_target", float, 7.5, 0.0, 50.0, "guidance for the target prompt", "Target guidance", 0.5),
    # lambda = 1: one propagation through the averaged self-attention (Eq. 2); the paper names no value,
    # higher powers blur the mask over the subject's surroundings
    Setting("mask_lambda", int, 1, 0, 16, "self-attention refinement power of the identity mask (Eq. 2)",
            "Mask \u03bb"),
    # prompt-to-prompt LocalBlend's 0.3 of the normalised map
    Setting("mask_threshold", float, 0.3, 0.0, 1.0, "identity mask threshold (of the normalised map)",
            "Mask threshold", 0.05),
    Setting("mask_softness", float, 0.0, 0.0, 1.0, "soft mask edge (0: a hard mask)"),
    Setting("mask_dilate", int, 1, 0, 64, "grow the identity mask by this many attention cells"),
    Setting("composite_dilate", int, 4, 0, 256, "composite: grow the mask (pixels at the photo's size / 256)"),
    Setting("composite_feather", int, 4, 0, 256, "composite: feather the mask edge (same units)"),
    Setting("variation", float, 0.3, 0.0, 1.0, "how much fresh seeded noise seeded outputs mix into the z maps"),
    Setting("inversion_seed", int, 0, 0, SEED_MAX, "seed of the inversion's noise"),
    # None = the coarsest attention resolution (SDXL at 1024 px: 32x32), where 60 of SDXL's 70
    # transformer blocks sit and an L x L self-attention map stays a few MiB
    Setting("record_downsample", int, None, 1, 64,
            "record attention at latent size / this (a power of two; unset: the coarsest resolution)"),
    Setting("self_attention_stride", int, 2, 1, 64, "self-attention maps from every n-th recorded layer (cost)"),
    # The baselines' own settings (baselines/ledits.py, baselines/masactrl.py), checked here like the
    # editor's. LEDITS++: diffusers' defaults, what a user trying the pipeline gets.
    Setting("edit_guidance", float, 5.0, 0.0, 50.0, "LEDITS++ edit guidance scale (same range as cfg_target)"),
    Setting("edit_threshold", float, 0.9, 0.0, 0.99, "LEDITS++ implicit-mask threshold (keep the top 1 - this)"),
    Setting("zero_noise_steps", int, 3, 0, 1000, "LEDITS++: last steps sampled without noise (SDXL artefacts)"),
    # MasaCtrl: unset = 8% of the steps / the first decoder layer / the last layer (baselines/masactrl.py)
    Setting("start_step", int, None, 0, 1000, "MasaCtrl: first controlled step after skip"),
    Setting("start_layer", int, None, 0, 1000, "MasaCtrl: first controlled self-attention layer"),
    Setting("end_layer", int, None, 0, 1000, "MasaCtrl: controlled layers end before this one"),
)}
DEFAULTS: dict[str, Any] = {name: s.default for name, s in SETTINGS.items()}
# the settings ``lipe edit`` has an option for and the desktop shows in its Advanced box
EDIT_OPTIONS = ("steps", "skip", "cfg_source", "cfg_target", "mask_lambda", "mask_threshold")


# Preview: a quick look before the full edit, at most a quarter of its UNet work (issue 24). The
# preview runs the same method on a coarser schedule: a quarter of the sampled steps, skip scaled
# alike, so the layout the full edit keeps is kept. PREVIEW_FIRST: the desktop edits a preview first
# and refines on request. Chosen from previews judged against full edits (benchmarks/preview_quality.py,
# docs/performance.md, 18 held-out toy edits): at the paper's 100 steps the preview reaches the pose as
# often as the full edit (72% both; background and identity within 0.15 dB / 0.01) at 0.24x the UNet
# work; at the toy's 30 steps (6 sampled) it reaches it less often (44% vs 67%).
PREVIEW_DIVISOR = 4
PREVIEW_FIRST = True
PREVIEW_HELP = (f"a quick preview: 1/{PREVIEW_DIVISOR} of the sampled steps (at most a quarter of the full "
                "edit's UNet work; refine with the full edit once the pose looks right)")


def preview_schedule(steps: int, skip: int) -> tuple[int, int]:
    """(steps, skip) of the preview of an edit with ``steps`` and ``skip``: it samples
    floor((steps - skip) / PREVIEW_DIVISOR) steps (at least 1) and skips the same share of its
    schedule's noisiest steps as the full edit does."""
    check_int("steps", steps, 2, int(SETTINGS["steps"].high))
    check_int("skip", skip, 0, steps - 1)
    sampled = max(1, (steps - skip) // PREVIEW_DIVISOR)
    total = max(sampled + 1, round(steps / PREVIEW_DIVISOR))
    return total, total - sampled


def option_help(name: str) -> str:
    """``lipe edit``'s help for the option of ``name``: what it does, its range and default."""
    s = SETTINGS[name]
    return f"{s.help}; {s.low:g} to {s.high:g} (default: {s.default:g}, or the model's own setting)"


def check_settings(params: Any) -> None:
    """Check every field of the dataclass ``params`` that SETTINGS declares (None passes where the
    setting's default is None: "unset"), then ``skip`` below ``steps`` where both exist."""
    for f in dataclasses.fields(params):
        setting = SETTINGS.get(f.name)
        value = getattr(params, f.name)
        if setting is not None and not (value is None and setting.default is None):
            setting.check(value)
    steps, skip = getattr(params, "steps", None), getattr(params, "skip", None)
    if steps is not None and skip is not None and not 0 <= skip < steps:
        raise InputError(f"skip={skip} is out of range", f"use 0 to {steps - 1}")
