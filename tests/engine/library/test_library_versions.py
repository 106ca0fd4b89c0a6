"""The edit-versions migration, and versions / edit results at the library level (no model)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from PIL import Image

from lipe_engine.library import Library, LibraryError, db
from lipe_engine.testing.libraries import make_library


def test_a_library_before_recipes_migrates_and_keeps_its_edits(tmp_path: Path) -> None:
    data, _ = make_library(tmp_path, 2)
    path = data / "library.sqlite"
    index = db.MIGRATIONS.index(db.edit_versions_migration)
    with Library.open(data) as lib:
        photo = lib.list_photos()[0]
        out = lib.new_edit_path(photo)
        Image.new("RGB", (4, 4)).save(out)
        edit = lib.record_edit(photo, out, target_prompt="a sks dog sitting", recipe={"seed": 3})
    # take the file back to the version before this migration, as an older app left it
    conn = sqlite3.connect(path)
    conn.execute("DROP TABLE edit_results")
    conn.execute("ALTER TABLE edits DROP COLUMN recipe")
    conn.execute(f"PRAGMA user_version = {index}")
    conn.commit()
    conn.close()
    with Library.open(data) as lib:
        assert db.schema_version(lib.conn) == db.SCHEMA_VERSION
        old = lib.get_edit(edit.id)
        assert old.target_prompt == "a sks dog sitting" and old.recipe == {}  # no recipe then: says so, no crash
        assert lib.list_edit_results() == []
    assert list((data / "backups").glob("*before-migration*"))  # backed up before the upgrade


def test_delete_version_keep_and_discard_results(tmp_path: Path) -> None:
    data, folder = make_library(tmp_path, 2)
    with Library.open(data) as lib:
        photo = lib.list_photos()[0]
        files = []
        for _ in range(2):
            out = lib.new_edit_path(photo)
            Image.new("RGB", (4, 4)).save(out)
            mask = out.with_name(out.stem + "-mask.png")
            Image.new("L", (4, 4)).save(mask)
            files.append((out, mask))
        first = lib.record_edit(photo, files[0][0], mask_paths=[files[0][1]])
        second = lib.record_edit(photo, files[1][0], mask_paths=[files[1][1]], parent_edit=first.id)
        removed = lib.delete_edit(first.id)
        assert set(removed) == {files[0][0].resolve(), files[0][1].resolve()}
        assert lib.get_edit(second.id).parent_edit_id is None and files[1][0].is_file()  # the other one stays
        assert Path(photo.path).is_file()
        # a record pointing at an original is never a file the app deletes
        third = lib.record_edit(photo, files[1][0])
        lib.conn.execute("UPDATE edits SET mask_paths = ? WHERE id = ?", (f'["{photo.path}"]', third.id))
        lib.delete_edit(third.id)
        assert Path(photo.path).is_file() and files[1][0].is_file()  # still version `second`'s file

        job = lib.create_job("edit", {})
        results = []
        for seed in (1, 2):
            out = data / "edits" / "jobs" / str(job.id) / f"r{seed}.png"
            out.parent.mkdir(parents=True, exist_ok=True)
            Image.new("RGB", (4, 4)).save(out)
            results.append(lib.add_edit_result(photo, out, job_id=job.id, identity=None, source_prompt="s",
                                               target_prompt="t", seed=seed, recipe={"seed": seed}))
        kept = lib.keep_edit_result(results[0].id)
        assert kept.recipe == {"seed": 1} and lib.get_edit_result(results[0].id).status == "kept"
        assert lib.keep_edit_result(results[0].id).id == kept.id  # twice is once
        lib.discard_edit_result(results[1].id)
        assert not results[1].path.exists() and lib.list_edit_results(status="pending") == []
        with pytest.raises(LibraryError, match="was discarded"):
            lib.keep_edit_result(results[1].id)
        with pytest.raises(LibraryError, match="kept as version"):
            lib.discard_edit_result(results[0].id)
        with pytest.raises(LibraryError, match="not a file under the data folder"):
            lib.add_edit_result(photo, photo.path, job_id=None, identity=None, source_prompt="", target_prompt="",
                                seed=None, recipe={})
