"""NIMA on the tiny SDXL-architecture model: inversion, recording, masks, blending, caching."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from PIL import Image

from lipe_engine.errors import Cancelled, InputError
from lipe_engine.nima import EditParams, InversionCache, NimaSession, edit_image
from lipe_engine.nima.attention import AttentionRecorder, AttentionStore, recording
from lipe_engine.nima.inversion import INVERSION_STEPS_PER_CALL, invert_ddpm, sample_ddpm
from lipe_engine.nima.masks import blend, union
from lipe_engine.progress import CancelToken, ProgressReporter
from lipe_engine.testing.nima_reference import three_pass_edit

SRC = "a photo of a sks dog sitting"
TGT = "a photo of a sks dog standing"
IDENT = "a sks dog"
FAST = EditParams(steps=8, skip=1, cfg_source=3.5, cfg_target=7.5, mask_threshold=0.5)


def photo(seed: int = 0, size: tuple[int, int] = (64, 64)) -> Image.Image:
    rng = np.random.RandomState(seed)
    arr = (rng.rand(size[1] // 8, size[0] // 8, 3) * 255).astype(np.uint8)
    return Image.fromarray(arr).resize(size, Image.Resampling.BICUBIC)


def test_inversion_then_sampling_reconstructs_latents(tiny_model):
    s = NimaSession(tiny_model, photo(), SRC, IDENT, EditParams(steps=12, skip=0))
    x0 = s.encode_photo()
    cond = s.denoiser.encode([SRC])
    inv = invert_ddpm(s.denoiser, x0, cond, 3.5, s.schedule, 0, torch.Generator().manual_seed(0))
    rec = sample_ddpm(s.denoiser, inv, cond, 3.5)
    assert (rec - x0).abs().max().item() <= 1e-4
    # the noise maps are not trivial: sampling with another prompt lands elsewhere
    other = sample_ddpm(s.denoiser, inv, s.denoiser.encode([TGT]), 7.5)
    assert (other - x0).abs().max().item() > 1e-3


def test_recording_does_not_change_the_unet_output(tiny_model):
    s = NimaSession(tiny_model, photo(), SRC, IDENT, FAST)
    x = torch.randn(2, 4, 32, 32, generator=torch.Generator().manual_seed(1))
    cond, uncond = s.denoiser.encode([SRC, TGT]), s.denoiser.unconditional(2)
    plain = s.denoiser.eps(x, 501, cond, uncond, 5.0)
    store = AttentionStore(2, (16, 16), tiny_model.device)
    s.recorder.store = store
    with recording(tiny_model.pipe.unet, s.recorder):
        recorded = s.denoiser.eps(x, 501, cond, uncond, 5.0)
    s.recorder.store = None
    assert torch.allclose(plain, recorded, atol=1e-6, rtol=0)
    assert store.ca_count > 0 and store.sa_count > 0
    # self-attention rows are distributions
    sa = store.sa_sum / store.sa_count
    assert torch.allclose(sa.sum(-1), torch.ones_like(sa.sum(-1)), atol=1e-4)
    # processors are restored afterwards
    assert not any("Recording" in type(p).__name__ for p in tiny_model.pipe.unet.attn_processors.values())


def test_masks_are_in_unit_range_at_latent_resolution(tiny_model):
    res = edit_image(tiny_model, photo(), SRC, TGT, IDENT, FAST)
    for m in [res.source_mask, *res.target_masks, *res.union_masks]:
        assert m.shape == (32, 32)
        assert m.min() >= 0.0 and m.max() <= 1.0
    assert len(res.mask_history[0]) == FAST.steps - FAST.skip
    # the union contains the source mask (Eq. 3)
    assert np.all(res.union_masks[0] >= res.source_mask)
    soft = edit_image(tiny_model, photo(), SRC, TGT, IDENT, EditParams(**{**FAST.to_dict(), "mask_softness": 0.4}))
    assert soft.source_mask.min() >= 0.0 and soft.source_mask.max() <= 1.0


def test_blend_keeps_inverted_latents_exactly_outside_the_mask(tiny_model):
    mask = torch.zeros(1, 1, 32, 32)
    mask[..., 8:24, 8:24] = 1
    res = edit_image(tiny_model, photo(), SRC, TGT, IDENT, FAST, fixed_mask=mask)
    inverted = res.inversion.xs[-1]
    outside = mask[0, 0] == 0
    assert torch.equal(res.latents[0][:, outside], inverted[0][:, outside])
    assert not torch.equal(res.latents[0][:, ~outside], inverted[0][:, ~outside])


def test_all_zero_mask_returns_the_reconstruction(tiny_model):
    s = NimaSession(tiny_model, photo(), SRC, IDENT, FAST)
    res = edit_image(tiny_model, photo(), SRC, TGT, IDENT, FAST, fixed_mask=torch.zeros(1, 1, 32, 32))
    assert torch.equal(res.latents, res.inversion.xs[-1])
    assert (res.latents - s.encode_photo()).abs().max().item() <= 1e-4


def test_blend_function_is_a_select_for_binary_masks():
    a, b = torch.randn(1, 4, 8, 8), torch.randn(1, 4, 8, 8)
    m = (torch.rand(1, 1, 8, 8) > 0.5).float()
    out = blend(a, b, m)
    assert torch.equal(out, torch.where(m.bool(), a, b))
    assert torch.allclose(union(m, 1 - m), torch.ones_like(m))


def test_two_pass_equals_three_pass_reference(tiny_model):
    params = EditParams(steps=8, skip=1, mask_threshold=0.6, mask_lambda=2)
    ref, session = three_pass_edit(tiny_model, photo(3), SRC, TGT, IDENT, params)
    two = NimaSession(tiny_model, photo(3), SRC, IDENT, params)
    two.inversion_steps_per_call = 1  # the algorithm as written: bit-identical to the reference
    res = two.edit([TGT], ProgressReporter())
    n = params.steps - params.skip
    assert res.stats["unet_rows"] == 4 * n and session.denoiser.unet_rows == 6 * n
    assert res.stats["unet_calls"] == 2 * n and session.denoiser.unet_calls == 3 * n
    assert torch.allclose(res.latents, ref, atol=1e-5, rtol=0)
    # the default evaluates several inversion steps per call: the same work in fewer calls
    batched = edit_image(tiny_model, photo(3), SRC, TGT, IDENT, params)
    assert batched.stats["unet_rows"] == 4 * n
    assert batched.stats["unet_calls"] == math.ceil(n / INVERSION_STEPS_PER_CALL) + n


def test_batched_inversion_equals_step_by_step(tiny_model):
    """Several inversion steps per UNet call give the same noise maps, latents and source maps as one
    step per call, up to float rounding of differently shaped matmuls."""
    s = NimaSession(tiny_model, photo(3), SRC, IDENT, EditParams(steps=12, skip=1))
    x0, cond = s.encode_photo(), s.denoiser.encode([SRC])
    runs = []
    for per_call in (1, 4, 12):
        with recording(tiny_model.pipe.unet, s.recorder, None):
            s.recorder.store = store = s._new_store(1)
            inv = invert_ddpm(s.denoiser, x0, cond, 3.5, s.schedule, 1, torch.Generator().manual_seed(0),
                              max_steps_per_call=per_call)
            s.recorder.store = None
        runs.append((inv, store))
    (ref, ref_store), others = runs[0], runs[1:]
    for inv, store in others:
        assert (store.ca_count, store.sa_count) == (ref_store.ca_count, ref_store.sa_count)
        assert torch.allclose(store.ca_sum, ref_store.ca_sum, atol=1e-5)
        assert torch.allclose(store.sa_sum, ref_store.sa_sum, atol=1e-5)
        for a, b in zip(inv.xs, ref.xs, strict=True):
            assert torch.allclose(a, b, atol=1e-5)
        for a, b in zip(inv.zs[1:], ref.zs[1:], strict=True):
            assert a is not None and b is not None and torch.allclose(a, b, atol=1e-3)
    assert ref_store.ca_count > 0


def test_cached_re_edit_equals_cold_edit(tiny_model, tmp_path):
    cache = InversionCache(tmp_path / "inv")
    first = edit_image(tiny_model, photo(4), SRC, TGT, IDENT, FAST, cache=cache)
    assert not first.cache_hit
    other = "a photo of a sks dog running"
    warm = edit_image(tiny_model, photo(4), SRC, other, IDENT, FAST, cache=cache)
    assert warm.cache_hit and warm.stats["unet_calls"] == FAST.steps - FAST.skip and warm.stats["unet_rows"] == 2 * (
        FAST.steps - FAST.skip)
    cold = edit_image(tiny_model, photo(4), SRC, other, IDENT, FAST)
    assert torch.equal(warm.latents, cold.latents)
    # from disk, in a fresh cache object (a new app session)
    disk = edit_image(tiny_model, photo(4), SRC, other, IDENT, FAST, cache=InversionCache(tmp_path / "inv"))
    assert disk.cache_hit and torch.equal(disk.latents, cold.latents)
    # another source prompt is another inversion
    miss = edit_image(tiny_model, photo(4), "a sks dog on grass", other, IDENT, FAST, cache=cache)
    assert not miss.cache_hit


def test_several_prompts_and_seeds_share_one_inversion(tiny_model):
    params = EditParams(**{**FAST.to_dict(), "seeds": (None, 7)})
    res = edit_image(tiny_model, photo(5), SRC, [TGT, "a sks dog running"], IDENT, params)
    assert len(res.images) == 4 and res.seeds == [None, 7, None, 7]
    n = FAST.steps - FAST.skip
    assert res.stats["unet_calls"] == math.ceil(n / INVERSION_STEPS_PER_CALL) + n
    assert res.stats["unet_rows"] == 2 * n + 2 * 4 * n  # inversion, then 4 outputs in one batch
    single = edit_image(tiny_model, photo(5), SRC, TGT, IDENT, FAST)
    assert torch.allclose(res.latents[0], single.latents[0], atol=1e-4)
    assert not torch.allclose(res.latents[0], res.latents[1], atol=1e-4)  # the seed varies the edit


def test_pixel_composite_keeps_background_bit_exact(tiny_model):
    img = photo(6, (80, 48))
    mask = torch.zeros(1, 1, 20, 32)  # model size 64x40 -> latent 32x20
    mask[..., 6:14, 12:22] = 1
    params = EditParams(**{**FAST.to_dict(), "composite": True})
    res = edit_image(tiny_model, img, SRC, TGT, IDENT, params, fixed_mask=mask)
    out, orig = np.asarray(res.images[0]), np.asarray(img)
    assert out.shape == orig.shape
    # far from the mask (left quarter) every pixel is the original's
    assert np.array_equal(out[:, :12], orig[:, :12])
    assert not np.array_equal(out, orig)


def test_progress_reports_and_cancel_stops(tiny_model):
    events = []
    edit_image(tiny_model, photo(), SRC, TGT, IDENT, FAST, progress=events.append)
    stages = {e.stage for e in events}
    assert stages == {"inversion", "editing"}
    last = [e for e in events if e.stage == "editing"][-1]
    assert last.step == last.total == FAST.steps - FAST.skip and last.eta_s == 0.0

    token = CancelToken()

    def cb(ev):
        if ev.stage == "inversion" and ev.step == 2:
            token.cancel()

    with pytest.raises(Cancelled):
        edit_image(tiny_model, photo(), SRC, TGT, IDENT, FAST, progress=ProgressReporter(cb, token))
    # the UNet is left with its normal processors after a cancel
    assert not any("Recording" in type(p).__name__ for p in tiny_model.pipe.unet.attn_processors.values())


def test_odd_sizes_follow_the_resize_policy(tiny_model):
    img = photo(7, (37, 23))
    res = edit_image(tiny_model, img, SRC, TGT, IDENT, FAST)
    assert res.images[0].size == (37, 23)  # returned at the photo's size
    w, h = res.processed_input.size
    assert w == 64 and h % 4 == 0 and abs(w / h - 37 / 23) < 0.1


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"source_prompt": "  "}, "source prompt is empty"),
        ({"identity_prompt": ""}, "identity prompt is empty"),
        ({"target_prompts": [""]}, "target prompt is empty"),
        ({"target_prompts": []}, "no target prompt"),
        ({"params": EditParams(steps=10, skip=10)}, "skip=10"),
        ({"source_prompt": "dog " * 90}, "tokens long"),
    ],
)
def test_bad_prompts_and_params(tiny_model, kwargs, match):
    args = {"source_prompt": SRC, "target_prompts": [TGT], "identity_prompt": IDENT, "params": FAST}
    args.update(kwargs)
    with pytest.raises(InputError, match=match):
        edit_image(tiny_model, photo(), **args)


def test_bad_images(tiny_model, tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        edit_image(tiny_model, tmp_path / "missing.jpg", SRC, TGT, IDENT, FAST)
    text = tmp_path / "notes.jpg"
    text.write_text("not an image")
    with pytest.raises(InputError, match="not an image"):
        edit_image(tiny_model, text, SRC, TGT, IDENT, FAST)
    empty = tmp_path / "empty.png"
    empty.write_bytes(b"")
    with pytest.raises(InputError, match="empty"):
        edit_image(tiny_model, empty, SRC, TGT, IDENT, FAST)
    with pytest.raises(InputError, match="aspect ratio"):
        edit_image(tiny_model, photo(0, (320, 40)), SRC, TGT, IDENT, FAST)


def test_identity_words_select_tokens(tiny_model):
    from lipe_engine.nima.editor import identity_token_index

    tok = tiny_model.pipe.tokenizer
    assert identity_token_index(tok, "a sks dog", None) == [2, 3]
    assert identity_token_index(tok, "a sks dog", ("dog",)) == [3]
    with pytest.raises(InputError, match="identity words"):
        identity_token_index(tok, "a sks dog", ("cat",))


def test_recorder_only_counts_conditional_rows(tiny_model):
    s = NimaSession(tiny_model, photo(), SRC, IDENT, FAST)
    assert isinstance(s.recorder, AttentionRecorder)
    s._set_cond_rows(3)
    assert s.recorder.cond_slice == slice(3, 6)
