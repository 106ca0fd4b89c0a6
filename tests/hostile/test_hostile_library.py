"""Hostile library use: concurrent scans, damaged and empty database files, backups and restore,
id reuse, unusable export folders, identity names. Every CLI case: exit code, one line on stderr,
originals unchanged, integrity_check ok."""

from __future__ import annotations

import multiprocessing as mp
import os
import sqlite3
import stat
from pathlib import Path

import pytest
from hostile_helpers import hashes, integrity_ok, one_line_error, run_cli, sha
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lipe_engine.library import Library, LibraryError, backup, db
from lipe_engine.testing.libraries import make_photos


@pytest.fixture()
def lib_dir(tmp_path: Path) -> tuple[Path, list[Path]]:
    photos = make_photos(tmp_path / "pics", 6)
    data = tmp_path / "data"
    with Library.open(data) as lib:
        lib.scan([lib.add_folder(tmp_path / "pics").id])
        rex = lib.create_identity("Rex", "dog")
        lib.add_identity_photos(rex, lib.list_photos()[:3])
        lib.set_caption(lib.list_photos()[0], "a dog on grass", by_user=True)
    return data, photos


# --- concurrent scans -----------------------------------------------------------------------------


def test_a_scan_racing_another_on_the_same_path_converges(tmp_path: Path, monkeypatch) -> None:
    """Deterministic race: the other process inserts each photo between our lookup and our insert."""
    from lipe_engine.library import scan

    make_photos(tmp_path / "pics", 4)
    data = tmp_path / "data"
    with Library.open(data) as lib:
        folder = lib.add_folder(tmp_path / "pics")
    other = Library.open(data)
    real_decode = scan._decode

    def racing_decode(lib, cand, st, report):
        d = real_decode(lib, cand, st, report)
        if d is not None:
            with other.transaction() as c:
                c.execute(
                    "INSERT INTO photos(folder_id, path, content_hash, size, mtime, width, height, orientation, "
                    "format) VALUES (?, ?, ?, ?, ?, ?, ?, 1, ?)",
                    (folder.id, cand.path, d.content_hash, d.size, d.mtime, d.width, d.height, d.format))
        return d

    monkeypatch.setattr(scan, "_decode", racing_decode)
    with Library.open(data) as lib:
        report = lib.scan()
        assert lib.count_photos() == 4 and report.skipped == []
    other.close()
    integrity_ok(data / "library.sqlite")


def _scanner(data: str, barrier) -> None:
    with Library.open(data) as lib:
        barrier.wait()
        lib.scan()


def test_two_processes_scanning_at_once_both_finish(tmp_path: Path) -> None:
    photos = make_photos(tmp_path / "pics", 40, (64, 48))
    before = hashes(photos)
    data = tmp_path / "data"
    with Library.open(data) as lib:
        lib.add_folder(tmp_path / "pics")
    ctx = mp.get_context("spawn")
    barrier = ctx.Barrier(3)
    procs = [ctx.Process(target=_scanner, args=(str(data), barrier)) for _ in range(3)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
    assert [p.exitcode for p in procs] == [0, 0, 0]
    with Library.open(data) as lib:
        assert lib.count_photos() == 40
        assert len({p.path for p in lib.list_photos()}) == 40
    assert hashes(photos) == before
    integrity_ok(data / "library.sqlite")


# --- a damaged database ---------------------------------------------------------------------------


def _damage_a_page(db_path: Path) -> None:
    """Overwrite one b-tree page of the photos table with garbage (what a bad disk sector does)."""
    conn = sqlite3.connect(db_path)
    root = conn.execute("SELECT rootpage FROM sqlite_master WHERE name = 'photos'").fetchone()[0]
    page = conn.execute("PRAGMA page_size").fetchone()[0]
    conn.close()
    with open(db_path, "r+b") as fh:
        fh.seek((root - 1) * page)
        fh.write(b"\xde\xad\xbe\xef" * 64)


@pytest.mark.parametrize("argv", [("identity", "list"), ("identity", "show", "Rex"),
                                  ("identity", "create", "Tom", "--class", "cat"), ("library", "list"),
                                  ("queue", "add", "Rex"), ("library", "scan")])
def test_a_damaged_page_is_caught_on_open_and_nothing_is_written(lib_dir, capsys, argv) -> None:
    data, photos = lib_dir
    with Library.open(data) as lib:
        lib.backup_now("manual")
    before = hashes(photos)
    dbf = data / "library.sqlite"
    _damage_a_page(dbf)
    damaged = sha(dbf)
    rc, out, err = run_cli(capsys, *argv, "--data-dir", data)
    assert rc == 2
    one_line_error(err, "damaged", "lipe library restore")
    assert sha(dbf) == damaged and not (data / "library.sqlite-wal").exists() or \
        (data / "library.sqlite-wal").stat().st_size == 0
    assert hashes(photos) == before


def test_an_empty_database_file_points_to_the_backups(lib_dir, capsys) -> None:
    data, photos = lib_dir
    with Library.open(data) as lib:
        lib.backup_now("manual")
    (data / "library.sqlite").write_bytes(b"")
    rc, _, err = run_cli(capsys, "identity", "list", "--data-dir", data)
    assert rc == 2
    one_line_error(err, "empty", "lipe library restore")
    assert (data / "library.sqlite").stat().st_size == 0  # not silently made a new library


def test_an_empty_database_without_backups_is_not_silently_replaced(lib_dir, capsys) -> None:
    data, _ = lib_dir
    for b in backup.list_backups(data):
        b.path.unlink()
    (data / "library.sqlite").write_bytes(b"")
    rc, _, err = run_cli(capsys, "identity", "create", "Tom", "--class", "cat", "--data-dir", data)
    assert rc == 2
    one_line_error(err, "empty")
    assert (data / "library.sqlite").stat().st_size == 0


def test_a_fresh_data_folder_still_makes_a_new_library(tmp_path: Path, capsys) -> None:
    rc, _, err = run_cli(capsys, "identity", "create", "Tom", "--class", "cat", "--data-dir", tmp_path / "new")
    assert rc == 0, err


# --- backups and restore --------------------------------------------------------------------------


def test_restore_lists_and_restores_and_moves_the_current_file_aside(lib_dir, capsys) -> None:
    data, photos = lib_dir
    with Library.open(data) as lib:
        made = lib.backup_now("manual")
        lib.delete_identity("Rex")  # the mistake the backup undoes
    rc, out, err = run_cli(capsys, "library", "restore", "--data-dir", data)
    assert rc == 0, err
    assert made.name in out
    rc, out, err = run_cli(capsys, "library", "restore", made.name, "--data-dir", data)
    assert rc == 0, err
    aside = [p for p in data.iterdir() if p.name.startswith("library.sqlite.replaced-")]
    assert aside, list(data.iterdir())
    with Library.open(data) as lib:
        assert [i.name for i in lib.list_identities()] == ["Rex"]
        assert lib.get_caption(lib.list_photos()[0]).text == "a dog on grass"
    conn = sqlite3.connect(aside[0])
    assert conn.execute("SELECT COUNT(*) FROM identities").fetchone()[0] == 0  # the replaced file is kept whole
    conn.close()
    integrity_ok(data / "library.sqlite")


def test_restore_of_an_unknown_backup_is_one_line(lib_dir, capsys) -> None:
    data, _ = lib_dir
    before = sha(data / "library.sqlite")
    rc, _, err = run_cli(capsys, "library", "restore", "nope.sqlite", "--data-dir", data)
    assert rc == 2
    one_line_error(err, "nope.sqlite")
    assert sha(data / "library.sqlite") == before


def test_restore_refuses_a_damaged_backup(lib_dir, capsys) -> None:
    data, _ = lib_dir
    with Library.open(data) as lib:
        made = lib.backup_now("manual")
    made.write_bytes(made.read_bytes()[:1000])
    before = sha(data / "library.sqlite")
    rc, _, err = run_cli(capsys, "library", "restore", made.name, "--data-dir", data)
    assert rc == 2
    one_line_error(err, made.name)
    assert sha(data / "library.sqlite") == before


def test_a_backup_is_made_before_each_migration(tmp_path: Path) -> None:
    conn = sqlite3.connect(tmp_path / "library.sqlite", isolation_level=None)
    db.migrate(conn, 3)
    conn.execute("INSERT INTO identities(name, class_word, token, kind) VALUES ('Rex', 'dog', 'sks', 'pet')")
    conn.close()
    with Library.open(tmp_path) as lib:
        assert db.schema_version(lib.conn) == db.SCHEMA_VERSION
    found = backup.list_backups(tmp_path)
    assert [b.reason for b in found] == ["before-migration"]
    old = sqlite3.connect(found[0].path)
    assert old.execute("PRAGMA user_version").fetchone()[0] == 3
    assert old.execute("SELECT name FROM identities").fetchall() == [("Rex",)]
    old.close()


def test_daily_backups_rotate(lib_dir, monkeypatch) -> None:
    data, _ = lib_dir
    clock = [1_000_000.0]
    monkeypatch.setattr(backup, "_now", lambda: clock[0])
    with Library.open(data) as lib:
        for _ in range(backup.KEEP_DAILY + 3):
            clock[0] += 25 * 3600
            assert lib.backup_if_due() is not None
            assert lib.backup_if_due() is None  # not due again the same day
    daily = [b for b in backup.list_backups(data) if b.reason == "daily"]
    assert len(daily) == backup.KEEP_DAILY
    for b in daily:
        c = sqlite3.connect(b.path)
        assert c.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        c.close()


def test_a_running_app_backs_up_daily_while_it_writes(lib_dir, monkeypatch) -> None:
    data, _ = lib_dir
    for b in backup.list_backups(data):
        b.path.unlink()
    clock = [2_000_000.0]
    monkeypatch.setattr(backup, "_now", lambda: clock[0])
    with Library.open(data) as lib:
        n0 = len(backup.list_backups(data))
        clock[0] += 25 * 3600
        monkeypatch.setattr(backup, "_monotonic", lambda: clock[0])
        lib.set_setting("x", "1")
        assert len(backup.list_backups(data)) == n0 + 1


# --- ids are never reused -------------------------------------------------------------------------


def test_identity_and_job_ids_are_never_reused(tmp_path: Path) -> None:
    with Library.open(tmp_path) as lib:
        lib.create_identity("A", "dog")
        b = lib.create_identity("B", "dog")
        lib.delete_identity("B")
        c = lib.create_identity("C", "dog")
        assert c.id > b.id
        j1 = lib.create_job("train")
        lib.delete_job(j1.id)
        assert lib.create_job("train").id > j1.id


@pytest.mark.parametrize("start", range(1, db.SCHEMA_VERSION))
def test_migrated_libraries_never_reuse_ids_either(tmp_path: Path, start: int) -> None:
    conn = sqlite3.connect(tmp_path / "library.sqlite", isolation_level=None)
    db.migrate(conn, start)
    conn.execute("INSERT INTO identities(id, name, class_word, token, kind) VALUES (5, 'Rex', 'dog', 'sks', 'pet')")
    conn.execute("INSERT INTO folders(id, path) VALUES (1, '/p')")
    conn.execute("INSERT INTO photos(id, folder_id, path, content_hash, size, mtime, width, height) "
                 "VALUES (1, 1, '/p/a.jpg', 'h', 1, 1, 1, 1)")
    conn.execute("INSERT INTO identity_photos(identity_id, photo_id, role) VALUES (5, 1, 'reference')")
    if start >= 2:
        conn.execute("INSERT INTO jobs(id, kind, identity_id) VALUES (9, 'train', 5)")
        conn.execute("INSERT INTO loras(identity_id, path, base_model, job_id) VALUES (5, '/l', 'm', 9)")
    conn.close()
    with Library.open(tmp_path) as lib:
        assert [x.photo.id for x in lib.identity_photos("Rex")] == [1]  # links survive the table rebuild
        if start >= 2:
            assert lib.list_loras("Rex")[0].job_id == 9 and lib.get_job(9).identity_id == 5
            lib.conn.execute("DELETE FROM loras")
            lib.delete_job(9)
            assert lib.create_job("train").id == 10
        lib.delete_identity("Rex")
        assert lib.create_identity("Tom", "cat").id == 6
        assert lib.conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
        assert lib.conn.execute("PRAGMA foreign_key_check").fetchall() == []
    integrity_ok(tmp_path / "library.sqlite")


# --- deleted identity mid-job ---------------------------------------------------------------------


def test_an_identity_deleted_mid_job_is_said_plainly(lib_dir, monkeypatch, tmp_path) -> None:
    import lipe_engine.models.loader as loader
    import lipe_engine.training as training
    from lipe_engine.jobs import enqueue, execute_job

    data, _ = lib_dir
    lib = Library.open(data)
    job = enqueue(lib, "Rex", class_images=0, caption=False)
    monkeypatch.setattr(loader, "load_sdxl", lambda *a, **k: type("M", (), {"native_size": 32})())

    def train(model, items, class_items, output_dir, config, progress=None, name=None):
        Library.open(data).delete_identity("Rex")  # the user deletes it from another window
        out = Path(output_dir) / "lora"
        out.mkdir(parents=True)
        return out

    monkeypatch.setattr(training, "train_identity_lora", train)
    done = execute_job(lib, job.id)
    assert done.state == "failed"
    assert "deleted" in done.message and "Rex" in done.message and "lipe identity create 1" not in done.message
    assert str(Path(job.config["output_dir"])) in done.message  # where the trained files are
    lib.close()


# --- export folders -------------------------------------------------------------------------------


@pytest.mark.parametrize("where", ["proc", "under_file", "file"])
def test_unusable_export_folders_are_one_line(lib_dir, capsys, where) -> None:
    data, photos = lib_dir
    target = {"proc": Path("/proc/lipe-export"), "under_file": photos[0] / "sub", "file": photos[0]}[where]
    before = hashes(photos)
    rc, _, err = run_cli(capsys, "identity", "export", "Rex", target, "--data-dir", data, "-q")
    assert rc == 2
    one_line_error(err, "lipe: error:")
    assert hashes(photos) == before
    integrity_ok(data / "library.sqlite")


def test_export_folders_get_normal_permissions(lib_dir, capsys, tmp_path) -> None:
    data, _ = lib_dir
    old = os.umask(0o022)
    try:
        rc, _, err = run_cli(capsys, "identity", "export", "Rex", tmp_path / "ds", "--data-dir", data, "-q")
    finally:
        os.umask(old)
    assert rc == 0, err
    assert stat.S_IMODE((tmp_path / "ds").stat().st_mode) == 0o755


# --- names and numbers from the user --------------------------------------------------------------


@settings(max_examples=60, deadline=None, derandomize=True, database=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(name=st.text(min_size=0, max_size=80), cls=st.text(min_size=0, max_size=12))
def test_any_identity_name_is_created_or_refused_in_one_line(tmp_path_factory, name, cls) -> None:
    data = tmp_path_factory.mktemp("names")
    with Library.open(data) as lib:
        try:
            ident = lib.create_identity(name, cls or "dog")
        except LibraryError as exc:
            assert len(str(exc).splitlines()) == 1
        else:
            assert lib.get_identity(ident.name).id == ident.id
            assert lib.get_identity(ident.id).name == ident.name
    integrity_ok(data / "library.sqlite")


@pytest.mark.parametrize("argv", [
    ("identity", "export", "Rex", "{tmp}/x", "--max-size", "100000000"),
    ("identity", "export", "Rex", "{tmp}/x", "--kohya-repeats", "0"),
    ("identity", "suggest", "Rex", "--top", "0"),
    ("identity", "suggest", "Rex", "--min-score", "nan"),
    ("library", "list", "--limit", "-1"),
    ("queue", "list", "--limit", "-5"),
    ("queue", "run", "--max-jobs", "0", "--gpus", "none"),
    ("queue", "add", "Rex", "--lr", "nan"),
    ("queue", "add", "Rex", "--lr", "inf"),
    ("queue", "add", "Rex", "--steps", "0"),
    ("queue", "add", "Rex", "--steps", "100000000000"),
    ("queue", "add", "Rex", "--rank", "100000"),
    ("queue", "add", "Rex", "--resolution", "1048576"),
    ("queue", "add", "Rex", "--seed", "-1"),
    ("queue", "add", "Rex", "--class-images", "-1"),
    ("queue", "add", "Rex", "--class-steps", "100000"),
    ("queue", "add", "Rex", "--sample-every", "-1"),
    ("queue", "add", "Rex", "--checkpoint-every", "0"),
    ("queue", "add", "Rex", "--epochs", "0"),
    ("queue", "show", str(2**70)),
    ("queue", "cancel", str(2**64)),
    ("queue", "retry", str(2**63)),
    ("identity", "add", "Rex", str(2**80)),
    ("identity", "show", "Rex\u2028Tom"),
    ("library", "remove", str(2**66)),
    ("queue", "add", "Rex", "--output", "/proc/lipe-prior"),
    ("queue", "add", "Rex", "--output", "{photo}/sub"),
    ("identity", "create", "X" * 65, "--class", "dog"),
    ("identity", "create", "a/b", "--class", "dog"),
    ("identity", "create", "ok", "--class", "dog\x00"),
])
def test_cli_numbers_and_names_out_of_range_are_one_line(lib_dir, capsys, tmp_path, argv) -> None:
    data, photos = lib_dir
    before = hashes(photos)
    jobs_before = sqlite3.connect(data / "library.sqlite").execute("SELECT COUNT(*) FROM jobs").fetchone()[0]
    argv = [a.replace("{tmp}", str(tmp_path)).replace("{photo}", str(photos[0])) for a in argv]
    rc, _, err = run_cli(capsys, *argv, "--data-dir", data)
    assert rc == 2
    one_line_error(err, "lipe: error:")
    assert hashes(photos) == before
    assert sqlite3.connect(data / "library.sqlite").execute("SELECT COUNT(*) FROM jobs").fetchone()[0] == jobs_before
    integrity_ok(data / "library.sqlite")


def test_a_damaged_library_is_restored_from_its_backup(lib_dir, capsys) -> None:
    """The whole recovery a user follows: the refusal's hint, the list, the restore, a working library."""
    data, photos = lib_dir
    before = hashes(photos)
    with Library.open(data) as lib:
        lib.backup_now("manual")
    _damage_a_page(data / "library.sqlite")
    damaged = sha(data / "library.sqlite")
    rc, _, err = run_cli(capsys, "identity", "list", "--data-dir", data)
    assert rc == 2 and "lipe library restore" in err
    rc, out, err = run_cli(capsys, "library", "restore", "--data-dir", data)
    listed = out.splitlines()
    assert rc == 0 and len(listed) == 2 and "-manual.sqlite" in listed[-1], out  # the open's daily + ours
    rc, out, err = run_cli(capsys, "library", "restore", "2", "--data-dir", data)
    assert rc == 0, err
    aside = next(p for p in data.iterdir() if p.name.startswith("library.sqlite.replaced-"))
    assert sha(aside) == damaged  # the damaged file is kept, byte for byte, for a later rescue
    rc, out, err = run_cli(capsys, "identity", "list", "--data-dir", data)
    assert rc == 0 and "Rex" in out, err
    integrity_ok(data / "library.sqlite")
    assert hashes(photos) == before


def _hold_open(data: str, ready, done) -> None:
    with Library.open(data):
        ready.set()
        done.wait(60)


def test_restore_refuses_while_another_process_has_the_library_open(lib_dir, capsys) -> None:
    data, _ = lib_dir
    with Library.open(data) as lib:
        made = lib.backup_now("manual")
    ctx = mp.get_context("spawn")
    ready, done = ctx.Event(), ctx.Event()
    holder = ctx.Process(target=_hold_open, args=(str(data), ready, done))
    holder.start()
    try:
        assert ready.wait(60)
        before = sha(data / "library.sqlite")
        rc, _, err = run_cli(capsys, "library", "restore", made.name, "--data-dir", data)
        assert rc == 2
        one_line_error(err, "open in another process")
        assert sha(data / "library.sqlite") == before
        assert not [p for p in data.iterdir() if "replaced" in p.name]
    finally:
        done.set()
        holder.join(60)
    rc, _, err = run_cli(capsys, "library", "restore", made.name, "--data-dir", data)
    assert rc == 0, err


@settings(max_examples=60, deadline=None, derandomize=True, database=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.text(min_size=1, max_size=30), command=st.sampled_from(["add", "export", "data-dir", "show"]))
def test_any_path_text_is_used_or_refused_in_one_line(lib_dir, capsys, tmp_path, text, command) -> None:
    data, photos = lib_dir
    before = hashes(photos)
    path = str(tmp_path / "x") + "/" + text
    argv = {"add": ("library", "add", path, "--no-scan", "--data-dir", data),
            "export": ("identity", "export", "Rex", path, "-q", "--data-dir", data),
            "data-dir": ("identity", "list", "--data-dir", path),
            "show": ("identity", "show", "--data-dir", data, "--", text)}[command]  # "--": names may start with -
    rc, _, err = run_cli(capsys, *argv)
    assert rc in (0, 2)
    if rc == 2:
        one_line_error(err, "lipe: error:")
    assert hashes(photos) == before
    integrity_ok(data / "library.sqlite")


@pytest.mark.parametrize("value", ["9" * 400, "nan", "-5", "0", "1e400", "abc"])
def test_an_unusable_thumbnail_cap_setting_falls_back_to_the_default(tmp_path: Path, value: str) -> None:
    from lipe_engine.library.thumbs import DEFAULT_MAX_BYTES

    with Library.open(tmp_path) as lib:
        lib.set_setting("thumbnail_cache_mb", value)
        assert lib.thumbnails.max_bytes == DEFAULT_MAX_BYTES


@pytest.mark.parametrize(("precision", "loads_as"), [("bf16", "bf16"), ("fp16", "fp16"), ("no", "fp32"),
                                                     ("auto", None)])
def test_a_job_loads_sdxl_in_the_precision_it_trains_in(lib_dir, monkeypatch, precision, loads_as) -> None:
    """Loading fp32 and casting later would briefly hold SDXL twice (~14 GB for a CPU bf16 job)."""
    import lipe_engine.models.loader as loader
    import lipe_engine.training as training
    from lipe_engine.jobs import enqueue, execute_job

    data, _ = lib_dir
    seen = []

    def load(*args, **kwargs):
        seen.append(kwargs.get("dtype"))
        return type("M", (), {"native_size": 32})()

    def train(model, items, class_items, output_dir, config, progress=None, name=None):
        raise training_done

    class TrainingReached(Exception):
        pass

    training_done = TrainingReached()
    monkeypatch.setattr(loader, "load_sdxl", load)
    monkeypatch.setattr(training, "train_identity_lora", train)
    with Library.open(data) as lib:
        job = enqueue(lib, "Rex", class_images=0, caption=False, overrides={"mixed_precision": precision})
        execute_job(lib, job.id)
    assert seen == [loads_as]
