"""Versions that can be replayed, and files that say what they are (tiny SDXL model on CPU).

``lipe edit PHOTO --identity Rex --to ...`` with no prompt typed saves versions beside the original
with a recipe; ``lipe versions redo`` makes the same pixels again; deleting a version deletes only
it; a reader (Pillow) sees IPTC DigitalSourceType, the recipe, the original's date taken, an upright
orientation and the original's ICC profile.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import ExifTags, Image, ImageCms

from lipe_engine.cli import main
from lipe_engine.editing.provenance import DIGITAL_SOURCE_TYPE, read_provenance
from lipe_engine.errors import InputError
from lipe_engine.library import Library

pytestmark = pytest.mark.usefixtures("one_torch_thread")
FAST = ["--steps", "4", "--skip", "1", "--quiet"]


def _sha(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _rotated_photo(path: Path) -> bytes:
    """A 64x48 JPEG stored sideways (EXIF orientation 6), with a date taken and an sRGB profile."""
    rng = np.random.RandomState(0)
    img = Image.fromarray((rng.rand(6, 8, 3) * 255).astype(np.uint8)).resize((48, 64))
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = 6
    exif.get_ifd(ExifTags.IFD.Exif)[ExifTags.Base.DateTimeOriginal] = "2019:07:14 10:11:12"
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    img.save(path, exif=exif.tobytes(), icc_profile=icc, quality=95)
    return icc


@pytest.fixture(scope="module")
def world(tmp_path_factory, tiny_sdxl_dir: Path):
    """A library with Rex, a captioned photo stored sideways, and two versions made by the CLI."""
    from lipe_engine.testing.libraries import make_library

    root = tmp_path_factory.mktemp("versions")
    data, folder = make_library(root, 3)
    icc = _rotated_photo(folder / "rex_sideways.jpg")
    with Library.open(data) as lib:
        lib.scan()
        lib.set_setting("sdxl_model", str(tiny_sdxl_dir))
        rex = lib.create_identity("Rex", "dog")
        lib.add_identity_photos(rex, lib.list_photos()[:2])
        photo = lib.get_photo(folder / "rex_sideways.jpg")
        lib.set_caption(photo, "a dog sitting on grass")
    before = _sha(photo.path)
    rc = main(["edit", str(photo.path), "--identity", "Rex", "--to", "standing", "--seed", "5", *FAST,
               "--data-dir", str(data)])
    assert rc == 0
    return {"data": data, "photo": photo, "icc": icc, "original_sha": before}


def test_versions_are_saved_beside_the_original_with_a_recipe(world) -> None:
    with Library.open(world["data"]) as lib:
        edits = lib.list_edits(world["photo"])
        assert len(edits) == 2  # one target x (the plain edit + seed 5)
        for e in edits:
            assert e.output_path.parent == world["data"] / "edits" / str(world["photo"].id)
            r = e.recipe
            assert r["prompts"]["source"] == "a sks dog sitting on grass"
            assert r["prompts"]["target"] == e.target_prompt == "a sks dog standing on grass"
            assert r["prompts"]["identity"] == "a sks dog" and r["identity"]["name"] == "Rex"
            assert len(r["model"]["sha256"]) == 64 and r["model"]["id"].startswith("folder:")
            assert r["lora"] is None  # no prior yet: the base model, and the recipe says so
            assert r["device"] == "cpu" and r["precision"] == "fp32"
            assert r["scheduler"]["class"] and isinstance(r["scheduler"]["config"], dict)
            assert r["params"]["steps"] == 4 and r["params"]["seeds"] == [None, 5]
            assert r["app"]["lipe"] and r["app"]["torch"] and len(r["masks"]["union_sha256"]) == 64
            assert all(Path(m).is_file() for m in e.mask_paths)
        assert [e.recipe["seed"] for e in edits] == [None, 5]
    assert _sha(world["photo"].path) == world["original_sha"]  # the original is never written


def test_a_reader_sees_an_honest_file(world) -> None:
    with Library.open(world["data"]) as lib:
        edit = lib.list_edits(world["photo"])[1]
    seen = read_provenance(edit.output_path)
    assert seen.digital_source_type == DIGITAL_SOURCE_TYPE
    assert seen.recipe == json.loads(json.dumps(edit.recipe))
    assert seen.date_taken == "2019:07:14 10:11:12"
    assert seen.orientation == 1 and edit.recipe["photo"]["orientation"] == 6
    assert seen.icc_profile == world["icc"]
    assert "photoshop:DateCreated=\"2019-07-14T10:11:12\"" in seen.xmp
    with Image.open(edit.output_path) as im, Image.open(world["photo"].path) as orig:
        # a viewer that applies EXIF orientation shows it as the app shows the original: upright
        from PIL import ImageOps

        assert ImageOps.exif_transpose(im).size == ImageOps.exif_transpose(orig).size == (64, 48)


def test_versions_list_redo_is_bit_identical_and_delete_deletes_only_it(world, capsys) -> None:
    data = str(world["data"])
    assert main(["versions", str(world["photo"].path), "--data-dir", data]) == 0
    listed = capsys.readouterr().out
    with Library.open(world["data"]) as lib:
        first, second = lib.list_edits(world["photo"])
    assert f"{second.id}" in listed and "seed 5" in listed and "a sks dog standing on grass" in listed
    assert main(["versions", "redo", str(second.id), "--data-dir", data, "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "identical" in out and "differs" not in out
    with Library.open(world["data"]) as lib:
        redone = lib.list_edits(world["photo"])[-1]
        assert redone.id not in (first.id, second.id)
        with Image.open(redone.output_path) as a, Image.open(second.output_path) as b:
            assert np.array_equal(np.asarray(a), np.asarray(b))
        assert redone.recipe["seed"] == 5 and redone.recipe["model"] == second.recipe["model"]
        keep = {first.output_path: _sha(first.output_path), world["photo"].path: world["original_sha"]}
    assert main(["versions", "delete", str(redone.id), "--data-dir", data]) == 0
    with Library.open(world["data"]) as lib:
        assert [e.id for e in lib.list_edits(world["photo"])] == [first.id, second.id]
    assert not redone.output_path.exists() and not any(Path(m).exists() for m in redone.mask_paths)
    assert all(_sha(p) == digest for p, digest in keep.items())  # the others untouched


def test_redo_refuses_a_changed_model_or_a_damaged_recipe(world, tiny_sdxl_dir: Path, tmp_path: Path) -> None:
    from lipe_engine.editing.run import redo_version

    with Library.open(world["data"]) as lib:
        edit = lib.list_edits(world["photo"])[0]
        recipe = dict(edit.recipe, model=dict(edit.recipe["model"], sha256="0" * 64))
        lib.conn.execute("UPDATE edits SET recipe = ? WHERE id = ?", (json.dumps(recipe), edit.id))
        with pytest.raises(InputError, match="changed since this version was made"):
            redo_version(lib, edit.id)
        for bad in ({"recipe_version": 1, "prompts": "x"}, {"recipe_version": 99}, {},
                    dict(edit.recipe, params=dict(edit.recipe["params"], steps=float("nan"))),
                    dict(edit.recipe, index=7)):
            lib.conn.execute("UPDATE edits SET recipe = ? WHERE id = ?", (json.dumps(bad), edit.id))
            with pytest.raises(InputError) as err:
                redo_version(lib, edit.id)
            assert len(str(err.value).splitlines()) == 1
        lib.conn.execute("UPDATE edits SET recipe = ? WHERE id = ?", (json.dumps(edit.recipe), edit.id))


def test_versions_of_a_photo_not_in_the_library(world, tmp_path: Path, capsys) -> None:
    stray = tmp_path / "stray.jpg"
    Image.new("RGB", (8, 8)).save(stray)
    assert main(["versions", str(stray), "--data-dir", str(world["data"])]) == 2
    assert "is not in the library" in capsys.readouterr().err
    assert main(["versions", "redo", "999", "--data-dir", str(world["data"])]) == 2
    err = capsys.readouterr().err
    assert "version (edit) 999 does not exist" in err and "`lipe versions PHOTO`" in err


def test_a_bf16_version_records_its_precision_and_redoes_identically(world) -> None:
    from lipe_engine.editing import plan_edit
    from lipe_engine.editing.run import Models, redo_version, run_plan, save_version

    with Library.open(world["data"]) as lib:
        plan = plan_edit(lib, world["photo"], "Rex", ["lying down"], params={"steps": 4, "skip": 1, "seeds": (9,)})
        result, model = run_plan(plan, Models(), device="cpu", precision="bf16")
        edit = save_version(lib, plan, model, result, 0)
        assert edit.recipe["precision"] == "bf16" and edit.recipe["prompts"]["target"] == "a sks dog lying down on grass"
        again, same = redo_version(lib, edit.id)
        assert same and again.recipe["precision"] == "bf16"
        with Image.open(again.output_path) as a, Image.open(edit.output_path) as b:
            assert np.array_equal(np.asarray(a), np.asarray(b))
