"""Attention processors that record NIMA's maps without changing what the UNet computes.

For the chosen layers (by default every transformer block at the UNet's coarsest attention
resolution: 32x32 for SDXL at 1024^2, i.e. down_blocks.2, mid_block and up_blocks.0) they:

- compute the layer output exactly like diffusers' ``AttnProcessor2_0`` (same ops, same order), so
  generation is bit-identical with and without recording;
- for cross-attention, add the *identity branch* of the paper (Fig. 4): the layer's own queries
  attend to extra keys projected from the identity-aware prompt P^e ("a sks dog") with the layer's
  ``to_k``. Only its attention map is kept (summed over the identity tokens); its values never
  enter the output. No extra UNet pass is made;
- for self-attention, compute softmax(q k^T / sqrt(d)) in fp32 (every ``self_stride``-th layer).

Maps are averaged over heads and added to running sums (Eq. 1 and Eq. 2 average over layers and
steps), never stored per step and layer.

Memory bound. A map is computed one sample and one block of query rows at a time, the block sized
so that its fp32 scores (heads x rows x keys x 4 bytes) fit in ``chunk_bytes`` (default
:data:`RECORD_CHUNK_BYTES`, 64 MiB; at least one row per block). Recording one layer therefore
holds at most about 2 x ``chunk_bytes`` (scores and their softmax) + ``chunk_bytes`` / heads (the
head mean) + one sample's fp32 keys (heads x keys x d x 4 bytes) beyond the running sums, whatever
the resolution: about 134 MiB for SDXL's 64x64-token layers (``record_downsample=2`` at 1024 px),
where one block would take 1.3 GiB per output and layer. The running sum ``sa_sum`` itself is
n x L x L x 4 bytes (64 MiB per output at 64x64 tokens, 4 MiB at 32x32).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import torch
import torch.nn.functional as F

_BLOCK = re.compile(r"^(down_blocks|up_blocks)\.(\d+)\.|^(mid_block)\.")

RECORD_CHUNK_BYTES = 64 * 2**20  # fp32 scores of one block of query rows (see the module docstring)


def rows_per_block(heads: int, keys: int, chunk_bytes: int = RECORD_CHUNK_BYTES) -> int:
    """Query rows whose fp32 scores (heads x rows x keys) fit in ``chunk_bytes``; at least 1."""
    return max(1, int(chunk_bytes) // (4 * heads * keys))


def layer_downsample(name: str, n_down: int) -> int:
    """Downsampling factor (relative to the latent) of the UNet block an attention layer sits in."""
    m = _BLOCK.match(name)
    if m is None:
        raise ValueError(f"not a UNet attention layer name: {name}")
    if m.group(3):
        return 2 ** (n_down - 1)
    idx = int(m.group(2))
    return 2**idx if m.group(1) == "down_blocks" else 2 ** (n_down - 1 - idx)


class AttentionStore:
    """Running sums of identity cross-attention and self-attention for ``n`` samples.

    ``ca_sum``: (n, L) sum over layers and steps of the head-averaged attention the identity tokens
    receive; ``sa_sum``: (n, L, L) sum of head-averaged self-attention; L = h*w at the recorded
    resolution. ``ca_count``/``sa_count`` count the (layer, step) terms added.
    """

    def __init__(self, n: int, hw: tuple[int, int], device: torch.device) -> None:
        self.n = n
        self.hw = hw
        seq = hw[0] * hw[1]
        self.ca_sum = torch.zeros(n, seq, dtype=torch.float32, device=device)
        self.sa_sum = torch.zeros(n, seq, seq, dtype=torch.float32, device=device)
        self.ca_count = 0
        self.sa_count = 0

    def clone(self) -> AttentionStore:
        other = AttentionStore.__new__(AttentionStore)
        other.n, other.hw = self.n, self.hw
        other.ca_sum, other.sa_sum = self.ca_sum.clone(), self.sa_sum.clone()
        other.ca_count, other.sa_count = self.ca_count, self.sa_count
        return other

    def state_dict(self) -> dict[str, Any]:
        return {"hw": self.hw, "ca_sum": self.ca_sum.cpu(), "sa_sum": self.sa_sum.cpu(),
                "ca_count": self.ca_count, "sa_count": self.sa_count}

    @classmethod
    def from_state_dict(cls, state: dict[str, Any], device: torch.device) -> AttentionStore:
        store = cls.__new__(cls)
        store.hw = tuple(state["hw"])  # type: ignore[assignment]
        store.ca_sum = state["ca_sum"].to(device)
        store.sa_sum = state["sa_sum"].to(device)
        store.n = store.ca_sum.shape[0]
        store.ca_count, store.sa_count = int(state["ca_count"]), int(state["sa_count"])
        return store


class AttentionRecorder:
    """Shared state of the recording processors for one UNet.

    The caller sets ``store`` (where maps go, or None to record nothing) and ``cond_slice``
    (which rows of the CFG batch are the conditional ones whose maps count).
    """

    def __init__(self, identity_embeds: torch.Tensor, token_index: list[int], self_stride: int = 1,
                 chunk_bytes: int = RECORD_CHUNK_BYTES) -> None:
        self.chunk_bytes = int(chunk_bytes)
        self.identity_embeds = identity_embeds  # (1, 77, D) from both text encoders
        self.token_index = torch.tensor(token_index, dtype=torch.long, device=identity_embeds.device)
        # Self-attention maps are taken from every ``self_stride``-th recorded layer: they are the
        # expensive part of recording (an L x L softmax per head), and their mean over many layers
        # (60 blocks at SDXL's 32x32) changes little when every other layer is left out.
        self.self_stride = max(1, int(self_stride))
        self.store: AttentionStore | None = None
        self.cond_slice = slice(None)
        self._identity_keys: dict[int, torch.Tensor] = {}

    def identity_keys(self, attn: Any, head_dim: int) -> torch.Tensor:
        """to_k(P^e) for this layer as (1, heads, d, 77), fp32, pre-scaled by 1/sqrt(d): constant
        during an edit, so computed once per layer."""
        key = self._identity_keys.get(id(attn))
        if key is None:
            ehs = self.identity_embeds.to(attn.to_k.weight.dtype)
            if attn.norm_cross:
                ehs = attn.norm_encoder_hidden_states(ehs)
            k = attn.to_k(ehs).view(1, -1, attn.heads, head_dim).transpose(1, 2)
            if attn.norm_k is not None:
                k = attn.norm_k(k)
            key = (k.float() * head_dim**-0.5).transpose(-1, -2).contiguous()
            self._identity_keys[id(attn)] = key
        return key


class RecordingAttnProcessor:
    """``AttnProcessor2_0`` plus map recording; ``cross`` tells which kind of layer it serves."""

    def __init__(self, recorder: AttentionRecorder, cross: bool) -> None:
        self.recorder = recorder
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

        if self.recorder.store is not None:
            self._record(attn, query, key, head_dim)

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

    @torch.no_grad()
    def _record(self, attn: Any, query: torch.Tensor, key: torch.Tensor, head_dim: int) -> None:
        rec = self.recorder
        store = rec.store
        assert store is not None
        q = query[rec.cond_slice]  # (n, heads, L, d)
        n, heads, length, _ = q.shape
        if self.cross:
            keys_t = rec.identity_keys(attn, head_dim)  # (1, heads, d, 77), fp32, pre-scaled
        else:
            k = key[rec.cond_slice]
        n_keys = keys_t.shape[-1] if self.cross else k.shape[2]
        rows = rows_per_block(heads, n_keys, rec.chunk_bytes)
        for b in range(n):
            if not self.cross:
                keys_t = k[b : b + 1].float().transpose(-1, -2) * head_dim**-0.5  # (1, heads, d, L)
            for r0 in range(0, length, rows):
                probs = torch.softmax(q[b : b + 1, :, r0 : r0 + rows].float() @ keys_t, dim=-1)
                if self.cross:
                    # attention the identity tokens receive, summed over those tokens, averaged over heads
                    store.ca_sum[b, r0 : r0 + rows] += probs.index_select(-1, rec.token_index).sum(-1).mean(1)[0]
                else:
                    store.sa_sum[b, r0 : r0 + rows] += probs.mean(dim=1)[0]
                del probs
        if self.cross:
            store.ca_count += 1
        else:
            store.sa_count += 1


def recorded_layers(unet: Any, downsample: int | None = None) -> tuple[list[str], int]:
    """Names of the attention processors at the recorded resolution, and its downsample factor.

    ``downsample=None`` picks the coarsest resolution that has attention (SDXL: latent/4).
    """
    n_down = len(unet.config.down_block_types)
    names = list(unet.attn_processors.keys())
    factors = {name: layer_downsample(name, n_down) for name in names}
    if not factors:
        raise ValueError("this UNet has no attention layers")
    target = downsample if downsample is not None else max(factors.values())
    chosen = [n for n, f in factors.items() if f == target]
    if not chosen:
        raise ValueError(f"no attention layers at downsample {target}; available: {sorted(set(factors.values()))}")
    return chosen, target


@contextmanager
def recording(unet: Any, recorder: AttentionRecorder, downsample: int | None = None) -> Iterator[int]:
    """Install recording processors on the chosen layers; restore the originals afterwards.

    Yields the downsample factor of the recorded layers.
    """
    original = dict(unet.attn_processors)
    chosen, factor = recorded_layers(unet, downsample)
    procs = dict(original)
    self_layers = [n for n in chosen if ".attn2." not in n]
    for name in [n for n in chosen if ".attn2." in n] + self_layers[:: recorder.self_stride]:
        procs[name] = RecordingAttnProcessor(recorder, cross=".attn2." in name)
    unet.set_attn_processor(procs)
    try:
        yield factor
    finally:
        unet.set_attn_processor(original)
