"""Nothing lost: the writing commands (identity export, demo, eval) replace only their own earlier outputs,
and a deleted library file is never silently replaced by a new one whose backups rotate the real ones out.
Each case runs the real ``lipe`` command and checks that every file the user had is still there, unchanged."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest
from hostile_helpers import hashes, integrity_ok, no_model_load, one_line_error, run_cli, sha

from lipe_engine.library import Library, backup
from lipe_engine.testing.libraries import make_photos


def snapshot(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): sha(p) for p in sorted(folder.rglob("*")) if p.is_file()}


# --- identity export -------------------------------------------------------------------------------


def test_a_second_export_never_deletes_what_the_user_put_in_the_first(lib_dir, capsys, tmp_path) -> None:
    data, photos = lib_dir
    out = tmp_path / "E"
    rc, _, err = run_cli(capsys, "identity", "export", "Rex", out, "--data-dir", data, "-q")
    assert rc == 0, err
    mine = out / "mine"
    make_photos(mine, 2)
    (out / "my_notes.txt").write_text("do not lose me")
    users = {p: sha(p) for p in [*mine.iterdir(), out / "my_notes.txt"]}
    exported = snapshot(out)
    before = hashes(photos)
    rc, _, err = run_cli(capsys, "identity", "export", "Rex", out, "--data-dir", data, "-q")
    assert rc == 2
    one_line_error(err, "my_notes.txt" if "my_notes" in err else "mine", "never deleted")
    assert {p: sha(p) for p in users} == users  # every file of the user's still there, unchanged
    assert snapshot(out) == exported
    assert hashes(photos) == before
    integrity_ok(data / "library.sqlite")


def test_a_second_export_replaces_its_own_files(lib_dir, capsys, tmp_path) -> None:
    data, _ = lib_dir
    out = tmp_path / "E"
    for _ in range(2):
        rc, _, err = run_cli(capsys, "identity", "export", "Rex", out, "--data-dir", data, "-q")
        assert rc == 0, err
    meta = json.loads((out / ".lipe-export.json").read_text())
    assert sorted(p for p in snapshot(out) if p != ".lipe-export.json") == sorted(meta["files"])
    assert not list(tmp_path.glob(".E.*"))  # nothing hidden left beside it


def test_a_library_folder_inside_an_earlier_export_is_never_deleted(lib_dir, capsys, tmp_path) -> None:
    data, _ = lib_dir
    out = tmp_path / "E"
    assert run_cli(capsys, "identity", "export", "Rex", out, "--data-dir", data, "-q")[0] == 0
    inner = make_photos(out / "album", 2)
    before = hashes(inner)
    with Library.open(data) as lib:
        lib.scan([lib.add_folder(out / "album").id])
    rc, _, err = run_cli(capsys, "identity", "export", "Rex", out, "--data-dir", data, "-q")
    assert rc == 2
    one_line_error(err, "lipe: error:")
    assert hashes(inner) == before


def test_a_killed_exports_partial_folder_is_cleaned_by_the_next(lib_dir, capsys, tmp_path) -> None:
    data, _ = lib_dir
    stale = tmp_path / ".E.partial-dead1"
    stale.mkdir()
    (stale / "001_photo.jpg").write_bytes(b"x" * 1000)
    (stale / ".lipe-export-partial").write_text("999999999")  # its process is gone
    foreign = tmp_path / ".E.partial-notours"
    foreign.mkdir()
    (foreign / "keep.txt").write_text("not an export's")
    rc, _, err = run_cli(capsys, "identity", "export", "Rex", tmp_path / "E", "--data-dir", data, "-q")
    assert rc == 0, err
    assert not stale.exists()
    assert (foreign / "keep.txt").read_text() == "not an export's"


def test_a_truncated_original_is_named_not_copied(lib_dir, capsys, tmp_path) -> None:
    data, photos = lib_dir
    full = photos[0].read_bytes()
    photos[0].write_bytes(full[: len(full) // 2])
    os.utime(photos[0], (time.time() - 10, time.time() - 10))  # the library has not rescanned it
    rc, _, err = run_cli(capsys, "identity", "export", "Rex", tmp_path / "E", "--data-dir", data, "-q")
    assert rc == 2
    one_line_error(err, photos[0].name, "truncated")
    assert not (tmp_path / "E").exists()
    assert not list(tmp_path.glob(".E.*"))


# --- demo and eval output folders ------------------------------------------------------------------


def test_demo_never_overwrites_a_library_folders_photos(capsys, tmp_path, monkeypatch) -> None:
    no_model_load(monkeypatch)
    folder = tmp_path / "album"
    folder.mkdir()
    originals = []
    for name in ("edited.png", "reference_1.png", "target_photo.png", "before_after.png"):
        make_photos(tmp_path / "gen", 1)[0].rename(folder / name)
        originals.append(folder / name)
    before = hashes(originals)
    rc, _, err = run_cli(capsys, "demo", "--out", folder, "--quiet")
    assert rc == 2
    one_line_error(err, "never overwritten", "--out")
    assert hashes(originals) == before
    assert sorted(p.name for p in folder.iterdir()) == sorted(p.name for p in originals)


def test_demo_claims_its_names_and_may_replace_them_later(tmp_path) -> None:
    from lipe_engine.cli.demo import OUTPUT_NAMES
    from lipe_engine.owned_outputs import OwnedFolder

    out = OwnedFolder.claim(tmp_path / "d", "demo", OUTPUT_NAMES)
    out.write_text("report.json", "{}")
    again = OwnedFolder.claim(tmp_path / "d", "demo", OUTPUT_NAMES)  # a rerun: its own files
    again.write_text("report.json", "{\"a\": 1}")
    assert (tmp_path / "d" / "report.json").read_text() == "{\"a\": 1}"
    assert not [p for p in (tmp_path / "d").iterdir() if p.name.endswith(".partial")]


@pytest.mark.parametrize("value", ["-1", "99999999999"])
def test_demo_refuses_a_seed_out_of_range(capsys, tmp_path, monkeypatch, value) -> None:
    no_model_load(monkeypatch)
    rc, _, err = run_cli(capsys, "demo", "--out", tmp_path / "d", "--seed", value, "--quiet")
    assert rc == 2
    one_line_error(err, "--seed")
    assert not (tmp_path / "d").exists()


def test_eval_never_replaces_a_users_results(capsys, tmp_path, monkeypatch) -> None:
    no_model_load(monkeypatch)
    out = tmp_path / "mine"
    out.mkdir()
    for name, text in (("results.csv", "my,own\n1,2\n"), ("table.md", "# my table\n")):
        (out / name).write_text(text)
    (out / "grid.png").write_bytes(make_photos(tmp_path / "gen", 1)[0].read_bytes())
    before = snapshot(out)
    rc, _, err = run_cli(capsys, "eval", tmp_path / "ds", "--make-toy-dataset", "1", "--out", out,
                         "--data-dir", tmp_path / "data", "--no-metrics", "--quiet")
    assert rc == 2
    one_line_error(err, "never overwritten")
    assert snapshot(out) == before


# --- a deleted library file --------------------------------------------------------------------------


def test_a_deleted_library_file_is_not_silently_replaced(lib_dir, capsys) -> None:
    data, _ = lib_dir
    with Library.open(data) as lib:
        lib.backup_now()
    (data / "library.sqlite").unlink()
    for side in ("library.sqlite-wal", "library.sqlite-shm"):
        (data / side).unlink(missing_ok=True)
    for argv in (("library", "list"), ("library", "add", data.parent / "pics"), ("identity", "list")):
        rc, _, err = run_cli(capsys, *argv, "--data-dir", data)
        assert rc == 2, argv
        one_line_error(err, "missing", "lipe library restore")
    assert not (data / "library.sqlite").exists()
    rc, out, err = run_cli(capsys, "library", "restore", "1", "--data-dir", data)  # the way out works
    assert rc == 0, err
    with Library.open(data) as lib:
        assert lib.count_photos() == 4


def test_backups_of_a_new_empty_library_never_rotate_the_real_ones_out(lib_dir, monkeypatch) -> None:
    data, _ = lib_dir
    clock = [time.time()]
    monkeypatch.setattr(backup, "_now", lambda: clock[0])
    with Library.open(data) as lib:
        for _ in range(backup.KEEP_DAILY):
            clock[0] += backup.DAY_S + 60
            assert lib.backup_if_due() is not None
    real = [b.path for b in backup.list_backups(data)]
    assert len(real) >= backup.KEEP_DAILY
    # The user (or a sync tool) replaced the file by an empty library; it is used for two weeks.
    for p in data.glob("library.sqlite*"):
        p.unlink()
    with Library(data, new=True) as lib:  # the explicit way to start over beside old traces
        for _ in range(2 * backup.KEEP_DAILY):
            clock[0] += backup.DAY_S + 60
            lib.backup_if_due()
    left = {b.path for b in backup.list_backups(data)}
    assert set(real[-backup.KEEP_DAILY:]) <= left  # the last good backups are all still there


def test_train_never_writes_into_a_folder_of_the_users(lib_dir, capsys, tmp_path, monkeypatch) -> None:
    no_model_load(monkeypatch)
    data, _ = lib_dir
    out = tmp_path / "my_stuff"
    (out / "samples").mkdir(parents=True)
    mine = make_photos(out / "samples", 2)
    before = hashes(mine)
    rc, _, err = run_cli(capsys, "train", "Rex", "--output", out, "--steps", "1", "--data-dir", data, "--quiet")
    assert rc == 2
    one_line_error(err, "samples", "never overwritten")
    assert hashes(mine) == before
    with Library.open(data) as lib:
        assert lib.list_jobs() == []  # refused before a job was queued
