"""Cross the VAE's dtype boundary: fp32 VAE (:mod:`lipe_engine.devices`) next to a bf16/fp16 UNet.

Latents leave the VAE as fp32 and are cast to the UNet's dtype by whoever feeds the UNet; latents
from a bf16 UNet are cast to the VAE's dtype here before decoding. Diffusers' own pipeline call
does not do the second cast when the VAE is fp32 and the UNet is not ("Input type (BFloat16) and
bias type (float) should be the same"), so code that renders with the pipeline asks it for
latents (``output_type="latent"``) and decodes them with :func:`decode_latents` (which also keeps
diffusers from casting the VAE itself to fp16 on Apple MPS when the dtypes differ).
"""

from __future__ import annotations

from typing import Any

import torch


def _shift(vae: Any) -> float:
    return float(getattr(vae.config, "shift_factor", None) or 0.0)


@torch.no_grad()
def encode_pixels(vae: Any, pixels: torch.Tensor) -> torch.Tensor:
    """Pixels (n, 3, H, W) in [-1, 1] -> scaled latents (n, C, h, w), fp32 (posterior mean)."""
    lat = vae.encode(pixels.to(vae.device, vae.dtype)).latent_dist.mean
    return ((lat.float() - _shift(vae)) * vae.config.scaling_factor)


@torch.no_grad()
def decode_latents(vae: Any, latents: torch.Tensor) -> torch.Tensor:
    """Scaled latents of any dtype -> pixels (n, 3, H, W) in [-1, 1], fp32."""
    z = latents.float() / vae.config.scaling_factor + _shift(vae)
    return vae.decode(z.to(vae.device, vae.dtype)).sample.float()
