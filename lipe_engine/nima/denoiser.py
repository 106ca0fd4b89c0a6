"""SDXL noise prediction with classifier-free guidance, shared by inversion, sampling and baselines.

Wraps what one denoising step needs from the pipeline: prompt embeddings from both text encoders
(penultimate hidden states concatenated, pooled output of the second), SDXL's micro-conditioning
time ids (H, W, 0, 0, H, W), the unconditional branch (zeros, as SDXL base's
``force_zeros_for_empty_prompt``), and conversion of v-prediction models to epsilon.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

from ..edit_method import check_prompt

__all__ = ["Conditioning", "Denoiser", "check_prompt"]


@dataclass
class Conditioning:
    embeds: torch.Tensor  # (n, 77, D)
    pooled: torch.Tensor  # (n, P)

    def repeat(self, k: int) -> Conditioning:
        return Conditioning(self.embeds.repeat_interleave(k, 0), self.pooled.repeat_interleave(k, 0))

    @staticmethod
    def cat(items: list[Conditioning]) -> Conditioning:
        return Conditioning(torch.cat([c.embeds for c in items]), torch.cat([c.pooled for c in items]))


class Denoiser:
    """eps(x_t, t) with CFG for one SDXL pipeline at one image size; counts UNet evaluations."""

    def __init__(self, pipe: Any, size_wh: tuple[int, int]) -> None:
        self.pipe = pipe
        self.unet = pipe.unet
        self.device = pipe.unet.device
        self.dtype = pipe.unet.dtype
        w, h = size_wh
        self.time_ids = torch.tensor([[h, w, 0, 0, h, w]], dtype=self.dtype, device=self.device)
        self.unet_calls = 0  # batched UNet forward passes
        self.unet_rows = 0  # latent rows evaluated (a CFG step on one image counts 2)
        self.alphas_cumprod = pipe.scheduler.alphas_cumprod.to(torch.float64)
        self.prediction_type = pipe.scheduler.config.get("prediction_type", "epsilon")
        self.before_call: Callable[[int], None] | None = None  # hook: told the batch size
        self._shapes: tuple[torch.Size, torch.Size] | None = None  # (embeds, pooled) per prompt

    @torch.no_grad()
    def encode(self, prompts: list[str]) -> Conditioning:
        embeds, _, pooled, _ = self.pipe.encode_prompt(
            prompt=prompts, device=self.device, num_images_per_prompt=1, do_classifier_free_guidance=False
        )
        cond = Conditioning(embeds.to(self.dtype), pooled.to(self.dtype))
        self._shapes = (cond.embeds.shape[1:], cond.pooled.shape[1:])
        return cond

    @torch.no_grad()
    def unconditional(self, n: int) -> Conditioning:
        if self.pipe.config.get("force_zeros_for_empty_prompt", True):
            # zeros of the encoders' output shapes: once any prompt was encoded, the empty one
            # need not be (the inversion and every edit pass ask for it)
            if self._shapes is None:
                self.encode([""])
            assert self._shapes is not None
            shapes = self._shapes
            embeds = torch.zeros((n, *shapes[0]), dtype=self.dtype, device=self.device)
            return Conditioning(embeds, torch.zeros((n, *shapes[1]), dtype=self.dtype, device=self.device))
        return self.encode([""]).repeat(n)

    @torch.no_grad()
    def eps(
        self,
        x: torch.Tensor,
        t: int | torch.Tensor,
        cond: Conditioning,
        uncond: Conditioning,
        guidance: torch.Tensor | float,
    ) -> torch.Tensor:
        """Guided noise prediction for a batch x of n latents (uncond rows first, then cond); ``t`` is
        one timestep for all, or one per latent (the inversion evaluates several steps at once)."""
        n = x.shape[0]
        batch = torch.cat([x, x]).to(self.dtype)
        both = Conditioning.cat([uncond, cond])
        if self.before_call is not None:
            self.before_call(n)
        timesteps = t.to(self.device).repeat(2) if isinstance(t, torch.Tensor) else torch.tensor(t, device=self.device)
        # inference mode, not only no_grad: no autograd bookkeeping per op (~9% of a toy UNet call on
        # one CPU thread, benchmarks/peer_speed.py); the guided eps below is computed outside it, so
        # what leaves this method is an ordinary tensor
        with torch.inference_mode():
            out = self.unet(
                batch,
                timesteps,
                encoder_hidden_states=both.embeds,
                added_cond_kwargs={"text_embeds": both.pooled, "time_ids": self.time_ids.repeat(2 * n, 1)},
                return_dict=False,
            )[0]
        out = out.float() if out.dtype != torch.float32 else out.clone()
        self.unet_calls += 1
        self.unet_rows += 2 * n
        e_u, e_c = out.chunk(2)
        if self.prediction_type == "v_prediction":
            if isinstance(t, torch.Tensor):
                a = self.alphas_cumprod[t.cpu()].float().view(-1, 1, 1, 1).to(x.device)
            else:
                a = self.alphas_cumprod[t].float()
            xf = x.float()
            e_u = a.sqrt() * e_u + (1 - a).sqrt() * xf
            e_c = a.sqrt() * e_c + (1 - a).sqrt() * xf
        g = guidance if isinstance(guidance, float) else guidance.view(-1, 1, 1, 1).float()
        return e_u + g * (e_c - e_u)
