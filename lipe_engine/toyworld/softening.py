"""What a diffusion model's output does to a toy-world photo, as image operations the judge is
trained and tested against: a Gaussian blur, pixel noise, a colour drift, a round trip through a
VAE, and the ghost of another pose left behind.

All work on float tensors (n, 3, H, W) in [0, 1].
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from ..models.loader import import_diffusers
from ..models.vae import decode_latents, encode_pixels


def gaussian_blur(images: torch.Tensor, sigma: torch.Tensor | float) -> torch.Tensor:
    """Blur each image with its own sigma (pixels; 0 leaves it as it is), reflecting at the edges."""
    n = images.shape[0]
    sig = torch.as_tensor(sigma, dtype=images.dtype).expand(n).clamp(min=1e-3)
    radius = max(1, int(math.ceil(3 * float(sig.max()))))
    radius = min(radius, images.shape[-1] // 2 - 1)
    x = torch.arange(-radius, radius + 1, dtype=images.dtype)
    k = torch.exp(-0.5 * (x[None, :] / sig[:, None]) ** 2)
    k = k / k.sum(dim=1, keepdim=True)  # (n, 2r+1)
    c = images.shape[1]
    pad = F.pad(images, (radius, radius, radius, radius), mode="reflect")
    flat = pad.reshape(1, n * c, *pad.shape[-2:])
    kh = k.repeat_interleave(c, dim=0)[:, None, None, :]  # (n*c, 1, 1, K)
    kv = k.repeat_interleave(c, dim=0)[:, None, :, None]
    out = F.conv2d(F.conv2d(flat, kh, groups=n * c), kv, groups=n * c)
    return out.reshape(images.shape)


def colour_drift(images: torch.Tensor, generator: torch.Generator, gain: float = 0.08,
                 offset: float = 0.04) -> torch.Tensor:
    """Per-image, per-channel gain in 1 +- gain and offset in +- offset."""
    n, c = images.shape[:2]
    g = 1 + (torch.rand(n, c, 1, 1, generator=generator) * 2 - 1) * gain
    o = (torch.rand(n, c, 1, 1, generator=generator) * 2 - 1) * offset
    return (images * g + o).clamp(0, 1)


def add_noise(images: torch.Tensor, std: torch.Tensor | float, generator: torch.Generator) -> torch.Tensor:
    s = torch.as_tensor(std, dtype=images.dtype).reshape(-1, 1, 1, 1) if torch.is_tensor(std) else std
    return (images + torch.randn(images.shape, generator=generator) * s).clamp(0, 1)


def ghost(images: torch.Tensor, others: torch.Tensor, alpha: torch.Tensor | float) -> torch.Tensor:
    """``others`` (another pose in the same place) left faintly over the images with weight alpha."""
    a = torch.as_tensor(alpha, dtype=images.dtype).reshape(-1, 1, 1, 1) if torch.is_tensor(alpha) else alpha
    return images * (1 - a) + others * a


def load_vae(model_dir: str | Path) -> Any:
    """The toy model's VAE (fp32, CPU), for round trips."""
    vae = import_diffusers().AutoencoderKL.from_pretrained(str(Path(model_dir) / "vae"))
    return vae.eval()


@torch.no_grad()
def vae_round_trip(vae: Any, images: torch.Tensor, batch: int = 64) -> torch.Tensor:
    """Encode and decode through ``vae`` (what every diffusion edit's pixels go through)."""
    out = []
    for i in range(0, images.shape[0], batch):
        x = images[i:i + batch] * 2 - 1
        out.append(((decode_latents(vae, encode_pixels(vae, x)) + 1) / 2).clamp(0, 1))
    return torch.cat(out)


def soften(images: torch.Tensor, vae: Any | None = None, sigma: float = 0.8, noise: float = 0.01,
           seed: int = 0) -> torch.Tensor:
    """A softened copy as a 64-px diffusion output looks: blurred, a little noise, through the VAE."""
    g = torch.Generator().manual_seed(seed)
    out = add_noise(gaussian_blur(images, sigma), noise, g)
    return vae_round_trip(vae, out) if vae is not None else out
