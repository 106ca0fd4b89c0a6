"""MasaCtrl-style mutual self-attention control on the tiny SDXL (saved and loaded like real SDXL)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from diffusers.models.attention_processor import Attention, AttnProcessor2_0
from PIL import Image

from lipe_engine.baselines.masactrl import (
    MasaController,
    MasaCtrlParams,
    MutualSelfAttentionProcessor,
    _from_source,
    masactrl_edit,
    self_attention_layers,
)
from lipe_engine.errors import InputError

SRC = "a photo of a dog sitting"
TGT = "a photo of a dog standing"


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def photo() -> Image.Image:
    rng = np.random.RandomState(0)
    arr = (rng.rand(48, 64, 3) * 255).astype("uint8")
    return Image.fromarray(arr)


def test_layers_in_forward_order(tiny_model):
    names, first_decoder = self_attention_layers(tiny_model.pipe.unet)
    assert names[0].startswith("down_blocks.1.") and names[first_decoder - 1].startswith("mid_block.")
    assert all(n.startswith("up_blocks.") for n in names[first_decoder:])
    assert all(".attn1." in n for n in names)
    assert len(names) == first_decoder + 2  # tiny: 1 down, 1 mid, 2 up transformer blocks


def test_from_source_copies_row_zero_per_half():
    t = torch.arange(6.0).view(6, 1, 1, 1)  # two halves of n=3 rows
    assert _from_source(t, 3).flatten().tolist() == [0, 0, 0, 3, 3, 3]


def test_processor_matches_diffusers_when_inactive_and_copies_when_active():
    torch.manual_seed(0)
    attn = Attention(query_dim=16, heads=2, dim_head=8)
    x = torch.randn(4, 5, 16)  # 2 halves x (source, target)
    ref = AttnProcessor2_0()(attn, x)
    ctl = MasaController(start_step=1, layers=frozenset({0}), step=0, n=2)
    proc = MutualSelfAttentionProcessor(ctl, 0)
    assert torch.equal(proc(attn, x), ref)
    ctl.step = 1
    out = proc(attn, x)
    assert ctl.calls == 1
    assert torch.allclose(out[[0, 2]], ref[[0, 2]], atol=1e-6)  # source rows unchanged
    assert not torch.allclose(out[[1, 3]], ref[[1, 3]], atol=1e-4)  # targets now read source K/V
    # a target whose tokens equal the source's gives exactly the source output
    same = x.clone()
    same[1], same[3] = x[0], x[2]
    out2 = proc(attn, same)
    assert torch.allclose(out2[1], out2[0], atol=1e-6) and torch.allclose(out2[3], out2[2], atol=1e-6)
    # other layers untouched
    assert torch.equal(MutualSelfAttentionProcessor(ctl, 5)(attn, x), ref)


def test_masactrl_edit_source_branch_reproduces_photo(tiny_model, photo):
    before = dict(tiny_model.pipe.unet.attn_processors)
    p = MasaCtrlParams(steps=4, skip=1, start_step=1, start_layer=0)
    res = masactrl_edit(tiny_model, photo, SRC, [TGT], p)
    assert res.images[0].size == photo.size
    assert torch.allclose(res.source_latents, res.inverted_latents, atol=1e-3)
    assert res.stats["kv_swaps"] > 0
    after = tiny_model.pipe.unet.attn_processors
    assert all(type(after[k]) is type(v) for k, v in before.items())  # processors restored


def test_masactrl_same_prompt_gives_source_and_control_matters(tiny_model, photo):
    # same prompt and guidance in both branches + full control: the target is the source
    p = MasaCtrlParams(steps=4, skip=1, cfg_source=3.5, cfg_target=3.5, start_step=0, start_layer=0)
    res = masactrl_edit(tiny_model, photo, SRC, [SRC], p)
    assert torch.allclose(res.latents, res.source_latents, atol=1e-3)
    # control on vs. off (start beyond the last step) must change the edit
    on = masactrl_edit(tiny_model, photo, SRC, [TGT], MasaCtrlParams(steps=4, skip=1, start_step=0, start_layer=0))
    off = masactrl_edit(tiny_model, photo, SRC, [TGT], MasaCtrlParams(steps=4, skip=1, start_step=99))
    assert off.stats["kv_swaps"] == 0 and on.stats["kv_swaps"] > 0
    assert not torch.allclose(on.latents, off.latents, atol=1e-3)


def test_masactrl_bad_inputs(tiny_model, photo):
    with pytest.raises(InputError):
        masactrl_edit(tiny_model, photo, SRC, [], MasaCtrlParams(steps=4))
    with pytest.raises(InputError):
        masactrl_edit(tiny_model, photo, SRC, [TGT], MasaCtrlParams(steps=4, skip=4))
    with pytest.raises(InputError):
        masactrl_edit(tiny_model, photo, "", [TGT], MasaCtrlParams(steps=4))


def test_start_step_scales_with_steps():
    assert MasaCtrlParams(steps=100).first_step() == 8  # MasaCtrl's 4 of 50
    assert MasaCtrlParams(steps=50).first_step() == 4
    assert MasaCtrlParams(steps=10).first_step() == 1  # a short CPU run is still controlled
    assert MasaCtrlParams(steps=10, start_step=5).first_step() == 5
    with pytest.raises(InputError):
        MasaCtrlParams(steps=10, start_step=-1).validate()
