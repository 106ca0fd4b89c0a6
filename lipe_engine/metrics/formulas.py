"""The paper's four metrics as plain math on embeddings (Appendix E.3).

All take embeddings already produced by the encoders (any scale: every formula is a cosine, so
only directions matter). Shapes: one vector (D,) or a batch (N, D); batched inputs give one
value per row, and :func:`mean` averages rows as the paper does ("on average").

- DINOv2-I / CLIP-I: cos(E(x_ori), E(x_tar)) between the test image and the edited image, in
  DINOv2 and CLIP image space respectively.
- CLIP-T (Eq. 11): cos(E_I(x_tar), E_T(y_tar)), edited image vs target prompt.
- CLIP-D (Eq. 12): cos(dI, dT) with dI = E_I(x_tar) - E_I(x_ori), dT = E_T(y_tar) - E_T(y_ori),
  on the embeddings as the encoders give them (Eq. 12 normalises nothing before differencing);
  :func:`clip_d_normalised` is the StyleGAN-NADA variant (unit embeddings first), an extra column.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import torch

EPS = 1e-6  # a vector shorter than this has no direction (fp32 noise of "no change")


def _2d(x: torch.Tensor) -> torch.Tensor:
    x = torch.as_tensor(x).double()
    if x.dim() == 1:
        x = x.unsqueeze(0)
    if x.dim() != 2:
        raise ValueError(f"embeddings must be (D,) or (N, D), got shape {tuple(x.shape)}")
    return x


def cosine(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Row-wise <a, b> / (|a| |b|), in float64. A (near-)zero vector gives 0 (no direction)."""
    a2, b2 = _2d(a), _2d(b)
    if a2.shape != b2.shape:
        raise ValueError(f"embedding shapes differ: {tuple(a2.shape)} vs {tuple(b2.shape)}")
    na, nb = a2.norm(dim=-1), b2.norm(dim=-1)
    ok = (na > EPS) & (nb > EPS)
    num = (a2 * b2).sum(-1)
    return torch.where(ok, num / (na * nb).clamp_min(EPS * EPS), torch.zeros_like(num))


def image_similarity(source_image: torch.Tensor, edited_image: torch.Tensor) -> torch.Tensor:
    """DINOv2-I or CLIP-I (depending on the encoder): cos(E(x_ori), E(x_tar)) per row."""
    return cosine(source_image, edited_image)


def clip_t(edited_image: torch.Tensor, target_text: torch.Tensor) -> torch.Tensor:
    """Eq. 11: cos(E_I(x_tar), E_T(y_tar)) per row."""
    return cosine(edited_image, target_text)


def clip_d(
    source_image: torch.Tensor,
    edited_image: torch.Tensor,
    source_text: torch.Tensor,
    target_text: torch.Tensor,
) -> torch.Tensor:
    """Eq. 12: cos(E_I(x_tar) - E_I(x_ori), E_T(y_tar) - E_T(y_ori)) per row."""
    d_img = _2d(edited_image) - _2d(source_image)
    d_txt = _2d(target_text) - _2d(source_text)
    return cosine(d_img, d_txt)


def clip_d_normalised(
    source_image: torch.Tensor,
    edited_image: torch.Tensor,
    source_text: torch.Tensor,
    target_text: torch.Tensor,
) -> torch.Tensor:
    """CLIP-D on L2-normalised embeddings (StyleGAN-NADA's directional similarity), per row."""
    unit = [torch.nn.functional.normalize(_2d(x), dim=-1)
            for x in (source_image, edited_image, source_text, target_text)]
    return clip_d(*unit)


def mean(values: Iterable[float | None]) -> float | None:
    """Average of the finite values (None and NaN skipped); None when there are none."""
    vals = [float(v) for v in values if v is not None and math.isfinite(float(v))]
    return sum(vals) / len(vals) if vals else None
