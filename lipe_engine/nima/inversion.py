"""Edit-friendly DDPM inversion (Huberman-Spiegelglas et al., 2023) and the matching sampler.

Inversion noises x_0 to every timestep *independently* (a fresh eps per t, not a chain), then walks
from the noisiest step down computing, with the source prompt and guidance, the DDPM posterior mean
mu_t and the noise map z_t = (x_{t-1} - mu_t) / sigma_t that makes the sampler land exactly on the
stored x_{t-1}. Sampling with the same prompt, guidance and z therefore reproduces x_0; with
another prompt it edits while the z keep the structure of the photo.

Index convention: ``timesteps[i]`` for i = 0..n-1 descending; ``xs[i]`` is the latent at
``timesteps[i]`` and ``xs[n]`` is x_0; ``zs[i]`` takes ``xs[i]`` to ``xs[i+1]``. ``skip`` starts the
reverse process at index ``skip`` (the paper's and the reference code's "skip").
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from ..edit_method import StepEvent, StepHooks
from ..errors import InputError
from ..models.loader import import_diffusers
from ..progress import ProgressReporter
from .batching import edit_batch_size
from .denoiser import Conditioning, Denoiser


@dataclass
class Schedule:
    timesteps: list[int]
    abar: torch.Tensor  # (n,) alpha-bar at each timestep, float64
    abar_prev: torch.Tensor  # (n,) alpha-bar of the step each one moves to

    @property
    def n(self) -> int:
        return len(self.timesteps)


def make_schedule(scheduler: object, steps: int) -> Schedule:
    """DDPM timesteps with the model's spacing (SDXL: 'leading' + offset 1 -> 991, 981, ..., 1)."""
    if steps < 2:
        raise ValueError("steps must be at least 2")
    cfg = dict(scheduler.config)  # type: ignore[attr-defined]
    ddpm = import_diffusers().DDPMScheduler.from_config(cfg)
    n_train = int(ddpm.config.num_train_timesteps)
    if steps > n_train:
        raise InputError(f"steps={steps} is more than the model's {n_train} noise levels", f"use 2 to {n_train}")
    ddpm.set_timesteps(steps)
    ts = [int(t) for t in ddpm.timesteps]
    # 'leading' spacing adds steps_offset (SDXL: 1) after spacing, which at steps == n_train gives
    # 1..n_train: one past the schedule's last level. Shift the whole grid down so it ends at n_train - 1.
    over = max(ts) - (n_train - 1)
    if over > 0:
        ts = [t - over for t in ts]
    ac = ddpm.alphas_cumprod.to(torch.float64)
    final = torch.tensor(1.0, dtype=torch.float64) if cfg.get("set_alpha_to_one", False) else ac[0]
    abar = torch.stack([ac[t] for t in ts])
    prev = [ac[ts[i + 1]] if i + 1 < len(ts) else final for i in range(len(ts))]
    return Schedule(ts, abar, torch.stack(prev))


def posterior(
    x_t: torch.Tensor, eps: torch.Tensor, abar: torch.Tensor, abar_prev: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """DDPM (eta = 1) posterior mean mu_t and std sigma_t for a predicted eps."""
    x0_hat = (x_t - (1 - abar).sqrt().float() * eps) / abar.sqrt().float()
    var = (1 - abar_prev) / (1 - abar) * (1 - abar / abar_prev)
    var = var.clamp_min(0)
    dir_coef = (1 - abar_prev - var).clamp_min(0).sqrt().float()
    mu = abar_prev.sqrt().float() * x0_hat + dir_coef * eps
    return mu, var.sqrt().float()


@dataclass
class Inversion:
    xs: list[torch.Tensor]  # n+1 latents (1, C, h, w); xs[n] is x_0
    zs: list[torch.Tensor | None]  # n noise maps; None for indices < skip (never computed)
    schedule: Schedule
    skip: int

    def to(self, device: torch.device) -> Inversion:
        return Inversion(
            [x.to(device) for x in self.xs],
            [None if z is None else z.to(device) for z in self.zs],
            self.schedule,
            self.skip,
        )


# Inversion steps evaluated in one UNet call at most (2 rows each: unconditional and conditional).
# Every x_t of the inversion is known before the first evaluation (each is x_0 noised on its own), so
# the steps need not wait for each other; on the toy model one call of 32 rows costs ~0.6x per row
# what 2-row calls cost (benchmarks/peer_speed.py), and on a GPU a larger batch fills the device.
# The batch also stays within what batching.py estimates the device can hold.
INVERSION_STEPS_PER_CALL = 16


def steps_per_call(denoiser: Denoiser, latent_hw: tuple[int, int], remaining: int,
                   cap: int = INVERSION_STEPS_PER_CALL) -> int:
    """How many inversion steps one UNet call evaluates: at most ``cap``, at most what fits (a step
    costs what one edit output does: two rows)."""
    if cap <= 1:
        return 1
    return max(1, min(cap, edit_batch_size(denoiser.unet, denoiser.device, latent_hw, None, remaining)))


@torch.no_grad()
def invert_ddpm(
    denoiser: Denoiser,
    x0: torch.Tensor,
    cond: Conditioning,
    guidance: float,
    schedule: Schedule,
    skip: int = 0,
    generator: torch.Generator | None = None,
    reporter: ProgressReporter | None = None,
    max_steps_per_call: int = INVERSION_STEPS_PER_CALL,
) -> Inversion:
    """Invert latents x0 (1, C, h, w) with the source conditioning; see the module docstring.

    The UNet evaluations of several steps share one call (``max_steps_per_call``; 1: one step per
    call, as the sequential algorithm is written): step i's evaluation reads only x_t at step i,
    which is x_0 noised independently. Attention recorders see the steps' conditional rows side by
    side (NIMA sums them into one source map: the inversion visits exactly the latents a
    reconstruction would, so the source mask is recorded here instead of in a separate
    reconstruction pass).
    """
    n = schedule.n
    if not 0 <= skip < n:
        raise ValueError(f"skip must be in [0, {n - 1}]")
    x0 = x0.float()
    noise = torch.randn((n, *x0.shape[1:]), generator=generator, dtype=torch.float32, device="cpu")
    noise = noise.to(x0.device)
    xs = [schedule.abar[i].sqrt().float() * x0 + (1 - schedule.abar[i]).sqrt().float() * noise[i : i + 1]
          for i in range(n)]
    xs.append(x0.clone())
    zs: list[torch.Tensor | None] = [None] * n
    uncond = denoiser.unconditional(1)
    latent_hw = (int(x0.shape[-2]), int(x0.shape[-1]))
    per_call = steps_per_call(denoiser, latent_hw, n - skip, max_steps_per_call)
    if reporter is not None:
        reporter.start("inversion", n - skip)
    for first in range(skip, n, per_call):
        idx = list(range(first, min(n, first + per_call)))
        t = torch.tensor([schedule.timesteps[i] for i in idx], device=denoiser.device)
        eps = denoiser.eps(torch.cat([xs[i] for i in idx]), t, cond.repeat(len(idx)),
                           uncond.repeat(len(idx)), guidance)
        for j, i in enumerate(idx):
            mu, sigma = posterior(xs[i], eps[j : j + 1], schedule.abar[i], schedule.abar_prev[i])
            if float(sigma) > 0:
                z = (xs[i + 1] - mu) / sigma
            else:
                z = torch.zeros_like(mu)
            zs[i] = z
            # store what the sampler will actually produce, so later steps see no drift
            xs[i + 1] = mu + sigma * z
            if reporter is not None:
                reporter.step()
    return Inversion(xs, zs, schedule, skip)


@torch.no_grad()
def sample_ddpm(
    denoiser: Denoiser,
    inversion: Inversion,
    cond: Conditioning,
    guidance: torch.Tensor | float,
    noise_maps: Callable[[int], torch.Tensor] | None = None,
    reporter: ProgressReporter | None = None,
    stage: str = "sampling",
    hooks: StepHooks | None = None,
) -> torch.Tensor:
    """Run the reverse process from ``xs[skip]`` for ``cond.embeds.shape[0]`` outputs at once.

    ``noise_maps(i)`` gives the z for step i per output (default: the inversion's z); ``hooks``
    (edit_method.StepHooks): ``before_step(i)``, ``after_step(i, x_prev)`` may replace x_{i+1}
    (NIMA's mask blend), ``on_step`` the caller's callback. Returns x_0 (k, C, h, w).
    """
    hooks = hooks or StepHooks()
    k = cond.embeds.shape[0]
    sched, skip = inversion.schedule, inversion.skip
    x = inversion.xs[skip].float().repeat(k, 1, 1, 1)
    uncond = denoiser.unconditional(k)
    if reporter is not None:
        reporter.start(stage, sched.n - skip)
    for i in range(skip, sched.n):
        if hooks.before_step is not None:
            hooks.before_step(i)
        eps = denoiser.eps(x, sched.timesteps[i], cond, uncond, guidance)
        mu, sigma = posterior(x, eps, sched.abar[i], sched.abar_prev[i])
        z = noise_maps(i) if noise_maps is not None else inversion.zs[i]
        assert z is not None
        x = mu + sigma * z
        if hooks.after_step is not None:
            x = hooks.after_step(i, x)
        if hooks.on_step is not None:
            hooks.on_step(StepEvent(stage, i - skip + 1, sched.n - skip, x))
        if reporter is not None:
            reporter.step()
    return x
