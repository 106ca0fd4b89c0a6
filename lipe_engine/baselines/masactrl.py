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
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from PIL import Image

from ..edit_settings import DEFAULTS
from ..errors import InputError
from ..images import prepare_image, to_pil, to_tensor
from ..models.loader import LoadedModel
from ..nima.denoiser import Denoiser, check_prompt
from ..nima.inversion import invert_ddpm, make_schedule, sample_ddpm
from ..progress import CancelToken, ProgressCallback, ProgressReporter, as_reporter

_SELF = re.compile(
    r"^(down_blocks|up_blocks)\.(\d+)\.attentions\.(\d+)\.transformer_blocks\.(\d+)\.attn1\.processor$"
    r"|^mid_block\.attentions\.(\d+)\.transformer_blocks\.(\d+)\.attn1\.processor$"
)


def self_attention_layers(unet: Any) -> tuple[list[str], int]:
    """Self-attention processor names in forward order, and the index of the first decoder layer."""
    keyed = []
    for name in unet.attn_processors:
        m = _SELF.match(name)
        if m is None:
            continue
        if m.group(1):
            rank = 0 if m.group(1) == "down_blocks" else 2
            keyed.append(((rank, int(m.group(2)), int(m.group(3)), int(m.group(4))), name))
        else:
            keyed.append(((1, 0, int(m.group(5)), int(m.group(6))), name))
    keyed.sort()
    names = [n for _, n in keyed]
    first_decoder = sum(1 for k, _ in keyed if k[0] < 2)
    return names, first_decoder


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


class MutualSelfAttentionProcessor:
    """``AttnProcessor2_0`` where, when active, every row takes the source row's keys and values."""

    def __init__(self, controller: MasaController, layer: int) -> None:
        self.controller = controller
        self.layer = layer

    def __call__(
        self,
        attn: Any,
        hidden_states: torch.Tensor,
        encoder_hidden_states: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        temb: torch.Tensor | None = None,
        *args: Any,
        **kwargs: Any,
    ) -> torch.Tensor:
        residual = hidden_states
        if attn.spatial_norm is not None:
            hidden_states = attn.spatial_norm(hidden_states, temb)
        input_ndim = hidden_states.ndim
        if input_ndim == 4:
            batch, channel, height, width = hidden_states.shape
            hidden_states = hidden_states.view(batch, channel, height * width).transpose(1, 2)
        batch, seq, _ = hidden_states.shape
        if attention_mask is not None:
            attention_mask = attn.prepare_attention_mask(attention_mask, seq, batch)
            attention_mask = attention_mask.view(batch, attn.heads, -1, attention_mask.shape[-1])
        if attn.group_norm is not None:
            hidden_states = attn.group_norm(hidden_states.transpose(1, 2)).transpose(1, 2)
        context = hidden_states if encoder_hidden_states is None else encoder_hidden_states
        query, key, value = attn.to_q(hidden_states), attn.to_k(context), attn.to_v(context)
        head_dim = key.shape[-1] // attn.heads
        query = query.view(batch, -1, attn.heads, head_dim).transpose(1, 2)
        key = key.view(batch, -1, attn.heads, head_dim).transpose(1, 2)
        value = value.view(batch, -1, attn.heads, head_dim).transpose(1, 2)
        if attn.norm_q is not None:
            query = attn.norm_q(query)
        if attn.norm_k is not None:
            key = attn.norm_k(key)

        ctl = self.controller
        if encoder_hidden_states is None and ctl.active(self.layer) and batch % ctl.n == 0:
            key, value = _from_source(key, ctl.n), _from_source(value, ctl.n)
            ctl.calls += 1

        out = F.scaled_dot_product_attention(query, key, value, attn_mask=attention_mask, dropout_p=0.0)
        out = out.transpose(1, 2).reshape(batch, -1, attn.heads * head_dim).to(query.dtype)
        out = attn.to_out[1](attn.to_out[0](out))
        if input_ndim == 4:
            out = out.transpose(-1, -2).reshape(batch, channel, height, width)
        if attn.residual_connection:
            out = out + residual
        return out / attn.rescale_output_factor


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
    original = dict(unet.attn_processors)
    names, _ = self_attention_layers(unet)
    procs = dict(original)
    for i, name in enumerate(names):
        if i in controller.layers:
            procs[name] = MutualSelfAttentionProcessor(controller, i)
    unet.set_attn_processor(procs)
    try:
        yield names
    finally:
        unet.set_attn_processor(original)


@dataclass(frozen=True)
class MasaCtrlParams:
    steps: int = DEFAULTS["steps"]  # the same inversion and guidance as NIMA's (lipe_engine.edit_settings)
    cfg_source: float = DEFAULTS["cfg_source"]
    cfg_target: float = DEFAULTS["cfg_target"]
    skip: int = DEFAULTS["skip"]
    start_step: int | None = None  # counted from the first sampled step (after skip); None: 8% of steps
    start_layer: int | None = None  # None: the first decoder self-attention layer
    end_layer: int | None = None  # exclusive; None: the last layer
    inversion_seed: int = 0

    def validate(self) -> None:
        if not 2 <= self.steps <= 1000:
            raise InputError(f"steps={self.steps} is out of range", "use 2 to 1000")
        if not 0 <= self.skip < self.steps:
            raise InputError(f"skip={self.skip} is out of range", f"use 0 to {self.steps - 1}")
        if (self.start_step is not None and self.start_step < 0) or (
                self.start_layer is not None and self.start_layer < 0):
            raise InputError("MasaCtrl start step/layer is negative", "use 0 or more")

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


def _encode(model: LoadedModel, img: Image.Image) -> torch.Tensor:
    vae = model.pipe.vae
    lat = vae.encode(to_tensor(img).to(vae.device, vae.dtype)).latent_dist.mean
    shift = getattr(vae.config, "shift_factor", None) or 0.0
    return ((lat - shift) * vae.config.scaling_factor).float()


def _decode(model: LoadedModel, latents: torch.Tensor) -> list[Image.Image]:
    vae = model.pipe.vae
    shift = getattr(vae.config, "shift_factor", None) or 0.0
    return to_pil(vae.decode((latents / vae.config.scaling_factor + shift).to(vae.dtype)).sample)


@torch.no_grad()
def masactrl_edit(
    model: LoadedModel,
    image: str | os.PathLike[str] | Image.Image,
    source_prompt: str,
    target_prompts: list[str] | str,
    params: MasaCtrlParams = MasaCtrlParams(),
    progress: ProgressReporter | ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> MasaCtrlResult:
    """Edit ``image`` toward each target prompt with mutual self-attention control."""
    params.validate()
    reporter = as_reporter(progress, cancel)
    pipe = model.pipe
    targets = [target_prompts] if isinstance(target_prompts, str) else list(target_prompts)
    if not targets:
        raise InputError("no target prompt given", "describe the new pose")
    source = check_prompt(source_prompt, "source prompt", pipe.tokenizer)
    targets = [check_prompt(t, "target prompt", pipe.tokenizer) for t in targets]
    multiple = model.vae_scale_factor * 2 ** (len(pipe.unet.config.down_block_types) - 1)
    photo = prepare_image(image, model.native_size, multiple)
    t0 = time.perf_counter()
    den = Denoiser(pipe, photo.image.size)
    sched = make_schedule(pipe.scheduler, params.steps)
    gen = torch.Generator().manual_seed(params.inversion_seed)
    inv = invert_ddpm(den, _encode(model, photo.image), den.encode([source]), params.cfg_source, sched,
                      params.skip, gen, reporter)
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
        x0 = sample_ddpm(den, inv, cond, guidance, reporter=reporter, stage="masactrl", before_step=at_step)
    images = []
    for img in _decode(model, x0[1:]):
        images.append(img if img.size == photo.original_size
                      else img.resize(photo.original_size, Image.Resampling.LANCZOS))
    return MasaCtrlResult(
        images=images, latents=x0[1:], source_latents=x0[:1], inverted_latents=inv.xs[-1],
        layers=sorted(ctl.layers),
        stats={"seconds": time.perf_counter() - t0, "unet_calls": float(den.unet_calls),
               "kv_swaps": float(ctl.calls)},
    )
