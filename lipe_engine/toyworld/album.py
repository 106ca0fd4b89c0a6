"""A ready-made album of toy-world photos, so the method can be seen working on a CPU.

``add_toy_album`` writes toy-world photos (256 px, the 64-px scenes scaled up, as the screenshots
use) into a new folder, adds it to the library, and creates one identity, a sprite dog, with five
reference photos, three target photos and the toy world's own captions: queue its training with the
toy recipe and edit a target photo, with nothing to download and no GPU.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image

from ..errors import InputError
from .identity import RARE_TOKEN, sks_caption
from .sprites import POSES
from .world import Individual, random_scene, scene_from_seed

if TYPE_CHECKING:
    from ..library import Library
    from ..library.records import Identity

TOY_ALBUM_NAME = "Toy world photos"
SUBJECT_NAME = "Rex (toy dog)"


@dataclass(frozen=True)
class ToyPhoto:
    path: Path
    caption: str  # the toy world's ground truth; the subject's name as "sks dog"
    subject: bool  # shows the album's one subject (the identity)


def make_toy_photos(folder: Path, n: int = 24, subject_count: int = 8, seed: int = 7) -> list[ToyPhoto]:
    """``n`` toy-world photos in ``folder`` (a new or empty folder); the first ``subject_count`` show
    one dog in every pose, the rest other sprites."""
    folder = Path(folder)
    if folder.exists() and any(folder.iterdir()):
        raise InputError(f"'{folder}' is not empty", "choose a new folder for the toy photos")
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    rex = Individual.random(rng, kind="dog")
    poses = POSES["dog"]
    out = []
    for i in range(n):
        subject = i < subject_count
        scene = random_scene(rng, individual=rex, pose=poses[i % len(poses)]) if subject else scene_from_seed(1000 + i)
        img, _mask = scene.render()
        path = folder / f"toy_{i:03d}.png"  # lossless: the toy model knows flat sprite colours
        img.resize((256, 256), Image.Resampling.NEAREST).save(path)
        out.append(ToyPhoto(path, sks_caption(scene) if subject else scene.caption(), subject))
    return out


def add_toy_album(lib: Library, folder: Path, n: int = 24, progress=None, cancel=None) -> Identity:  # noqa: ANN001
    """Write the toy photos into ``folder``, add it to the library and scan it, and create the
    subject's identity with 5 references, 3 targets and their captions; returns the identity."""
    photos = make_toy_photos(folder, n)
    record = lib.add_folder(folder)
    lib.scan([record.id], progress=progress, cancel=cancel)
    subject = [p for p in photos if p.subject]
    by_path = {Path(p.path).resolve(): p for p in lib.list_photos()}
    found = [by_path[p.path.resolve()] for p in subject]
    names = {i.name for i in lib.list_identities()}
    name = next(f"{SUBJECT_NAME}{f' {k}' if k else ''}" for k in range(100) if f"{SUBJECT_NAME}{f' {k}' if k else ''}" not in names)
    ident = lib.create_identity(name, "dog")
    lib.add_identity_photos(ident, found[:5], role="reference")
    lib.add_identity_photos(ident, found[5:], role="target")
    for photo, toy in zip(found, subject, strict=True):
        caption = toy.caption.replace(f"a {RARE_TOKEN} dog", f"a {ident.token} dog")
        lib.set_caption(photo, caption, identity=ident.id, by_user=True)
    return ident
