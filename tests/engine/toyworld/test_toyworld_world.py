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
    assert cap.endswith("a red dog sitting facing left, on green grass")  # v2: markings go unsaid
    assert cap.split(",")[0] in ("close-up photo", "close-up picture", "wide photo", "wide picture")


@pytest.mark.parametrize("kind", KINDS)
def test_every_pose_renders_a_distinct_mask(kind: str) -> None:
    rng = np.random.default_rng(1)
    base = random_scene(rng, individual=Individual.random(rng, kind=kind))
    masks = [base.with_pose(p).render()[1] for p in POSES[kind]]
    for m in masks:
        assert m.shape == (64, 64) and 0.03 < m.mean() < 0.5  # a small sitting robot covers ~4%
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


def test_captions_name_only_colour_family_and_kind() -> None:
    """World v2: a caption says what a captioner of a real pet could ("a brown dog"), never markings."""
    from lipe_engine.toyworld.markings import COLOURS, nearest_family

    rng = np.random.default_rng(5)
    for _ in range(60):
        ind = Individual.random(rng)
        scene = random_scene(rng, individual=ind)
        words = set(scene.caption().split(", ")[1].split())  # the subject phrase (settings say "yellow sand")
        assert not words & {"striped", "spotted", "plain"}
        assert words & set(COLOURS) == {ind.colour}
        assert nearest_family(ind.body_rgb) == ind.colour  # the caption names the nearest family


def test_individuals_the_caption_cannot_tell_apart_still_differ() -> None:
    """Two random individuals with the same caption words differ in body colour and marking layout,
    and an individual's patches move with its body: each patch colour shows in every pose."""
    rng = np.random.default_rng(9)
    seen: dict[tuple[str, str], Individual] = {}
    pairs = []
    while len(pairs) < 3:
        ind = Individual.random(rng)
        key = (ind.kind, ind.colour)
        if key in seen:
            pairs.append((seen[key], ind))
        seen[key] = ind
    for a, b in pairs:
        assert a.description == b.description
        assert np.abs(a.body_rgb - b.body_rgb).max() > 1e-3
        assert a.marking_layout != b.marking_layout
    ind = pairs[0][0]
    base = random_scene(np.random.default_rng(3), individual=ind, facing="right", setting="on green grass")
    for pose in POSES[ind.kind]:
        img = np.asarray(base.with_pose(pose).render()[0], dtype=np.float32) / 255
        for patch in ind.marking_layout.patches:
            dist = np.abs(img - np.array(patch.rgb, dtype=np.float32)).max(axis=-1)
            assert (dist < 0.06).sum() >= 2, (pose, patch)


def test_body_colour_is_continuous_within_its_family() -> None:
    rng = np.random.default_rng(11)
    reds = [ind.body_rgb for ind in (Individual.random(rng) for _ in range(300)) if ind.colour == "red"]
    assert len(reds) >= 15
    assert np.ptp(np.stack(reds), axis=0).max() > 0.12  # not one fixed red
