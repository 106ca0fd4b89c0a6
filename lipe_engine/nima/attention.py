"""Attention processors that record NIMA's maps without changing what the UNet computes.

For the chosen layers (by default every transformer block at the UNet's coarsest attention
resolution: 32x32 for SDXL at 1024^2, i.e. down_blocks.2, mid_block and up_blocks.0) they:

- compute the layer output with the house's one instrumented ``AttnProcessor2_0``
  (``models.attention``: same ops, same order), so generation is bit-identical with and without
  recording; the recorder is its controller and returns the keys and values unchanged;
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

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import torch

from ..models.attention import AttentionLayer, InstrumentedAttnProcessor, processors_installed

RECORD_CHUNK_BYTES = 64 * 2**20  # fp32 scores of one block of query rows (see the module docstring)


def rows_per_block(heads: int, keys: int, chunk_bytes: int = RECORD_CHUNK_BYTES) -> int:
    """Query rows whose fp32 scores (heads x rows x keys) fit in ``chunk_bytes``; at least 1."""
    return max(1, int(chunk_bytes) // (4 * heads * keys))


def layer_downsample(name: str, n_down: int) -> int:
    """Downsampling factor (relative to the latent) of the UNet block an attention layer sits in."""
    return AttentionLayer.parse(name).downsample(n_down)


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
        self.installed_on: Any = None  # the UNet whose processors record into this recorder now
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

    def on_attention(self, proc: InstrumentedAttnProcessor, attn: Any, query: torch.Tensor, key: torch.Tensor,
                     value: torch.Tensor, head_dim: int, is_self: bool) -> tuple[torch.Tensor, torch.Tensor]:
        """The processors' hook: record this layer's map (when a store is set), change nothing."""
        if self.store is not None:
            self.record(attn, query, key, head_dim, proc.cross)
        return key, value

    @torch.no_grad()
    def record(self, attn: Any, query: torch.Tensor, key: torch.Tensor, head_dim: int, cross: bool) -> None:
        """Add this layer's head-averaged map (cross: the identity tokens' attention) to the store.

        Conditional row b goes to store row b % store.n: the inversion evaluates several steps of
        its one output in a call, and each of those rows is one more (layer, step) term."""
        store = self.store
        assert store is not None
        q = query[self.cond_slice]  # (n, heads, L, d)
        n, heads, length, _ = q.shape
        if n % store.n:
            raise ValueError(f"{n} conditional rows for a store of {store.n} outputs")
        if cross:
            keys_t = self.identity_keys(attn, head_dim)  # (1, heads, d, 77), fp32, pre-scaled
        else:
            k = key[self.cond_slice]
        n_keys = keys_t.shape[-1] if cross else k.shape[2]
        rows = rows_per_block(heads, n_keys, self.chunk_bytes)
        for b in range(n):
            if not cross:
                keys_t = k[b : b + 1].float().transpose(-1, -2) * head_dim**-0.5  # (1, heads, d, L)
            for r0 in range(0, length, rows):
                probs = torch.softmax(q[b : b + 1, :, r0 : r0 + rows].float() @ keys_t, dim=-1)
                if cross:
                    # attention the identity tokens receive, summed over those tokens, averaged over heads
                    store.ca_sum[b % store.n, r0 : r0 + rows] += (
                        probs.index_select(-1, self.token_index).sum(-1).mean(1)[0])
                else:
                    store.sa_sum[b % store.n, r0 : r0 + rows] += probs.mean(dim=1)[0]
                del probs
        if cross:
            store.ca_count += n // store.n
        else:
            store.sa_count += n // store.n


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

    Yields the downsample factor of the recorded layers. Re-entrant: inside a block that already
    installed them for this recorder and UNet, nothing is installed again (an edit installs them
    once for its inversion and its sampling; walking SDXL's 140 processors costs per install).
    """
    chosen, factor = recorded_layers(unet, downsample)
    if recorder.installed_on is unet:
        yield factor
        return
    layers = [AttentionLayer.parse(n) for n in chosen]
    self_layers = [a for a in layers if not a.cross]
    picked = [a for a in layers if a.cross] + self_layers[:: recorder.self_stride]
    with processors_installed(unet, {a.name: InstrumentedAttnProcessor(recorder, cross=a.cross) for a in picked}):
        recorder.installed_on = unet
        try:
            yield factor
        finally:
            recorder.installed_on = None
