"""One instrumented attention processor: NIMA recording and MasaCtrl plug into it as controllers,
and both leave the UNet output unchanged when they do nothing, through the same code."""

from __future__ import annotations

import pytest
import torch

from lipe_engine.baselines.masactrl import MasaController, mutual_self_attention
from lipe_engine.models.attention import (
    AttentionLayer,
    InstrumentedAttnProcessor,
    attention_layers,
    self_attention_layers,
)
from lipe_engine.nima.attention import AttentionRecorder, AttentionStore, recorded_layers, recording

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _unet_output(unet, x, t, text, added):  # type: ignore[no-untyped-def]
    with torch.no_grad():
        return unet(x, t, encoder_hidden_states=text, added_cond_kwargs=added).sample


@pytest.fixture
def inputs(tiny_model):  # type: ignore[no-untyped-def]
    unet = tiny_model.pipe.unet
    g = torch.Generator().manual_seed(0)
    x = torch.randn(2, unet.config.in_channels, 16, 16, generator=g)
    text = torch.randn(2, 77, unet.config.cross_attention_dim, generator=g)
    pooled_dim = unet.add_embedding.linear_1.in_features - 6 * unet.config.addition_time_embed_dim
    added = {"text_embeds": torch.randn(2, pooled_dim, generator=g), "time_ids": torch.tensor([[128.0, 128, 0, 0, 128, 128]] * 2)}
    return unet, x, torch.tensor(501), text, added


def _installed(unet) -> list:  # type: ignore[no-untyped-def]
    return [p for p in unet.attn_processors.values() if isinstance(p, InstrumentedAttnProcessor)]


def test_masactrl_and_nima_recording_leave_the_unet_unchanged_when_inactive(inputs) -> None:
    unet, x, t, text, added = inputs
    plain = _unet_output(unet, x, t, text, added)
    recorder = AttentionRecorder(torch.randn(1, 77, unet.config.cross_attention_dim), [1, 2])
    with recording(unet, recorder) as _factor:
        procs = _installed(unet)
        assert procs and all(type(p).__call__ is InstrumentedAttnProcessor.__call__ for p in procs)
        idle = _unet_output(unet, x, t, text, added)  # no store: records nothing
        recorder.store = store = AttentionStore(2, (8, 8), torch.device("cpu"))
        recorded = _unet_output(unet, x, t, text, added)
        recorder.store = None
    assert store.ca_count > 0 and store.sa_count > 0  # it did record, reading only
    names, first_decoder = self_attention_layers(unet)
    ctl = MasaController(start_step=5, layers=frozenset(range(len(names))), step=0, n=2)
    with mutual_self_attention(unet, ctl):
        procs = _installed(unet)
        assert len(procs) == len(names) and all(type(p).__call__ is InstrumentedAttnProcessor.__call__ for p in procs)
        masa_idle = _unet_output(unet, x, t, text, added)  # before start_step: inactive
        ctl.step = 5
        masa_active = _unet_output(unet, x, t, text, added)
    assert ctl.calls > 0
    assert torch.equal(idle, plain) and torch.equal(recorded, plain) and torch.equal(masa_idle, plain)
    assert not torch.allclose(masa_active, plain, atol=1e-4)  # the hook is live when active
    assert not _installed(unet)  # the user's processors are back


def test_one_layer_index_for_both(tiny_model) -> None:
    unet = tiny_model.pipe.unet
    layers = attention_layers(unet)
    assert {a.name for a in layers} == set(unet.attn_processors)
    assert [a.forward_key for a in layers] == sorted(a.forward_key for a in layers)
    names, first_decoder = self_attention_layers(unet)
    assert names == [a.name for a in layers if not a.cross]
    chosen, factor = recorded_layers(unet)
    n_down = len(unet.config.down_block_types)
    assert all(AttentionLayer.parse(n).downsample(n_down) == factor for n in chosen)
    mid = AttentionLayer.parse("mid_block.attentions.0.transformer_blocks.3.attn2.processor")
    assert (mid.block, mid.transformer, mid.cross, mid.downsample(3)) == ("mid_block", 3, True, 4)
    with pytest.raises(ValueError, match="not a UNet attention layer"):
        AttentionLayer.parse("vae.decoder.attn")
