"""``with_phrase``: a suggestion changes only the action (or view, or expression) inside the source
prompt; the scene words the inversion was conditioned on stay, character for character."""

from __future__ import annotations

import numpy as np
import pytest

from lipe_engine.prompts.actions import ACTION, EXPRESSION, VIEW, phrase_kind, with_phrase

CAPTIONER = ("Medium shot, photo, facing the camera, a sks dog, sitting on its hind legs with its head tilted, "
             "short fluffy fur, on a wooden porch in warm evening light")


@pytest.mark.parametrize(
    ("prompt", "subject", "phrase", "expected"),
    [
        ("a photo of a sks dog sitting on grass", "sks dog", "lying down", "a photo of a sks dog lying down on grass"),
        ("close-up photo, a sks dog sitting facing left, on green grass", "sks dog", "standing",
         "close-up photo, a sks dog standing facing left, on green grass"),
        ("close-up photo, a sks dog sitting facing left, on green grass", "sks dog", "facing right",
         "close-up photo, a sks dog sitting facing right, on green grass"),
        ("close-up photo, a sks robot with arms up facing left, in a room", "sks robot", "standing",
         "close-up photo, a sks robot standing facing left, in a room"),
        ("wide picture, a sks robot standing facing right, on the beach", "sks robot", "with arms up",
         "wide picture, a sks robot with arms up facing right, on the beach"),
        (CAPTIONER, "sks dog", "standing",
         "Medium shot, photo, facing the camera, a sks dog, standing, short fluffy fur, on a wooden porch in warm "
         "evening light"),
        (CAPTIONER, "sks dog", "looking left", CAPTIONER.replace("facing the camera", "looking left")),
        ("A sks dog is running along the beach at sunset", "sks dog", "sitting",
         "A sks dog is sitting along the beach at sunset"),
        ("a sks dog lying down and resting on a rug with a ball", "sks dog", "jumping",
         "a sks dog jumping on a rug with a ball"),
        ("a sks person sitting on a bench, smiling", "sks person", "laughing", "a sks person sitting on a bench, laughing"),
        # no phrase of that kind yet: inserted after the subject (after its action for the others)
        ("a photo of a sks dog", "sks dog", "sitting", "a photo of a sks dog sitting"),
        ("a photo of a sks dog on the beach", "sks dog", "jumping", "a photo of a sks dog jumping on the beach"),
        ("a sks dog, short fur, on a porch", "sks dog", "lying down", "a sks dog lying down, short fur, on a porch"),
        ("a sks person sitting on a bench", "sks person", "smiling", "a sks person sitting and smiling on a bench"),
        ("a sks dog sitting on a rug", "sks dog", "looking up", "a sks dog sitting looking up on a rug"),
        ("", "sks dog", "sitting", "a photo of a sks dog sitting"),
    ],
)
def test_only_the_phrase_of_the_suggestions_kind_changes(prompt, subject, phrase, expected) -> None:
    assert with_phrase(prompt, subject, phrase) == expected


def test_phrase_kinds() -> None:
    assert [phrase_kind(p) for p in ("sitting", "lying down", "with arms up", "jumping")] == [ACTION] * 4
    assert [phrase_kind(p) for p in ("facing the camera", "looking left", "seen from behind")] == [VIEW] * 3
    assert [phrase_kind(p) for p in ("smiling", "with its mouth open")] == [EXPRESSION] * 2


def test_toy_world_captions_become_the_target_pose_caption() -> None:
    """On the toy world's own captions the result is exactly the world's caption of the target pose or
    facing (cases drawn from seeds before looking at any result)."""
    from lipe_engine.toyworld import POSES
    from lipe_engine.toyworld.identity import sks_caption
    from lipe_engine.toyworld.world import Individual, random_scene

    rng = np.random.default_rng(3)
    checked = 0
    for kind in POSES:
        ind = Individual.random(rng, kind=kind)
        for _ in range(6):
            scene = random_scene(rng, individual=ind)
            src = sks_caption(scene)
            for pose in POSES[kind]:
                assert with_phrase(src, f"sks {kind}", scene.action(pose)) == sks_caption(scene, pose), src
                checked += 1
            other = "left" if scene.facing == "right" else "right"
            assert with_phrase(src, f"sks {kind}", f"facing {other}") == sks_caption(scene, facing=other)
    assert checked >= 40
