"""The harder case of the toy ablation (``--unseen-pose``): the edit's target pose is in none of the
individual's reference photos, and every edit starts from another pose."""

import numpy as np

from lipe_engine.toyworld import POSES, Individual
from lipe_engine.toyworld.ablation import PRIOR_EDITING, prior_items
from lipe_engine.toyworld.identity import edit_cases, reference_scenes


def test_references_leave_out_the_held_pose_and_cycle_the_others():
    ind = Individual.random(np.random.default_rng(3), kind="dog")
    held = POSES["dog"][1]
    refs = reference_scenes(ind, 6, seed=4, without_pose=held)
    assert held not in {s.pose for s in refs}
    assert {s.pose for s in refs} == set(POSES["dog"]) - {held}
    # default: every pose shows up (the easy case the unseen-pose run is compared with)
    assert {s.pose for s in reference_scenes(ind, 6, seed=4)} == set(POSES["dog"])


def test_edit_cases_all_target_the_held_pose_from_other_poses():
    ind = Individual.random(np.random.default_rng(5), kind="robot")
    held = POSES["robot"][0]
    cases = edit_cases(ind, 5, seed=9, target_pose=held)
    assert [c.target_pose for c in cases] == [held] * 5
    assert all(c.scene.pose != held for c in cases)


def test_the_prior_never_sees_the_held_pose_in_its_captions():
    ind = Individual.random(np.random.default_rng(7), kind="bird")
    held = POSES["bird"][-1]
    instance, _ = prior_items(ind, PRIOR_EDITING, seed=0, n_class=2, without_pose=held)
    assert instance and all(f" {held} " not in caption for _, caption in instance)
