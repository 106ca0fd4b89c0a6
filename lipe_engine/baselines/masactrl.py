"""MasaCtrl-style mutual self-attention control (Cao et al., ICCV 2023) on SDXL, as a baseline.

Our own implementation on diffusers attention processors. The source photo is inverted with the
edit-friendly DDPM inversion (as the paper does for every method, with the source prompt in place
of MasaCtrl's null text); then one batch samples the source branch (source prompt, source
guidance: it reproduces the photo exactly) next to one target branch per target prompt. From step
``start_step`` of the reverse process and in the self-attention layers from ``start_layer`` on,
each target branch's queries attend to the *source branch's* keys and values (the conditional and
unconditional halves separately), so the target takes the layout its prompt asks for while its
content is copied from the photo. No personal prior is involved: DreamCtrl is this on a
DreamBooth-tuned model.

Layers are the UNet's self-attention (``attn1``) layers in forward order: down blocks, mid block,
up blocks (SDXL: 70; 4 + 20 down, 10 mid, 30 + 6 up). ``start_layer=None`` means the first decoder
layer (SDXL: 34), following the MasaCtrl paper, which controls the decoder only because encoder
queries do not yet carry a clear layout. ``start_step=None`` means 8% of ``steps`` (8 of 100),
MasaCtrl's 4 of 50; it scales so that a short run (e.g. 10 steps on CPU) is still controlled for
most of its steps rather than only the last one.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import torch
from PIL import Image

from ..edit_method import StepCallback, StepHooks, prepare_edit
from ..edit_settings import DEFAULTS, check_settings
from ..images import to_pil, to_tensor
from ..models.attention import InstrumentedAttnProcessor, processors_installed, self_attention_layers
from ..models.loader import LoadedModel
from ..models.vae import decode_latents, encode_pixels
from ..nima.denoiser import Denoiser
from ..nima.inversion import invert_ddpm, make_schedule, sample_ddpm
from ..progress import CancelToken, ProgressCallback, ProgressReporter


@dataclass
class MasaController:
    """What the processors need to know: the current step, the controlled layers, the batch layout."""

    start_step: int
    layers: frozenset[int]
    step: int = 0  # reverse-process steps done so far (0 = the first sampled step)
    n: int = 1  # latents per guidance half: row 0 is the source branch, rows 1.. the targets
    calls: int = 0  # how many times keys/values were swapped (tests and stats)

    def active(self, layer: int) -> bool:
        return self.step >= self.start_step and layer in self.layers and self.n > 1

    def on_attention(self, proc: InstrumentedAttnProcessor, attn: Any, query: torch.Tensor, key: torch.Tensor,
                     value: torch.Tensor, head_dim: int, is_self: bool) -> tuple[torch.Tensor, torch.Tensor]:
        """The processors' hook: in a controlled self-attention layer, the source branch's K/V for all."""
        if is_self and proc.layer is not None and self.active(proc.layer) and key.shape[0] % self.n == 0:
            self.calls += 1
            return _from_source(key, self.n), _from_source(value, self.n)
        return key, value


class MutualSelfAttentionProcessor(InstrumentedAttnProcessor):
    """The house's instrumented ``AttnProcessor2_0`` with MasaCtrl's controller: when active, every
    row takes the source row's keys and values."""

    def __init__(self, controller: MasaController, layer: int) -> None:
        super().__init__(controller, layer=layer)


def _from_source(t: torch.Tensor, n: int) -> torch.Tensor:
    """(G*n, h, L, d): within each group of n rows, copy row 0 (the source branch) to all rows."""
    groups = t.shape[0] // n
    g = t.reshape(groups, n, *t.shape[1:])
    return g[:, :1].expand_as(g).reshape(t.shape)


@contextmanager
def mutual_self_attention(unet: Any, controller: MasaController) -> Iterator[list[str]]:
    """Install the processors on the controlled self-attention layers; restore the originals afterwards.

    Every other layer keeps the processor the user had installed (xformers, sliced, fused...).
    Yields the names of all self-attention layers in forward order.
    """
    names, _ = self_attention_layers(unet)
    procs = {name: MutualSelfAttentionProcessor(controller, i) for i, name in enumerate(names) if i in controller.layers}
    with processors_installed(unet, procs):
        yield names


@dataclass(frozen=True)
class MasaCtrlParams:
    steps: int = DEFAULTS["steps"]  # the same inversion and guidance as NIMA's (lipe_engine.edit_settings)
    cfg_source: float = DEFAULTS["cfg_source"]
    cfg_target: float = DEFAULTS["cfg_target"]
    skip: int = DEFAULTS["skip"]
    start_step: int | None = None  # counted from the first sampled step (after skip); None: 8% of steps
    start_layer: int | None = None  # None: the first decoder self-attention layer
    end_layer: int | None = None  # exclusive; None: the last layer
    inversion_seed: int = DEFAULTS["inversion_seed"]

    def validate(self) -> None:
        check_settings(self)  # ranges from edit_settings.SETTINGS, as every method's

    def first_step(self) -> int:
        """The first controlled step (MasaCtrl: 4 of 50, i.e. 8% of the steps)."""
        return round(0.08 * self.steps) if self.start_step is None else self.start_step


@dataclass
class MasaCtrlResult:
    images: list[Image.Image]  # one per target prompt, at the photo's original size
    latents: torch.Tensor  # (k, C, h, w) edited x_0
    source_latents: torch.Tensor  # (1, C, h, w) the source branch's x_0 (= the photo's latents)
    inverted_latents: torch.Tensor  # x_0 the inversion stored
    layers: list[int]
    stats: dict[str, float] = field(default_factory=dict)


@torch.no_grad()
def masactrl_edit(
    model: LoadedModel,
    image: str | os.PathLike[str] | Image.Image,
    source_prompt: str,
    target_prompts: list[str] | str,
    params: MasaCtrlParams = MasaCtrlParams(),
    progress: ProgressReporter | ProgressCallback | None = None,
    cancel: CancelToken | None = None,
    on_step: StepCallback | None = None,
) -> MasaCtrlResult:
    """Edit ``image`` toward each target prompt with mutual self-attention control; ``on_step`` is
    the seam's per-step callback (edit_method.StepEvent; its latents include the source branch, row 0)."""
    inp = prepare_edit(model, image, source_prompt, target_prompts, params, progress, cancel)
    reporter, source, targets, pipe = inp.reporter, inp.source, inp.targets, model.pipe
    t0 = time.perf_counter()
    den = Denoiser(pipe, inp.photo.image.size)
    sched = make_schedule(pipe.scheduler, params.steps)
    gen = torch.Generator().manual_seed(params.inversion_seed)
    x0 = encode_pixels(pipe.vae, to_tensor(inp.photo.image))
    inv = invert_ddpm(den, x0, den.encode([source]), params.cfg_source, sched, params.skip, gen, reporter)
    names, first_decoder = self_attention_layers(pipe.unet)
    lo = first_decoder if params.start_layer is None else params.start_layer
    hi = len(names) if params.end_layer is None else min(params.end_layer, len(names))
    ctl = MasaController(params.first_step(), frozenset(range(lo, hi)))

    def told_batch(n: int) -> None:
        ctl.n = n

    def at_step(i: int) -> None:
        ctl.step = i - params.skip

    den.before_call = told_batch
    cond = den.encode([source, *targets])
    guidance = torch.tensor([params.cfg_source] + [params.cfg_target] * len(targets), device=den.device)
    with mutual_self_attention(pipe.unet, ctl):
        x0 = sample_ddpm(den, inv, cond, guidance, reporter=reporter, stage="masactrl",
                         hooks=StepHooks(before_step=at_step, on_step=on_step))
    return MasaCtrlResult(
        images=inp.restore(to_pil(decode_latents(pipe.vae, x0[1:]))), latents=x0[1:], source_latents=x0[:1],
        inverted_latents=inv.xs[-1], layers=sorted(ctl.layers),
        stats={"seconds": time.perf_counter() - t0, "unet_calls": float(den.unet_calls),
               "kv_swaps": float(ctl.calls)},
    )
