"""The procedural toy world: deterministic, captions in the tokenizer vocabulary, masks match sprites."""

from __future__ import annotations

import numpy as np
import pytest

from lipe_engine.toyworld import KINDS, POSES, SETTINGS, WORDS, Individual, random_scene, scene_from_seed


def test_scene_is_deterministic_from_seed() -> None:
    a, b = scene_from_seed(3), scene_from_seed(3)
    assert a == b
    ia, ma = a.render()
    ib, mb = b.render()
    assert np.array_equal(np.asarray(ia), np.asarray(ib)) and np.array_equal(ma, mb)
    assert scene_from_seed(4) != a


def test_caption_words_are_all_in_the_vocabulary() -> None:
    vocab = set(WORDS)
    for seed in range(200):
        caption = scene_from_seed(seed).caption()
        words = caption.replace(",", " ").replace("-", " ").split()
        assert set(words) <= vocab, caption
    assert "sks" in vocab


def test_caption_style() -> None:
    rng = np.random.default_rng(0)
    ind = Individual("dog", "red", "striped", "white", "black")
    scene = random_scene(rng, individual=ind, pose="sitting", facing="left", setting="on green grass")
    cap = scene.caption()
    assert cap.endswith("a red striped dog sitting facing left, on green grass")
    assert cap.split(",")[0] in ("close-up photo", "close-up picture", "wide photo", "wide picture")


@pytest.mark.parametrize("kind", KINDS)
def test_every_pose_renders_a_distinct_mask(kind: str) -> None:
    rng = np.random.default_rng(1)
    base = random_scene(rng, individual=Individual.random(rng, kind=kind))
    masks = [base.with_pose(p).render()[1] for p in POSES[kind]]
    for m in masks:
        assert m.shape == (64, 64) and 0.04 < m.mean() < 0.5
    for i in range(len(masks)):
        for j in range(i + 1, len(masks)):
            inter = ((masks[i] > 0.5) & (masks[j] > 0.5)).sum()
            union = ((masks[i] > 0.5) | (masks[j] > 0.5)).sum()
            assert inter / union < 0.8  # poses really differ in shape


def test_mask_covers_the_sprite_pixels() -> None:
    scene = scene_from_seed(11)
    img, mask = scene.render()
    bg = scene.with_pose(scene.pose)  # same scene
    from lipe_engine.toyworld import render_background

    background, _ = render_background(bg.setting, bg.bg_seed)
    diff = np.abs(np.asarray(img, dtype=np.float32) / 255 - background).max(axis=-1)
    assert diff[mask < 0.01].max() < 0.01  # outside the mask the photo is the background
    assert (diff[mask > 0.99] > 0.02).mean() > 0.8  # inside, the sprite differs from it


def test_every_setting_renders() -> None:
    rng = np.random.default_rng(2)
    for setting in SETTINGS:
        img, _ = random_scene(rng, setting=setting).render()
        assert img.size == (64, 64)
