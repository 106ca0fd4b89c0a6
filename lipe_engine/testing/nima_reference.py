"""The literal three-pass NIMA of Algorithm 1, kept as the reference the two-pass engine must match.

Pass 1 inverts without recording, one step per UNet call as the algorithm is written; pass 2 reconstructs with the source prompt while recording the
identity attention (M^s); pass 3 edits with the target prompt, blending with M^s U M^e_t. Used by
the tests (test_nima.py) and benchmarks/edit_cost.py.
"""

from __future__ import annotations

import torch

from lipe_engine.edit_method import StepHooks
from lipe_engine.nima import EditParams, NimaSession
from lipe_engine.nima.attention import recording
from lipe_engine.nima.inversion import invert_ddpm, sample_ddpm
from lipe_engine.nima.masks import blend, identity_mask, union


def three_pass_edit(model, image, source: str, target: str, identity: str,
                    params: EditParams) -> tuple[torch.Tensor, NimaSession]:
    s = NimaSession(model, image, source, identity, params)
    x0 = s.encode_photo()
    src = s.denoiser.encode([source])
    inv = invert_ddpm(s.denoiser, x0, src, params.cfg_source, s.schedule, params.skip,
                      torch.Generator().manual_seed(params.inversion_seed), max_steps_per_call=1)
    mp = params.mask_params()
    with recording(model.pipe.unet, s.recorder, params.record_downsample):
        try:
            s.recorder.store = src_store = s._new_store(1)
            sample_ddpm(s.denoiser, inv, src, params.cfg_source)  # reconstruction pass
            m_s = identity_mask(src_store, s.latent_hw, mp)
            s.recorder.store = tgt_store = s._new_store(1)

            def after(i: int, x: torch.Tensor) -> torch.Tensor:
                return blend(x, inv.xs[i + 1], union(m_s, identity_mask(tgt_store, s.latent_hw, mp)))

            out = sample_ddpm(s.denoiser, inv, s.denoiser.encode([target]), params.cfg_target,
                              hooks=StepHooks(after_step=after))
        finally:
            s.recorder.store = None
    return out, s
