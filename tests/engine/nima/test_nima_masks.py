"""NIMA's identity mask (paper Eq. 1-3) on attention matrices small enough to work out by hand.

A 2x2 attention grid (L = 4 positions, numbered row by row). Every expected value below is written
out, not recomputed with the code under test, so a transposed self-attention matrix in Eq. 2
(columns instead of rows), a wrong lambda, a sum instead of a mean in Eq. 1 or an intersection in
Eq. 3 each fail a test.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from lipe_engine.models.attention import InstrumentedAttnProcessor
from lipe_engine.nima.attention import AttentionRecorder, AttentionStore
from lipe_engine.nima.masks import MaskParams, identity_mask, refined_map, union

# Self-attention averaged over layers and steps: row i is where position i looks (rows sum to 1).
# Position 1 looks only at 0; position 2 splits between itself and 3; 0 and 3 look at themselves.
# Not symmetric, so SA x M and SA^T x M differ.
SA = [[1.0, 0.0, 0.0, 0.0],
      [1.0, 0.0, 0.0, 0.0],
      [0.0, 0.0, 0.5, 0.5],
      [0.0, 0.0, 0.0, 1.0]]
# Two recorded (layer, step) terms of identity cross-attention; their mean M^1 = [0.4, 0, 0.2, 0]
CA_TERMS = [[0.6, 0.0, 0.1, 0.0],
            [0.2, 0.0, 0.3, 0.0]]


def hand_store() -> AttentionStore:
    store = AttentionStore(1, (2, 2), torch.device("cpu"))
    for term in CA_TERMS:
        store.ca_sum += torch.tensor([term])
        store.ca_count += 1
    # SA recorded in three terms whose mean is SA: a sum over terms divided by their count
    sa = torch.tensor([SA])
    for w in (0.5, 1.0, 1.5):
        store.sa_sum += w * sa
        store.sa_count += 1
    return store


def test_eq1_rough_mask_is_the_mean_over_layers_and_steps():
    m1 = refined_map(hand_store(), lam=0)
    assert m1.shape == (1, 2, 2)
    assert torch.allclose(m1[0], torch.tensor([[0.4, 0.0], [0.2, 0.0]]))


def test_eq2_multiplies_by_the_self_attention_rows():
    # M^2_i = sum_j SA_ij M^1_j: [0.4, 0.4, 0.5*0.2 + 0.5*0, 0]
    m2 = refined_map(hand_store(), lam=1)
    assert torch.allclose(m2[0], torch.tensor([[0.4, 0.4], [0.1, 0.0]]))
    # the transposed reading (SA^T x M^1) would give [0.4, 0, 0.1, 0.1]: position 1 empty, 3 filled
    assert m2[0, 0, 1] > 0.3 and m2[0, 1, 1] == 0.0


def test_eq2_lambda_is_the_power_of_self_attention():
    # SA^2 x M^1 = SA x [0.4, 0.4, 0.1, 0] = [0.4, 0.4, 0.05, 0]
    m2 = refined_map(hand_store(), lam=2)
    assert torch.allclose(m2[0], torch.tensor([[0.4, 0.4], [0.05, 0.0]]))
    # SA^3: position 2 halves again
    assert torch.allclose(refined_map(hand_store(), lam=3)[0, 1, 0], torch.tensor(0.025))


def test_mask_thresholds_the_min_max_normalised_map():
    store = hand_store()
    plain = MaskParams(lam=1, threshold=0.2, dilate=0)
    # M^2 = [0.4, 0.4, 0.1, 0] -> min-max [1, 1, 0.25, 0] -> >= 0.2: [1, 1, 1, 0]
    m = identity_mask(store, (2, 2), plain)
    assert m.shape == (1, 1, 2, 2)
    assert m[0, 0].tolist() == [[1.0, 1.0], [1.0, 0.0]]
    # lambda 2: [1, 1, 0.125, 0] -> position 2 drops out
    m_l2 = identity_mask(store, (2, 2), MaskParams(lam=2, threshold=0.2, dilate=0))
    assert m_l2[0, 0].tolist() == [[1.0, 1.0], [0.0, 0.0]]
    # without refinement only the cross-attention peaks: [1, 0, 0.5, 0]
    m_l0 = identity_mask(store, (2, 2), MaskParams(lam=0, threshold=0.2, dilate=0))
    assert m_l0[0, 0].tolist() == [[1.0, 0.0], [1.0, 0.0]]
    # soft ramp of width 0.5 around 0.2: (v - 0.2) / 0.5 + 0.5, clipped -> [1, 1, 0.6, 0.1]
    soft = identity_mask(store, (2, 2), MaskParams(lam=1, threshold=0.2, softness=0.5, dilate=0))
    assert torch.allclose(soft[0, 0], torch.tensor([[1.0, 1.0], [0.6, 0.1]]))


def test_eq3_union_is_the_elementwise_maximum():
    source = torch.tensor([[[[1.0, 0.0], [0.25, 0.0]]]])
    target = torch.tensor([[[[0.0, 0.0], [0.75, 1.0]]]])
    assert union(source, target)[0, 0].tolist() == [[1.0, 0.0], [0.75, 1.0]]


def test_masks_need_recorded_attention():
    empty = AttentionStore(1, (2, 2), torch.device("cpu"))
    with pytest.raises(RuntimeError, match="identity attention"):
        refined_map(empty, 1)
    empty.ca_sum += 1.0
    empty.ca_count = 1
    with pytest.raises(RuntimeError, match="self-attention"):
        refined_map(empty, 1)
    assert refined_map(empty, 0).shape == (1, 2, 2)  # lambda 0 needs no self-attention


def _attention(dim: int, cross_dim: int | None = None):
    from diffusers.models.attention_processor import Attention

    attn = Attention(query_dim=dim, cross_attention_dim=cross_dim, heads=1, dim_head=dim, bias=False)
    with torch.no_grad():
        attn.to_q.weight.copy_(torch.eye(dim))
        attn.to_k.weight.copy_(torch.eye(dim) if cross_dim is None else torch.eye(dim, cross_dim))
    return attn


def test_recorded_self_attention_rows_are_queries():
    """SA_ij (what Eq. 2 multiplies with) is how much query i attends to key j: with q = k = x the
    logits x x^T / sqrt(d) are symmetric, but the softmax over keys (rows) is not."""
    # d = 2, scale 1/sqrt(2); x_0 = [2, 0], x_1 = [1, 0], x_2 = x_3 = [0, 0]
    # logits row 0: [4, 2, 0, 0] / sqrt 2; row 1: [2, 1, 0, 0] / sqrt 2; rows 2, 3: zeros
    attn = _attention(2)
    x = torch.tensor([[[2.0, 0.0], [1.0, 0.0], [0.0, 0.0], [0.0, 0.0]]])
    rec = AttentionRecorder(torch.zeros(1, 77, 2), [1])
    rec.store = AttentionStore(1, (2, 2), torch.device("cpu"))
    proc = InstrumentedAttnProcessor(rec, cross=False)
    proc(attn, x)
    sa = (rec.store.sa_sum / rec.store.sa_count)[0]
    r2 = 2**0.5
    row0 = np.exp(np.array([4, 2, 0, 0]) / r2)
    row1 = np.exp(np.array([2, 1, 0, 0]) / r2)
    expected = np.stack([row0 / row0.sum(), row1 / row1.sum(), np.full(4, 0.25), np.full(4, 0.25)])
    assert np.allclose(sa.numpy(), expected, atol=1e-6)
    assert not np.allclose(expected, expected.T, atol=1e-3)  # the check above sees a transpose


def test_recorded_identity_attention_sums_the_identity_tokens():
    """CA^e at a position: the softmax over the identity prompt's 77 tokens, summed over the
    identity words' columns (here tokens 1 and 2), from the layer's own queries."""
    attn = _attention(2, cross_dim=2)
    embeds = torch.zeros(1, 77, 2)
    embeds[0, 1] = torch.tensor([1.0, 0.0])  # "sks"
    embeds[0, 2] = torch.tensor([0.0, 1.0])  # "dog"
    rec = AttentionRecorder(embeds, [1, 2])
    rec.store = AttentionStore(1, (2, 2), torch.device("cpu"))
    proc = InstrumentedAttnProcessor(rec, cross=True)
    x = torch.tensor([[[3.0, 0.0], [0.0, 3.0], [0.0, 0.0], [-3.0, -3.0]]])
    text = torch.zeros(1, 77, 2)  # the prompt the layer renders; not what the identity branch reads
    proc(attn, x, encoder_hidden_states=text)
    ca = (rec.store.ca_sum / rec.store.ca_count)[0].numpy()
    r2 = 2**0.5
    e = np.exp(3 / r2)
    # position 0: logits 3/sqrt2 on "sks", 0 on "dog" and on the 75 other tokens
    assert ca[0] == pytest.approx((e + 1) / (e + 76), abs=1e-6)
    assert ca[1] == pytest.approx((e + 1) / (e + 76), abs=1e-6)
    assert ca[2] == pytest.approx(2 / 77, abs=1e-6)
    assert ca[3] == pytest.approx(2 * e**-1 / (2 * e**-1 + 75), abs=1e-6)


def test_edit_uses_the_union_of_source_and_target_masks(tiny_model):
    """In an edit the blended region is M^s U M^e_t exactly (not M^e alone, not the intersection)."""
    from PIL import Image

    from lipe_engine.nima import EditParams, edit_image

    rng = np.random.RandomState(0)
    img = Image.fromarray((rng.rand(8, 8, 3) * 255).astype(np.uint8)).resize((64, 64))
    params = EditParams(steps=6, skip=1, mask_threshold=0.8, mask_dilate=0)
    res = edit_image(tiny_model, img, "a photo of a sks dog sitting", "a photo of a sks dog standing",
                     "a sks dog", params)
    src, tgt, uni = res.source_mask, res.target_masks[0], res.union_masks[0]
    assert np.array_equal(uni, np.maximum(src, tgt))
    assert np.array_equal(res.mask_history[0][-1], uni)
    # neither mask is empty or the whole photo, and they differ, so max, min and either one alone differ
    assert 0 < src.mean() < 1 and 0 < tgt.mean() < 1 and not np.array_equal(src, tgt)
