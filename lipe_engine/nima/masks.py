"""Identity-aware masks from recorded attention (paper Eq. 1-3).

M^1 = mean over layers and steps of the identity cross-attention (Eq. 1);
M^2 = SA_mean^lambda x M^1 (Eq. 2): the mask is propagated lambda times through the averaged
self-attention, so each position takes the attention-weighted mask of the places it attends to,
which snaps the blurry cross-attention onto the subject's layout;
then min-max normalised, optionally dilated (max-pool, as prompt-to-prompt's LocalBlend),
upsampled to the latent size and thresholded (hard, or a soft ramp of width ``softness``).
M_t = M^s U M^e_t (Eq. 3) is the element-wise maximum.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from .attention import AttentionStore


@dataclass(frozen=True)
class MaskParams:
    lam: int = 1  # lambda: power of the self-attention refinement
    threshold: float = 0.3
    softness: float = 0.0  # 0: binary mask; >0: linear ramp of this width around the threshold
    dilate: int = 1  # max-pool radius at attention resolution (0: none)


def refined_map(store: AttentionStore, lam: int) -> torch.Tensor:
    """M^2 at attention resolution, (n, h, w), before normalisation.

    ``sa[i, j]`` is how much query position i attends to key j (rows sum to 1), so each step is
    M_i <- sum_j SA_ij M_j: a position takes the mask of where it looks. Checked by hand on a 2x2
    grid in tests/engine/nima/test_nima_masks.py (a transposed SA or another lambda fails there)."""
    if store.ca_count == 0:
        raise RuntimeError("no identity attention was recorded")
    m = store.ca_sum / store.ca_count  # (n, L)   Eq. 1
    if lam > 0:
        if store.sa_count == 0:
            raise RuntimeError("no self-attention was recorded")
        sa = store.sa_sum / store.sa_count  # (n, L, L)
        for _ in range(lam):  # Eq. 2, SA^lambda x M^1 without forming the matrix power
            m = torch.bmm(sa, m.unsqueeze(-1)).squeeze(-1)
    return m.view(store.n, *store.hw)


def identity_mask(store: AttentionStore, latent_hw: tuple[int, int], params: MaskParams) -> torch.Tensor:
    """Mask in [0, 1] of shape (n, 1, H, W) at latent resolution."""
    m = refined_map(store, params.lam).unsqueeze(1)
    # Min-max rather than divide-by-max: attention is a distribution, so a map with a weak peak
    # (a small model, a subject the prompt describes loosely) has a high floor everywhere, and
    # dividing by the max alone would put the whole image above any threshold. For peaked maps
    # (floor near 0) the two agree.
    flat = m.flatten(1)
    lo = flat.amin(dim=1).view(-1, 1, 1, 1)
    hi = flat.amax(dim=1).view(-1, 1, 1, 1)
    m = (m - lo) / (hi - lo).clamp_min(1e-12)
    if params.dilate > 0:
        k = 2 * params.dilate + 1
        m = F.max_pool2d(m, kernel_size=k, stride=1, padding=params.dilate)
    m = F.interpolate(m, size=latent_hw, mode="bilinear", align_corners=False)
    if params.softness > 0:
        return ((m - params.threshold) / params.softness + 0.5).clamp(0.0, 1.0)
    return (m >= params.threshold).to(m.dtype)


def union(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """M^s U M^e_t (Eq. 3) for masks in [0, 1]."""
    return torch.maximum(a, b)


def blend(edited: torch.Tensor, inverted: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Eq. 4: keep the edit inside the mask, the inverted latents outside.

    Written as a select where the mask is binary so that outside the mask the result *is* the
    inverted latent (no float round-off from ``m*a + (1-m)*b``).
    """
    soft = mask * edited + (1 - mask) * inverted
    return torch.where(mask >= 1, edited, torch.where(mask <= 0, inverted, soft))
