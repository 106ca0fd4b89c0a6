"""Memory-bounded recording, batched edit outputs, and the user's attention processors kept."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from diffusers.models.attention_processor import Attention, AttnProcessor2_0
from PIL import Image
from torch.utils._python_dispatch import TorchDispatchMode

from lipe_engine.baselines.masactrl import MasaController, mutual_self_attention, self_attention_layers
from lipe_engine.nima import EditParams, edit_image
from lipe_engine.nima.attention import (
    RECORD_CHUNK_BYTES,
    AttentionRecorder,
    AttentionStore,
    recorded_layers,
    recording,
    rows_per_block,
)
from lipe_engine.nima.batching import edit_batch_size, output_bytes, sample_in_batches
from lipe_engine.nima.inversion import INVERSION_STEPS_PER_CALL

SRC, TGT, TGT2, IDENT = ("a photo of a sks dog sitting", "a photo of a sks dog standing",
                         "a photo of a sks dog running", "a sks dog")
FAST = EditParams(steps=6, skip=1, mask_threshold=0.5)

pytestmark = pytest.mark.usefixtures("one_torch_thread")


class LargestTensor(TorchDispatchMode):
    """Bytes of the largest tensor any op makes, leaving out results that live in ``exclude``'s storage
    (the running sums the recording adds into in place)."""

    def __init__(self, *exclude: torch.Tensor) -> None:
        super().__init__()
        self.exclude = {t.untyped_storage().data_ptr() for t in exclude}
        self.largest = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):  # noqa: ANN001
        out = func(*args, **(kwargs or {}))
        for t in out if isinstance(out, tuple | list) else [out]:
            if isinstance(t, torch.Tensor) and t.untyped_storage().data_ptr() not in self.exclude:
                self.largest = max(self.largest, t.numel() * t.element_size())
        return out


def _identity_recorder(dim: int, chunk_bytes: int = RECORD_CHUNK_BYTES) -> AttentionRecorder:
    embeds = torch.randn(1, 77, dim, generator=torch.Generator().manual_seed(0))
    rec = AttentionRecorder(embeds, [2, 3], chunk_bytes=chunk_bytes)
    rec.cond_slice = slice(1, 2)  # rows [uncond, cond]: the second counts
    return rec


def test_sdxl_64x64_token_self_attention_is_recorded_in_bounded_blocks():
    # SDXL's down_blocks.1 at 1024 px: 64x64 tokens, 10 heads of 64; one block would be 640 MiB
    heads, d, side = 10, 64, 64
    length = side * side
    attn = Attention(query_dim=heads * d, heads=heads, dim_head=d)
    g = torch.Generator().manual_seed(1)
    q = torch.randn(2, heads, length, d, generator=g, dtype=torch.bfloat16)
    k = torch.randn(2, heads, length, d, generator=g, dtype=torch.bfloat16)
    rec = _identity_recorder(heads * d)
    rec.store = store = AttentionStore(1, (side, side), torch.device("cpu"))
    with LargestTensor(store.sa_sum, store.ca_sum) as spy:
        rec.record(attn, q, k, d, cross=False)
    one_block = 4 * heads * length * length
    assert one_block > 8 * RECORD_CHUNK_BYTES  # the case is one the bound matters for
    assert spy.largest <= RECORD_CHUNK_BYTES
    assert store.sa_count == 1
    rows = store.sa_sum[0]
    assert torch.allclose(rows.sum(-1), torch.ones(length), atol=1e-4)  # every row a distribution
    # a few rows against the direct formula
    pick = [0, 1234, length - 1]
    ref = torch.softmax(q[1, :, pick].float() @ k[1].float().transpose(-1, -2) * d**-0.5, dim=-1).mean(0)
    assert torch.allclose(rows[pick], ref, atol=1e-6)


@pytest.mark.parametrize("cross", [False, True])
def test_blocks_give_the_same_maps_as_one_block(cross):
    heads, d, length = 4, 8, 256
    attn = Attention(query_dim=heads * d, heads=heads, dim_head=d, cross_attention_dim=24)
    g = torch.Generator().manual_seed(2)
    q = torch.randn(4, heads, length, d, generator=g)
    k = torch.randn(4, heads, length, d, generator=g)
    sums = []
    for chunk in (2**40, 4 * heads * (77 if cross else length) * 7):  # one block; 7 rows a block
        rec = _identity_recorder(24, chunk)
        rec.cond_slice = slice(2, 4)
        rec.store = store = AttentionStore(2, (16, 16), torch.device("cpu"))
        rec.record(attn, q, k, d, cross)
        sums.append(store.ca_sum if cross else store.sa_sum)
    assert rows_per_block(heads, 77 if cross else length, 4 * heads * (77 if cross else length) * 7) == 7
    assert sums[0].abs().sum() > 0 and torch.allclose(sums[0], sums[1], atol=1e-6)


def photo(seed: int = 0) -> Image.Image:
    rng = np.random.RandomState(seed)
    return Image.fromarray((rng.rand(8, 8, 3) * 255).astype(np.uint8)).resize((64, 64), Image.Resampling.BICUBIC)


def test_outputs_in_batches_equal_one_batch(tiny_model):
    params = EditParams(**{**FAST.to_dict(), "seeds": (None, 7)})
    whole = edit_image(tiny_model, photo(), SRC, [TGT, TGT2], IDENT, params)
    events = []
    parts = edit_image(tiny_model, photo(), SRC, [TGT, TGT2], IDENT, params, max_batch=3, progress=events.append)
    n = FAST.steps - FAST.skip
    inversion = math.ceil(n / INVERSION_STEPS_PER_CALL)
    assert whole.stats["unet_calls"] == inversion + n and parts.stats["unet_calls"] == inversion + 2 * n  # 3 + 1
    assert torch.allclose(whole.latents, parts.latents, atol=1e-4)  # batched fp32 matmuls round differently
    for a, b in zip(whole.union_masks, parts.union_masks, strict=True):
        assert (a == b).mean() >= 0.99
    assert [len(h) for h in parts.mask_history] == [n] * 4
    assert {"editing (outputs 1-3 of 4)", "editing (outputs 4-4 of 4)"} <= {e.stage for e in events}


def test_batch_size_follows_free_memory(monkeypatch):
    from lipe_engine.models.sdxl_architecture import build_sdxl_components
    from lipe_engine.nima import batching

    unet = build_sdxl_components()["unet"].to(torch.bfloat16)  # meta device: shapes only
    per = output_bytes(unet, (128, 128), (32, 32))  # SDXL at 1024 px
    assert 2**30 // 2 < per < 8 * 2**30  # an output's activations are GBs, not KBs or tens of GBs
    monkeypatch.setattr(batching, "free_memory_bytes", lambda device: 10 * per)
    assert edit_batch_size(unet, torch.device("cuda"), (128, 128), (32, 32), 20) == 8  # 80 % of free
    assert edit_batch_size(unet, torch.device("cuda"), (128, 128), (32, 32), 3) == 3
    assert edit_batch_size(unet, torch.device("cuda"), (128, 128), (32, 32), 20, max_batch=2) == 2
    monkeypatch.setattr(batching, "free_memory_bytes", lambda device: per // 10)
    assert edit_batch_size(unet, torch.device("cuda"), (128, 128), (32, 32), 20) == 1


def test_out_of_memory_halves_the_batch():
    seen = []

    def run(part):
        seen.append(len(part))
        if len(part) > 2:
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return list(part)

    out = sample_in_batches(list(range(7)), 8, run, torch.device("cuda"))
    assert [x for part in out for x in part] == list(range(7))
    assert seen == [7, 4, 2, 2, 2, 1]  # 8 -> 4 -> 2 on failures, then slices of 2
    with pytest.raises(torch.OutOfMemoryError):  # a CPU has no second try (and one item none either)
        sample_in_batches(list(range(7)), 8, run, torch.device("cpu"))


class UserProcessor(AttnProcessor2_0):
    """Stands for what a user installs (xformers, sliced, fused): must survive on untouched layers."""


def _install_user_processors(unet) -> dict:
    procs = {name: UserProcessor() for name in unet.attn_processors}
    unet.set_attn_processor(dict(procs))
    return procs


def test_layers_that_record_nothing_keep_the_users_processor(tiny_model):
    unet = tiny_model.pipe.unet
    original = dict(unet.attn_processors)
    try:
        user = _install_user_processors(unet)
        rec = _identity_recorder(64)
        rec.self_stride = 2
        chosen, _ = recorded_layers(unet)
        recorded = set([n for n in chosen if ".attn2." in n] + [n for n in chosen if ".attn1." in n][::2])
        with recording(unet, rec):
            now = unet.attn_processors
            for name, proc in now.items():
                assert (getattr(proc, "controller", None) is rec) == (name in recorded)
                if name not in recorded:
                    assert proc is user[name]
        names, first_decoder = self_attention_layers(unet)
        ctl = MasaController(start_step=0, layers=frozenset(range(first_decoder, len(names))))
        with mutual_self_attention(unet, ctl):
            now = unet.attn_processors
            for i, name in enumerate(names):
                assert (now[name] is user[name]) == (i < first_decoder)
            assert all(now[n] is p for n, p in user.items() if ".attn2." in n)
        assert all(unet.attn_processors[n] is p for n, p in user.items())
        # an edit with a given mask records nothing while editing: the user's processors run
        during = []

        def spy(ev) -> None:
            if ev.stage == "editing" and ev.step == 1:
                during.append(all(unet.attn_processors[n] is p for n, p in user.items()))

        mask = torch.ones(1, 1, 32, 32)
        edit_image(tiny_model, photo(3), SRC, TGT, IDENT, FAST, fixed_mask=mask, progress=spy)
        assert during == [True]
        assert all(unet.attn_processors[n] is p for n, p in user.items())
    finally:
        unet.set_attn_processor(original)
