"""The seam every edit method plugs into (NIMA, MasaCtrl, LEDITS++ and any later one).

What every method does around its own work is written here once:

- ``edit_settings.check_settings``: each field of a method's parameters that ``SETTINGS`` declares
  is checked against that one range (a baseline cannot allow guidance 0-100 while the editor
  allows 0-50);
- :func:`prepare_edit`: the method's settings checked (``params.validate()``), the progress reporter
  made, the source and target prompts checked, the targets listed, the photo at the model's size
  (:class:`EditInput`); :meth:`EditInput.restore` puts outputs back at the photo's size;
- the named hooks of a method's sampling loop (:class:`StepHooks`): ``before_step(i)`` (MasaCtrl
  tells its controller the step), ``after_step(i, x)`` (NIMA's mask blend) and the one per-step
  callback a *caller* gives every method, ``on_step`` (:class:`StepEvent`: which step of how many,
  and the current latents, e.g. for a live preview). diffusers' ``callback_on_step_end`` and
  prompt-to-prompt's ``step_callback`` are the same idea.

The methods themselves: ``nima.editor`` (``edit_image``), ``baselines.masactrl``
(``masactrl_edit``), ``baselines.ledits`` (``ledits_edit``), each called as
``(model, image, source_prompt, target_prompts, [identity_prompt,] params, progress, cancel, ...,
on_step)``; ``baselines.methods.run_method`` picks one by the method table's editor name.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from PIL import Image

from .errors import InputError
from .images import PreparedImage, prepare_image
from .progress import CancelToken, ProgressCallback, ProgressReporter, as_reporter


def check_prompt(prompt: str, what: str, tokenizer: Any) -> str:
    """The prompt stripped, or a one-line error when it is empty or longer than the text encoder reads."""
    text = (prompt or "").strip()
    if not text:
        raise InputError(f"the {what} is empty", "describe it in words, e.g. 'a photo of a sks dog sitting'")
    n = len(tokenizer(text, add_special_tokens=False).input_ids)
    limit = tokenizer.model_max_length - 2
    if n > limit:
        raise InputError(f"the {what} is {n} tokens long", f"shorten it to at most {limit} tokens")
    return text


def check_targets(target_prompts: str | Sequence[str], tokenizer: Any) -> list[str]:
    """One target prompt or several -> the checked list (at least one)."""
    targets = [target_prompts] if isinstance(target_prompts, str) else list(target_prompts)
    if not targets:
        raise InputError("no target prompt given", "describe the new pose, e.g. 'a sks dog standing'")
    return [check_prompt(t, "target prompt", tokenizer) for t in targets]


def photo_multiple(model: Any, at_least: int = 1) -> int:
    """The side length a photo's model-size sides are multiples of: the UNet's coarsest grid in pixels."""
    n_down = len(model.pipe.unet.config.down_block_types)
    return max(at_least, model.vae_scale_factor * 2 ** (n_down - 1))


@dataclass
class EditInput:
    """The shared prelude's result: checked prompts, the photo at the model's size, the reporter."""

    photo: PreparedImage
    source: str
    targets: list[str]
    reporter: ProgressReporter

    def restore(self, images: Sequence[Image.Image]) -> list[Image.Image]:
        return at_original_size(images, self.photo)


def at_original_size(images: Sequence[Image.Image], photo: PreparedImage) -> list[Image.Image]:
    """Outputs at the photo's original size (the model edits it at its own size)."""
    size = photo.original_size
    return [img if img.size == size else img.resize(size, Image.Resampling.LANCZOS) for img in images]


def prepare_edit(model: Any, image: str | os.PathLike[str] | Image.Image, source_prompt: str,
                 target_prompts: str | Sequence[str], params: Any,
                 progress: ProgressReporter | ProgressCallback | None = None, cancel: CancelToken | None = None,
                 at_least: int = 1) -> EditInput:
    """Check the method's settings (``params.validate()``) and the prompts, list the targets, make the
    reporter and bring the photo to the model's size (sides a multiple of :func:`photo_multiple`, at
    least ``at_least``)."""
    params.validate()
    reporter = as_reporter(progress, cancel)
    tokenizer = model.pipe.tokenizer
    source = check_prompt(source_prompt, "source prompt", tokenizer)
    targets = check_targets(target_prompts, tokenizer)
    photo = prepare_image(image, model.native_size, photo_multiple(model, at_least))
    return EditInput(photo, source, targets, reporter)


@dataclass(frozen=True)
class StepEvent:
    """What the per-step callback is told: ``step`` (1-based) of ``total`` in ``stage``, and the
    latents after the step (k, C, h, w), on the model's device: read them, do not keep them."""

    stage: str
    step: int
    total: int
    latents: Any


StepCallback = Callable[[StepEvent], None]


@dataclass
class StepHooks:
    """The named hooks a sampling loop calls at each step i (0-based index into the schedule).

    ``before_step(i)``: before the UNet evaluation; ``after_step(i, x) -> x``: may replace the new
    latents (NIMA's blend); ``on_step(event)``: the caller's callback, after ``after_step``."""

    before_step: Callable[[int], None] | None = None
    after_step: Callable[[int, Any], Any] | None = None
    on_step: StepCallback | None = None
