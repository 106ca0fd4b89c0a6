"""LEDITS++ (Brack et al., CVPR 2024) as a peer from outside the project: diffusers' own
``LEditsPPPipelineStableDiffusionXL``, not a re-implementation.

The pipeline is built around the loaded model's own components (UNet with whatever LoRA is
loaded, VAE, both text encoders and tokenizers), with a ``DDIMScheduler`` made from the model's
scheduler config: with DDIM the pipeline's ``invert`` is the same edit-friendly DDPM inversion
NIMA uses (Huberman-Spiegelglas et al.). It sees the same photo (at the same model size), the same
prompts and the same step count as the other methods: our ``steps``/``skip`` (a ``steps``-step
schedule, sampling from ``skip`` steps below the noisiest) map to its ``num_inversion_steps =
steps - skip`` and ``skip = skip / (steps - skip)`` (it schedules ``n * (1 + skip)`` steps and keeps
the last ``n``).

LEDITS++ edits by concepts rather than by a full target prompt: the target prompt is the concept
to add and, with ``remove_source`` (default), the source prompt the concept to remove, so the guidance
points from the photo's description to the target's, each masked by LEDITS++'s own implicit mask
(``edit_threshold``). Guidance strength and threshold are diffusers' defaults (5 and 0.9): what a
user trying the pipeline gets.

The pipeline replaces the UNet's attention processors (its inversion installs plain
``AttnProcessor``, its sampling LEDITS++'s cross-attention store) and does not put them back;
:func:`ledits_edit` restores the model's own processors afterwards, so a later NIMA edit or a
user's processors see the UNet as they left it.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from typing import Any

import torch
from PIL import Image

from ..edit_method import StepCallback, StepEvent, prepare_edit
from ..edit_settings import DEFAULTS, check_settings
from ..models.loader import LoadedModel, import_diffusers
from ..models.vae import decode_latents
from ..progress import CancelToken, ProgressCallback, ProgressReporter


@dataclass(frozen=True)
class LeditsParams:
    steps: int = DEFAULTS["steps"]  # the same inversion as NIMA's (lipe_engine.edit_settings)
    skip: int = DEFAULTS["skip"]
    cfg_source: float = DEFAULTS["cfg_source"]  # inversion guidance with the source prompt (the pipeline's default too)
    edit_guidance: float = DEFAULTS["edit_guidance"]  # diffusers' default edit_guidance_scale
    edit_threshold: float = DEFAULTS["edit_threshold"]  # diffusers' default: keep the top 10% of each concept's guidance
    remove_source: bool = True  # also guide away from the source prompt (reverse direction)
    zero_noise_steps: int = DEFAULTS["zero_noise_steps"]  # diffusers' default for SDXL (noise artefacts
    # otherwise); at most all sampled steps but one (a very short CPU run keeps some noise)
    inversion_seed: int = DEFAULTS["inversion_seed"]

    def validate(self) -> None:
        check_settings(self)  # ranges from edit_settings.SETTINGS, as every method's

    def inversion_steps(self) -> tuple[int, float]:
        """(num_inversion_steps, skip fraction) of the pipeline for our (steps, skip)."""
        n = self.steps - self.skip
        frac = self.skip / n
        if int(n * (1 + frac)) != self.steps:  # float round-down (e.g. 27 * 1.111... = 29.999...)
            frac += 1e-9
        return n, frac


@dataclass
class LeditsResult:
    images: list[Image.Image]  # one per target prompt, at the photo's original size
    stats: dict[str, float] = field(default_factory=dict)


def ledits_pipeline(model: LoadedModel) -> Any:
    """diffusers' LEDITS++ SDXL pipeline sharing ``model``'s components (nothing copied)."""
    diffusers = import_diffusers()
    base: Any = diffusers.LEditsPPPipelineStableDiffusionXL  # diffusers' pipelines are untyped to mypy here

    class FP32VaeLedits(base):
        """The pipeline as diffusers ships it, but for the one dtype crossing it gets wrong with an
        fp32 VAE beside a bf16/fp16 model (the house's policy, lipe_engine.devices): it casts the
        photo to the text encoder's dtype before the VAE encodes it ("Input type (BFloat16) and
        bias type (float)"). The photo is encoded in the VAE's dtype and the latents handed back in
        the model's; the decode side is done by ledits_edit (output_type="latent")."""

        def encode_image(self, image: Any, dtype: Any = None, **kwargs: Any) -> Any:
            x0, resized = super().encode_image(image, dtype=self.vae.dtype, **kwargs)
            return x0.to(dtype), resized

    pipe = model.pipe
    scheduler = diffusers.DDIMScheduler.from_config(pipe.scheduler.config)
    lp = FP32VaeLedits(
        vae=pipe.vae, text_encoder=pipe.text_encoder, text_encoder_2=pipe.text_encoder_2,
        tokenizer=pipe.tokenizer, tokenizer_2=pipe.tokenizer_2, unet=pipe.unet, scheduler=scheduler,
        add_watermarker=False,
    )
    lp.set_progress_bar_config(disable=True)
    return lp


@torch.no_grad()
def ledits_edit(
    model: LoadedModel,
    image: str | os.PathLike[str] | Image.Image,
    source_prompt: str,
    target_prompts: list[str] | str,
    params: LeditsParams = LeditsParams(),
    progress: ProgressReporter | ProgressCallback | None = None,
    cancel: CancelToken | None = None,
    on_step: StepCallback | None = None,
) -> LeditsResult:
    """Edit ``image`` toward each target prompt with diffusers' LEDITS++ (one inversion, one
    sampling per target); ``on_step`` is the seam's per-step callback (edit_method.StepEvent)."""
    # the same model-size photo the other methods edit (LEDITS++ needs sides that are multiples of 32)
    inp = prepare_edit(model, image, source_prompt, target_prompts, params, progress, cancel, at_least=32)
    reporter, source, targets, pipe = inp.reporter, inp.source, inp.targets, model.pipe
    n, frac = params.inversion_steps()
    t0 = time.perf_counter()
    lp = ledits_pipeline(model)
    original = dict(pipe.unet.attn_processors)
    reporter.start("LEDITS++", 1 + len(targets) * n)
    try:
        gen = torch.Generator().manual_seed(params.inversion_seed)
        lp.invert(image=inp.photo.image, source_prompt=source, source_guidance_scale=params.cfg_source,
                  num_inversion_steps=n, skip=frac, generator=gen,
                  num_zero_noise_steps=min(params.zero_noise_steps, n - 1))
        reporter.step(stage="LEDITS++ inversion")

        def step_end(_pipe: Any, i: int, t: Any, kwargs: dict) -> dict:
            reporter.step()  # raises Cancelled between steps
            if on_step is not None:
                on_step(StepEvent("LEDITS++", i + 1, n, kwargs["latents"]))
            return kwargs

        images = []
        for target in targets:
            concepts, reverse = [target], [False]
            if params.remove_source:
                concepts, reverse = [target, source], [False, True]
            out = lp(editing_prompt=concepts, reverse_editing_direction=reverse,
                     edit_guidance_scale=[params.edit_guidance] * len(concepts),
                     edit_threshold=[params.edit_threshold] * len(concepts),
                     generator=torch.Generator().manual_seed(params.inversion_seed),
                     callback_on_step_end=step_end, output_type="latent")
            pixels = decode_latents(pipe.vae, out.images)  # fp32 VAE, whatever the model's dtype
            images.append(lp.image_processor.postprocess(pixels, output_type="pil")[0])
    finally:
        pipe.unet.set_attn_processor(original)
    return LeditsResult(inp.restore(images), {"seconds": time.perf_counter() - t0})
