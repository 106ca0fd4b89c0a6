"""Library schema, migrations from every earlier version, record access, and concurrent use."""

from __future__ import annotations

import multiprocessing as mp
import os
import sqlite3
import threading
from pathlib import Path

import pytest
from PIL import Image

from lipe_engine.library import CaptionEditedError, Library, LibraryError, db


def _seed(conn: sqlite3.Connection, version: int) -> None:
    """Rows a user of schema ``version`` would have; they must survive every later migration."""
    if version >= 1:
        conn.execute("INSERT INTO folders(id, path) VALUES (1, '/photos')")
        conn.execute(
            "INSERT INTO photos(id, folder_id, path, content_hash, size, mtime, width, height, taken_at, orientation) "
            "VALUES (1, 1, '/photos/a.jpg', 'h1', 10, 1.5, 640, 480, '2020-01-01T10:00:00', 6)"
        )
        conn.execute(
            "INSERT INTO identities(id, name, class_word, token, kind) VALUES (1, 'Rex', 'dog', 'sks', 'pet')"
        )
        conn.execute("INSERT INTO identity_photos(identity_id, photo_id, role) VALUES (1, 1, 'reference')")
        conn.execute("INSERT INTO captions(photo_id, text, edited_by_user) VALUES (1, 'a dog', 1)")
    if version >= 2:
        conn.execute(
            "INSERT INTO jobs(id, kind, state, config) VALUES (1, 'train', 'done', '{\"steps\": 5}')"
        )
        conn.execute("INSERT INTO loras(identity_id, path, base_model, job_id) VALUES (1, '/l', 'sdxl', 1)")
        conn.execute(
            "INSERT INTO edits(photo_id, output_path, target_prompt) VALUES (1, '/e.png', 'standing')"
        )


@pytest.mark.parametrize("start", range(db.SCHEMA_VERSION))
def test_migrates_from_every_earlier_version(tmp_path: Path, start: int) -> None:
    conn = sqlite3.connect(tmp_path / "library.sqlite", isolation_level=None)
    db.migrate(conn, start)
    assert db.schema_version(conn) == start
    _seed(conn, start)
    conn.close()
    with Library.open(tmp_path) as lib:
        assert db.schema_version(lib.conn) == db.SCHEMA_VERSION
        if start >= 1:
            p = lib.get_photo(1)
            assert (p.path.as_posix(), p.orientation, p.missing, p.duplicate_of) == (
                "/photos/a.jpg",
                6,
                False,
                None,
            )
            links = lib.identity_photos("Rex")
            assert [(x.photo.id, x.role, x.status) for x in links] == [(1, "reference", "confirmed")]
            cap = lib.get_caption(1)
            assert cap is not None and cap.edited_by_user and cap.identity_id is None
        if start >= 2:
            assert lib.get_job(1).config == {"steps": 5}
            assert lib.list_loras("Rex")[0].base_model == "sdxl"
            assert lib.list_edits(1)[0].target_prompt == "standing"
        # the newest schema works on the migrated file
        lib.set_setting("k", "v")
        assert lib.get_setting("k") == "v"


def test_fresh_and_migrated_schemas_are_identical(tmp_path: Path) -> None:
    def schema(conn: sqlite3.Connection) -> list[tuple]:
        return conn.execute("SELECT type, name, sql FROM sqlite_master ORDER BY name").fetchall()

    a = sqlite3.connect(tmp_path / "a.sqlite", isolation_level=None)
    db.migrate(a)
    b = sqlite3.connect(tmp_path / "b.sqlite", isolation_level=None)
    for v in range(1, db.SCHEMA_VERSION + 1):
        db.migrate(b, v)
    assert schema(a) == schema(b)
    assert {"folders", "photos", "identities", "identity_photos", "captions", "jobs", "loras", "edits"} <= {
        r[1] for r in schema(a)
    }


def test_failed_migration_leaves_previous_version(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    conn = sqlite3.connect(tmp_path / "library.sqlite", isolation_level=None)
    db.migrate(conn, 1)

    def broken(c: sqlite3.Connection) -> None:
        c.execute("CREATE TABLE half_done (x)")
        raise sqlite3.OperationalError("disk on fire")

    monkeypatch.setattr(db, "MIGRATIONS", [db.MIGRATIONS[0], broken, *db.MIGRATIONS[2:]])
    with pytest.raises(sqlite3.OperationalError):
        db.migrate(conn, db.SCHEMA_VERSION)
    assert db.schema_version(conn) == 1
    assert conn.execute("SELECT name FROM sqlite_master WHERE name = 'half_done'").fetchone() is None


def test_newer_file_is_refused_with_a_clear_message(tmp_path: Path) -> None:
    conn = sqlite3.connect(tmp_path / "library.sqlite", isolation_level=None)
    conn.execute(f"PRAGMA user_version = {db.SCHEMA_VERSION + 1}")
    conn.close()
    with pytest.raises(LibraryError, match="newer than this app"):
        Library.open(tmp_path)


def test_damaged_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "library.sqlite").write_bytes(b"this is not a database" * 100)
    with pytest.raises(LibraryError, match="cannot be opened"):
        Library.open(tmp_path)


def test_data_dir_resolution(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LIPE_DATA_DIR", str(tmp_path / "env"))
    with Library.open() as lib:
        assert lib.data_dir == (tmp_path / "env").absolute()
        assert lib.db_path.is_file()
        assert lib.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert lib.conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    with Library.open(tmp_path / "explicit") as lib:
        assert lib.data_dir == (tmp_path / "explicit").absolute()
    (tmp_path / "afile").write_text("x")
    with pytest.raises(LibraryError, match="is a file"):
        Library.open(tmp_path / "afile")


def _lib_with_photos(tmp_path: Path, n: int = 3) -> tuple[Library, list]:
    photos = tmp_path / "photos"
    photos.mkdir()
    for i in range(n):
        Image.new("RGB", (64 + i, 48), (i * 40, 10, 200)).save(photos / f"p{i}.jpg")
    lib = Library.open(tmp_path / "data")
    lib.add_folder(photos)
    lib.scan()
    return lib, lib.list_photos(order="path")


def test_identities_links_and_confirmations(tmp_path: Path) -> None:
    lib, ps = _lib_with_photos(tmp_path)
    rex = lib.create_identity("Rex", "dog")
    assert (rex.token, rex.kind, rex.instance_prompt) == ("sks", "pet", "sks dog")
    ann = lib.create_identity("Ann", "woman")
    assert ann.token != rex.token and ann.kind == "person"
    with pytest.raises(LibraryError, match="already exists"):
        lib.create_identity("rex", "cat")
    with pytest.raises(LibraryError, match="class word"):
        lib.create_identity("Bad", "dog!!")
    with pytest.raises(LibraryError, match="does not exist: create it"):
        lib.get_identity("Nobody")
    with pytest.raises(LibraryError, match="role"):
        lib.add_identity_photos(rex, [ps[0]], role="hero")
    # all-or-nothing: one unknown photo means none is added
    with pytest.raises(LibraryError, match="not in the library"):
        lib.add_identity_photos(rex, [ps[0].id, 9999])
    assert lib.identity_photos(rex) == []
    lib.add_identity_photos(rex, [ps[0], ps[1].path], role="reference")
    lib.reject_identity_photos(rex, [ps[2]])
    # suggestions never override the user's decisions, only add new ones
    lib.suggest_identity_photos(rex, [(ps[0], 0.9), (ps[2], 0.99)])
    statuses = {x.photo.id: x.status for x in lib.identity_photos(rex, status=None)}
    assert statuses == {ps[0].id: "confirmed", ps[1].id: "confirmed", ps[2].id: "rejected"}
    lib.remove_identity_photos(rex, [ps[2]])
    lib.suggest_identity_photos(rex, [(ps[2], 0.5)])
    assert [(x.photo.id, x.score) for x in lib.identity_photos(rex, status="suggested")] == [(ps[2].id, 0.5)]
    lib.add_identity_photos(rex, [ps[1]], role="target")
    assert [x.role for x in lib.identity_photos(rex)] == ["reference", "target"]
    lib.close()


def test_captions_user_edits_are_never_silently_overwritten(tmp_path: Path) -> None:
    lib, ps = _lib_with_photos(tmp_path)
    rex = lib.create_identity("Rex", "dog")
    lib.set_caption(ps[0], "a dog on grass", model="blip")
    lib.set_caption(ps[0], "a sks dog on grass", identity=rex, model="blip")
    assert lib.get_caption(ps[0], identity=rex).text == "a sks dog on grass"
    assert lib.get_caption(ps[1], identity=rex) is None
    lib.set_caption(ps[0], "my  dog\non the lawn", identity=rex, by_user=True)
    with pytest.raises(CaptionEditedError, match="edited by the user"):
        lib.set_caption(ps[0], "machine text", identity=rex, model="blip")
    kept = lib.set_caption(ps[0], "machine text", identity=rex, model="blip", if_user_edited="keep")
    assert (kept.text, kept.edited_by_user) == ("my dog on the lawn", True)
    assert lib.get_caption(ps[0]).text == "a dog on grass"  # generic caption untouched
    over = lib.set_caption(ps[0], "machine text", identity=rex, if_user_edited="overwrite")
    assert (over.text, over.edited_by_user) == ("machine text", False)
    with pytest.raises(LibraryError, match="empty"):
        lib.set_caption(ps[0], "   ")
    lib.close()


def test_jobs_lifecycle(tmp_path: Path) -> None:
    lib, _ = _lib_with_photos(tmp_path, 1)
    j = lib.create_job("train", {"steps": 10})
    assert (j.state, j.progress, j.started_at) == ("queued", 0.0, None)
    claimed = lib.claim_next_job("train")
    assert claimed is not None and claimed.id == j.id and claimed.state == "running" and claimed.started_at
    assert lib.claim_next_job("train") is None
    lib.update_job(j.id, progress=0.25, message="step 1/4", log="loss 0.3")
    lib.update_job(j.id, log="loss 0.2")
    with pytest.raises(LibraryError, match="outside 0..1"):
        lib.update_job(j.id, progress=2)
    done = lib.update_job(j.id, state="done", result={"lora": "/x"})
    assert (done.state, done.progress, done.result, done.log) == (
        "done",
        1.0,
        {"lora": "/x"},
        "loss 0.3\nloss 0.2\n",
    )
    assert done.finished_at and done.finished
    with pytest.raises(LibraryError, match="already done"):
        lib.update_job(j.id, state="running")
    with pytest.raises(LibraryError, match="not JSON"):
        lib.create_job("train", {"x": object()})
    assert [x.id for x in lib.list_jobs(states=["done"])] == [j.id]
    lib.close()


def test_loras_and_edits_never_touch_originals(tmp_path: Path) -> None:
    lib, ps = _lib_with_photos(tmp_path, 1)
    rex = lib.create_identity("Rex", "dog")
    d = lib.new_lora_dir(rex)
    (d / "lora.safetensors").write_bytes(b"x")
    lora = lib.record_lora(rex, d / "lora.safetensors", "tiny-sdxl", {"rank": 4})
    assert lib.latest_lora(rex) == lora and lora.settings == {"rank": 4}
    with pytest.raises(LibraryError, match="an original photo"):
        lib.record_edit(ps[0], ps[0].path)
    out = lib.new_edit_path(ps[0])
    assert lib.data_dir in out.parents
    with pytest.raises(LibraryError, match="does not exist"):
        lib.record_edit(ps[0], out)
    Image.new("RGB", (8, 8)).save(out)
    e1 = lib.record_edit(
        ps[0], out, target_prompt="standing", params={"steps": 4}, identity=rex, lora_id=lora.id
    )
    out2 = lib.new_edit_path(ps[0])
    Image.new("RGB", (8, 8)).save(out2)
    e2 = lib.record_edit(ps[0], out2, parent_edit=e1.id)
    assert [e.id for e in lib.list_edits(ps[0])] == [e1.id, e2.id] and e2.parent_edit_id == e1.id
    lib.close()


def _writer(data_dir: str, n: int, barrier) -> None:
    lib = Library.open(data_dir)
    barrier.wait()
    for i in range(n):
        j = lib.create_job("caption", {"i": i})
        lib.update_job(j.id, state="running")
        lib.update_job(j.id, state="done", log=f"line {i}")
    lib.close()


def test_two_processes_and_threads_share_one_library(tmp_path: Path) -> None:
    Library.open(tmp_path).close()
    ctx = mp.get_context("spawn")
    barrier = ctx.Barrier(2)
    proc = ctx.Process(target=_writer, args=(str(tmp_path), 30, barrier))
    proc.start()
    thread_errors: list[BaseException] = []

    def reader() -> None:
        try:
            with Library.open(tmp_path) as lib2:
                for _ in range(30):
                    lib2.list_jobs()
        except BaseException as exc:  # pragma: no cover - reported below
            thread_errors.append(exc)

    t = threading.Thread(target=reader)
    t.start()
    _writer(str(tmp_path), 30, barrier)
    proc.join(60)
    t.join(60)
    assert proc.exitcode == 0 and not thread_errors
    with Library.open(tmp_path) as lib:
        jobs = lib.list_jobs()
        assert len(jobs) == 60 and all(j.state == "done" for j in jobs)


def _opener(data_dir: str, barrier) -> None:
    barrier.wait()
    with Library.open(data_dir) as lib:
        lib.create_identity(f"id{os.getpid()}", "dog", token=f"t{os.getpid()}")


def test_two_processes_create_the_same_fresh_library(tmp_path: Path) -> None:
    ctx = mp.get_context("spawn")
    barrier = ctx.Barrier(3)
    procs = [ctx.Process(target=_opener, args=(str(tmp_path), barrier)) for _ in range(3)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
    assert [p.exitcode for p in procs] == [0, 0, 0]
    with Library.open(tmp_path) as lib:
        assert db.schema_version(lib.conn) == db.SCHEMA_VERSION and len(lib.list_identities()) == 3


def test_forgetting_folders_and_identities_keeps_files(tmp_path: Path) -> None:
    lib, ps = _lib_with_photos(tmp_path, 2)
    rex = lib.create_identity("Rex", "dog")
    lib.add_identity_photos(rex, ps)
    lib.set_caption(ps[0], "a sks dog", identity=rex)
    out = lib.new_edit_path(ps[0])
    Image.new("RGB", (8, 8)).save(out)
    lib.record_edit(ps[0], out)
    lib.delete_identity(rex)
    assert lib.get_caption(ps[0], identity=None) is None
    assert lib.conn.execute("SELECT COUNT(*) FROM identity_photos").fetchone()[0] == 0
    lib.remove_folder(ps[0].folder_id)
    assert lib.count_photos(include_missing=True) == 0 and lib.list_edits() == []
    assert ps[0].path.is_file() and out.is_file()  # only records are forgotten
    lib.close()
