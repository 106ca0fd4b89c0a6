"""One instrumented SDXL attention processor, the UNet's attention-layer index, and installing them.

:class:`InstrumentedAttnProcessor` computes a layer exactly like diffusers' ``AttnProcessor2_0``
(same ops, same order: the UNet's output is bit-identical when nothing is done) and calls its
controller once per call, between the projections and the attention itself. A controller sees the
layer's queries, keys and values and returns the keys and values to attend with: NIMA's recorder
(``nima.attention``) reads the maps and returns them unchanged; MasaCtrl's (``baselines.masactrl``)
hands the target branches the source branch's keys and values. Any later method plugs in the same way.

Layers are named by diffusers as ``{down_blocks.i|mid_block|up_blocks.i}.attentions.j.
transformer_blocks.k.{attn1|attn2}.processor`` (attn1: self-attention, attn2: cross-attention);
:func:`attention_layers` parses every name once and gives them in forward order.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Protocol

import torch
import torch.nn.functional as F

_LAYER = re.compile(
    r"^(?:(down_blocks|up_blocks)\.(\d+)|(mid_block))\.attentions\.(\d+)"
    r"\.transformer_blocks\.(\d+)\.(attn1|attn2)\.processor$"
)
_RANK = {"down_blocks": 0, "mid_block": 1, "up_blocks": 2}


@dataclass(frozen=True)
class AttentionLayer:
    """One attention processor slot of a UNet, parsed from its name."""

    name: str
    block: str  # "down_blocks", "mid_block" or "up_blocks"
    block_index: int  # 0 for the mid block
    attention: int
    transformer: int
    cross: bool  # attn2 (text) rather than attn1 (self)

    @classmethod
    def parse(cls, name: str) -> AttentionLayer:
        m = _LAYER.match(name)
        if m is None:
            raise ValueError(f"not a UNet attention layer name: {name}")
        block = m.group(1) or m.group(3)
        return cls(name, block, int(m.group(2) or 0), int(m.group(4)), int(m.group(5)), m.group(6) == "attn2")

    @property
    def forward_key(self) -> tuple[int, int, int, int, int]:
        """Sort key: the order the UNet's forward pass reaches this layer (attn1 before attn2)."""
        return (_RANK[self.block], self.block_index, self.attention, self.transformer, int(self.cross))

    @property
    def in_decoder(self) -> bool:
        return self.block == "up_blocks"

    def downsample(self, n_down: int) -> int:
        """Downsampling factor (relative to the latent) of the UNet block this layer sits in."""
        if self.block == "mid_block":
            return 2 ** (n_down - 1)
        if self.block == "down_blocks":
            return 2**self.block_index
        return 2 ** (n_down - 1 - self.block_index)


def attention_layers(unet: Any) -> list[AttentionLayer]:
    """Every attention layer of ``unet`` in forward order."""
    return sorted((AttentionLayer.parse(name) for name in unet.attn_processors), key=lambda a: a.forward_key)


def self_attention_layers(unet: Any) -> tuple[list[str], int]:
    """Self-attention processor names in forward order, and the index of the first decoder layer."""
    layers = [a for a in attention_layers(unet) if not a.cross]
    return [a.name for a in layers], sum(1 for a in layers if not a.in_decoder)


class AttentionController(Protocol):
    """What a method plugs into :class:`InstrumentedAttnProcessor`."""

    def on_attention(self, proc: InstrumentedAttnProcessor, attn: Any, query: torch.Tensor, key: torch.Tensor,
                     value: torch.Tensor, head_dim: int, is_self: bool) -> tuple[torch.Tensor, torch.Tensor]:
        """The keys and values the layer attends with (return ``key, value`` to change nothing)."""
        ...


class InstrumentedAttnProcessor:
    """``AttnProcessor2_0`` with a controller hook; ``layer`` (an index the controller gave) and
    ``cross`` tell the controller which layer is calling."""

    def __init__(self, controller: AttentionController, layer: int | None = None, cross: bool = False) -> None:
        self.controller = controller
        self.layer = layer
        self.cross = cross

    def __call__(
        self,
        attn: Any,
        hidden_states: torch.Tensor,
        encoder_hidden_states: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        temb: torch.Tensor | None = None,
        *args: Any,
        **kwargs: Any,
    ) -> torch.Tensor:
        residual = hidden_states
        if attn.spatial_norm is not None:
            hidden_states = attn.spatial_norm(hidden_states, temb)
        input_ndim = hidden_states.ndim
        if input_ndim == 4:
            batch_size, channel, height, width = hidden_states.shape
            hidden_states = hidden_states.view(batch_size, channel, height * width).transpose(1, 2)
        batch_size, sequence_length, _ = (
            hidden_states.shape if encoder_hidden_states is None else encoder_hidden_states.shape
        )
        if attention_mask is not None:
            attention_mask = attn.prepare_attention_mask(attention_mask, sequence_length, batch_size)
            attention_mask = attention_mask.view(batch_size, attn.heads, -1, attention_mask.shape[-1])
        if attn.group_norm is not None:
            hidden_states = attn.group_norm(hidden_states.transpose(1, 2)).transpose(1, 2)

        is_self = encoder_hidden_states is None
        query = attn.to_q(hidden_states)
        if encoder_hidden_states is None:
            encoder_hidden_states = hidden_states
        elif attn.norm_cross:
            encoder_hidden_states = attn.norm_encoder_hidden_states(encoder_hidden_states)
        key = attn.to_k(encoder_hidden_states)
        value = attn.to_v(encoder_hidden_states)
        inner_dim = key.shape[-1]
        head_dim = inner_dim // attn.heads
        query = query.view(batch_size, -1, attn.heads, head_dim).transpose(1, 2)
        key = key.view(batch_size, -1, attn.heads, head_dim).transpose(1, 2)
        value = value.view(batch_size, -1, attn.heads, head_dim).transpose(1, 2)
        if attn.norm_q is not None:
            query = attn.norm_q(query)
        if attn.norm_k is not None:
            key = attn.norm_k(key)

        key, value = self.controller.on_attention(self, attn, query, key, value, head_dim, is_self)

        hidden_states = F.scaled_dot_product_attention(
            query, key, value, attn_mask=attention_mask, dropout_p=0.0, is_causal=False
        )
        hidden_states = hidden_states.transpose(1, 2).reshape(batch_size, -1, attn.heads * head_dim)
        hidden_states = hidden_states.to(query.dtype)
        hidden_states = attn.to_out[0](hidden_states)
        hidden_states = attn.to_out[1](hidden_states)
        if input_ndim == 4:
            hidden_states = hidden_states.transpose(-1, -2).reshape(batch_size, channel, height, width)
        if attn.residual_connection:
            hidden_states = hidden_states + residual
        return hidden_states / attn.rescale_output_factor


@contextmanager
def processors_installed(unet: Any, replace: Mapping[str, Any]) -> Iterator[None]:
    """Install ``replace`` (layer name -> processor) for the block; every other layer keeps the
    processor the user had (xformers, sliced, fused...), and all are restored afterwards."""
    original = dict(unet.attn_processors)
    unet.set_attn_processor({**original, **replace})
    try:
        yield
    finally:
        unet.set_attn_processor(original)
