"""A saved edit records the settings the engine used: the model's shipped ones included.

The toy model ships ``lipe_edit_defaults.json`` (record_downsample 4, mask_dilate 0, threshold 0.4):
the desktop used to save its Advanced box's widget values, so a saved edit did not say what made it.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lipe_engine import locations
from lipe_engine.edit_settings import EDIT_OPTIONS, SETTINGS
from lipe_engine.library import Library
from lipe_engine.models.edit_defaults import read_edit_defaults

pytestmark = pytest.mark.usefixtures("one_torch_thread")

TOY = locations.toy_model_dir()
SOURCE, TARGET, IDENTITY = "a photo of a sks dog sitting", "a photo of a sks dog standing", "a sks dog"


@pytest.fixture(scope="module")
def toy_model():
    from lipe_engine.models.loader import load_sdxl

    if not locations.toy_model_installed():
        pytest.skip("the toy model is not installed")
    return load_sdxl(str(TOY), device="cpu", dtype="fp32")


@pytest.fixture
def library(tmp_path: Path):
    import numpy as np

    from lipe_engine.toyworld import Individual, random_scene

    photos = tmp_path / "photos"
    photos.mkdir()
    scene = random_scene(np.random.default_rng(0), Individual.random(np.random.default_rng(1), kind="dog"))
    scene.render()[0].save(photos / "dog.png")
    lib = Library.open(tmp_path / "data")
    lib.add_folder(photos)
    lib.scan()
    yield lib
    lib.close()


def _as_saved(values: dict) -> dict:
    return json.loads(json.dumps(values))


def _check_recorded(edit, result) -> None:
    shipped = read_edit_defaults(TOY)
    assert shipped["record_downsample"] == 4 and shipped["mask_dilate"] == 0  # what this test is about
    assert edit.params == _as_saved(result.params_of(0))
    assert edit.params["record_downsample"] == 4 and edit.params["mask_dilate"] == 0
    assert edit.params["mask_threshold"] == pytest.approx(shipped["mask_threshold"])
    assert len(edit.mask_paths) == 2 and all(Path(p).is_file() for p in edit.mask_paths)


def test_engine_saves_the_settings_it_used(toy_model, library: Library) -> None:
    from lipe_engine.nima import edit_image, edit_params_for
    from lipe_engine.nima.outputs import save_edit_version

    photo = library.list_photos()[0]
    params = edit_params_for(str(TOY), steps=4, skip=1)
    result = edit_image(toy_model, photo.path, SOURCE, [TARGET], IDENTITY, params)
    assert result.params == params
    edit = save_edit_version(library, photo, result, 0, source_prompt=SOURCE)
    _check_recorded(edit, result)
    assert edit.params["steps"] == 4 and edit.target_prompt == TARGET


def test_desktop_saves_the_settings_the_engine_used(toy_model, library: Library) -> None:
    pytest.importorskip("PySide6")
    from lipe_desktop.edit.engine import EditRequest, ModelHolder, run_edit, save_version

    holder = ModelHolder()
    holder._model, holder._key = toy_model, (str(TOY), "cpu", "fp32", None)  # the module's one load
    photo = library.list_photos()[0]
    # the Advanced box's values: only the fields it shows (no record_downsample, no mask_dilate)
    shown = {name: read_edit_defaults(TOY).get(name, SETTINGS[name].default) for name in EDIT_OPTIONS}
    request = EditRequest(photo_path=Path(photo.path), model=str(TOY), source_prompt=SOURCE,
                          target_prompts=[TARGET], identity_prompt=IDENTITY,
                          params={**shown, "steps": 4, "skip": 1, "seeds": [None]}, device="cpu", precision="fp32")
    result = run_edit(holder, request, progress=lambda e: None, cancel=None)
    edit = save_version(library, photo, result, 0, request, None, None)
    _check_recorded(edit, result)
    assert edit.params["steps"] == 4 and holder.loads == 0
