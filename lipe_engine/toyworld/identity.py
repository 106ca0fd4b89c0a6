"""Identity sets in the toy world: reference photos of one individual, class photos, edit cases.

Captions for the LoRA prior follow LIPE's editing-oriented captions: the ground-truth caption with
the individual's description ("red dog") replaced by the rare token and class ("sks dog"),
so the markings bind to "sks" while pose, view and setting stay described in words.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .sprites import POSES
from .world import Individual, Scene, random_scene

RARE_TOKEN = "sks"


def sks_caption(scene: Scene, pose: str | None = None, facing: str | None = None) -> str:
    """The scene's caption with the identity named "sks <kind>" (optionally another pose/facing)."""
    s = scene.with_pose(pose or scene.pose, facing or scene.facing)
    return (f"{s.perspective} {s.style}, a {RARE_TOKEN} {s.individual.kind} {s.action()} facing {s.facing}, "
            f"{s.setting}")


def plain_caption(scene: Scene, pose: str | None = None, facing: str | None = None) -> str:
    """The ground-truth caption (the general prior's prompt), optionally for another pose/facing."""
    return scene.with_pose(pose or scene.pose, facing or scene.facing).caption()


def identity_prompt(individual: Individual) -> str:
    return f"a {RARE_TOKEN} {individual.kind}"


def reference_scenes(individual: Individual, n: int = 4, seed: int = 0, without_pose: str | None = None) -> list[Scene]:
    """n photos of one individual in varied poses, views and settings (poses cycle so all appear, but
    ``without_pose``: the harder case where the edit's target pose is in none of the references)."""
    rng = np.random.default_rng(seed)
    poses = [p for p in POSES[individual.kind] if p != without_pose]
    return [random_scene(rng, individual=individual, pose=poses[i % len(poses)]) for i in range(n)]


def class_scenes(kind: str, n: int, seed: int = 1) -> list[Scene]:
    """Photos of other individuals of the same class: LIPE's regularization images, captioned."""
    rng = np.random.default_rng(seed)
    return [random_scene(rng, individual=Individual.random(rng, kind=kind)) for _ in range(n)]


@dataclass(frozen=True)
class EditCase:
    """Edit the target photo of an individual from its pose to ``target_pose``."""

    scene: Scene
    target_pose: str

    def prompts(self, personalized: bool = True) -> tuple[str, str, str]:
        """(source prompt, target prompt, identity prompt) with or without the learned prior."""
        if personalized:
            return (sks_caption(self.scene), sks_caption(self.scene, self.target_pose),
                    identity_prompt(self.scene.individual))
        ind = self.scene.individual
        return (plain_caption(self.scene), plain_caption(self.scene, self.target_pose),
                f"a {ind.description}")


def edit_cases(individual: Individual, n: int, seed: int = 100, target_pose: str | None = None) -> list[EditCase]:
    """n target photos of the individual (not among its references), each with another target pose
    (``target_pose``: always that one, from photos in the other poses)."""
    rng = np.random.default_rng(seed)
    poses = [p for p in POSES[individual.kind] if p != target_pose]
    cases = []
    for i in range(n):
        scene = random_scene(rng, individual=individual, pose=poses[i % len(poses)])
        others = [p for p in poses if p != scene.pose]
        target = target_pose if target_pose is not None else others[int(rng.integers(len(others)))]
        cases.append(EditCase(scene, target))
    return cases
