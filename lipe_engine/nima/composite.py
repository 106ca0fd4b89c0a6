"""Pixel-space composite: paste the original photo back outside a dilated, feathered mask.

The latent blend of Eq. 4 keeps the background's *latents*, but the VAE round trip still changes
its pixels slightly. With compositing on, every pixel where the feathered mask is exactly zero is
copied from the original photo, so the background is bit-exact.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image


def feathered_mask(mask: torch.Tensor, size_wh: tuple[int, int], dilate_px: int, feather_px: int) -> np.ndarray:
    """(1,1,h,w) mask in [0,1] -> float32 (H, W) alpha at the photo's size, grown and softened."""
    w, h = size_wh
    m = F.interpolate(mask.float(), size=(h, w), mode="bilinear", align_corners=False)
    m = (m > 0.5).float()
    if dilate_px > 0:
        m = F.max_pool2d(m, kernel_size=2 * dilate_px + 1, stride=1, padding=dilate_px)
    if feather_px > 0:
        # grow by the feather radius first so the soft edge lies outside the subject, then blur
        m = F.max_pool2d(m, kernel_size=2 * feather_px + 1, stride=1, padding=feather_px)
        sigma = feather_px / 2.0
        r = feather_px
        x = torch.arange(-r, r + 1, dtype=torch.float32)
        g = torch.exp(-(x**2) / (2 * sigma**2))
        g = g / g.sum()
        m = F.conv2d(F.pad(m, (r, r, 0, 0), mode="replicate"), g.view(1, 1, 1, -1))
        m = F.conv2d(F.pad(m, (0, 0, r, r), mode="replicate"), g.view(1, 1, -1, 1))
    alpha = m[0, 0].clamp(0, 1).numpy()
    alpha[alpha < 1.0 / 512] = 0.0  # exact zeros: those pixels are copied, not blended
    return alpha


def composite(edited: Image.Image, original: Image.Image, alpha: np.ndarray) -> Image.Image:
    """alpha * edited + (1 - alpha) * original; pixels with alpha == 0 are the original's bytes."""
    e = np.asarray(edited.resize(original.size, Image.Resampling.LANCZOS), dtype=np.float32)
    o = np.asarray(original, dtype=np.uint8)
    a = alpha[..., None]
    out = np.clip(np.round(a * e + (1 - a) * o.astype(np.float32)), 0, 255).astype(np.uint8)
    out = np.where(a == 0, o, out)
    return Image.fromarray(out)
