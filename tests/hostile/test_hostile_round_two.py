"""Hostile run, round two: the tracebacks and wrong behaviours of issue 26, each through the real ``lipe``
command where the bug was in the CLI (a separate process where the terminal matters: argv bytes, a
closed stdout), and each checking the exit code, one line on stderr, and that nothing was lost."""

from __future__ import annotations

import errno
import io
import os
import sqlite3
import struct
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from hostile_helpers import hashes, integrity_ok, no_model_load, one_line_error, run_cli
from PIL import Image

from lipe_engine.errors import InputError
from lipe_engine.library import Library, LibraryError, backup, db, opening
from lipe_engine.testing.libraries import make_photos

ROOT = Path(__file__).resolve().parents[2]


def lipe_bytes(*argv: str | bytes, data: Path, stdout_closed: bool = False) -> tuple[int, str]:
    """The real command in its own process with raw argv bytes; returns (rc, stderr)."""
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1", HF_HUB_OFFLINE="1", LIPE_DATA_DIR=str(data))
    cmd = [sys.executable, "-m", "lipe_engine", *argv]
    if stdout_closed:
        script = 'import os, sys; os.close(1); os.execv(sys.executable, sys.argv[1:])'
        cmd = [sys.executable, "-c", script, *cmd]
    r = subprocess.run(cmd, env=env, capture_output=not stdout_closed, stderr=subprocess.PIPE if stdout_closed else None,
                       timeout=120)
    return r.returncode, r.stderr.decode("utf-8", "replace")


# --- tracebacks ------------------------------------------------------------------------------------


@pytest.mark.parametrize("argv", [
    ("library", "add", b"{tmp}/pics\xff"), ("library", "scan", b"{tmp}/pics\xff"),
    ("library", "remove", b"{tmp}/pics\xff"), ("library", "list", "--folder", b"{tmp}/pics\xff"),
    ("identity", "add", "Rex", b"{tmp}/pics\xff/a\xfe.jpg"),
    ("edit", "{tmp}/pics/photo_000.jpg", "--prompt-source", b"a \xff dog", "--prompt-target", "a dog",
     "--identity-prompt", "a sks dog", "--out", "{tmp}/o.png"),
])
def test_arguments_that_are_not_utf8_are_one_line(lib_dir, argv) -> None:
    data, photos = lib_dir
    tmp = os.fsencode(data.parent)
    (data.parent / os.fsdecode(b"pics\xff")).mkdir()
    make_photos(Path(os.fsdecode(tmp + b"/pics\xff")), 1)[0].rename(os.fsdecode(tmp + b"/pics\xff/a\xfe.jpg"))
    before = hashes(photos)
    args = [a.replace(b"{tmp}", tmp) if isinstance(a, bytes) else a.replace("{tmp}", str(data.parent)) for a in argv]
    rc, err = lipe_bytes(*args, data=data)
    assert rc == 2, err
    one_line_error(err, "UTF-8")
    assert hashes(photos) == before
    integrity_ok(data / "library.sqlite")


def test_a_closed_stdout_is_no_traceback(lib_dir) -> None:
    data, _ = lib_dir
    for argv in (("library", "list", "--json"),):  # (the hostile run covers the other commands >&-)
        rc, err = lipe_bytes(*argv, data=data, stdout_closed=True)
        assert "Traceback" not in err, err
        assert rc == 0, err


def test_odd_values_in_a_valid_database_are_listed_not_tracebacks(lib_dir, capsys) -> None:
    data, _ = lib_dir
    with Library.open(data) as lib:
        lib.create_job("train", {"steps": 1}, identity=lib.get_identity("Rex").id)
    conn = sqlite3.connect(data / "library.sqlite")
    conn.execute("UPDATE photos SET path = ? WHERE id = 1", (b"/somewhere/\xffblob.jpg",))
    conn.execute("UPDATE photos SET taken_at = ? WHERE id = 2", (b"\x00\x01",))
    conn.execute("UPDATE jobs SET config = '{broken', result = 'nope'")
    conn.commit()
    conn.close()
    for argv in (("library", "list"), ("library", "list", "--json"), ("queue", "list"), ("queue", "show", "1"),
                 ("identity", "show", "Rex")):
        rc, out, err = run_cli(capsys, *argv, "--data-dir", data)
        assert rc == 0, (argv, err)
        assert "Traceback" not in err
    rc, out, err = run_cli(capsys, "queue", "run", "--data-dir", data)  # the job fails in its record, in one line
    assert "Traceback" not in err and "failed" in out


def test_a_pickled_text_encoder_and_a_garbage_tokenizer_are_one_line(tiny_sdxl_dir, tmp_path, capsys) -> None:
    import shutil

    from lipe_engine.errors import ModelLoadError
    from lipe_engine.models.loader import load_sdxl

    for damage in ("pickle", "tokenizer"):
        model = tmp_path / damage
        shutil.copytree(tiny_sdxl_dir, model)
        if damage == "pickle":
            for f in (model / "text_encoder").glob("*.safetensors"):
                f.unlink()

            class Evil:
                def __reduce__(self):
                    return (os.system, ("touch " + str(tmp_path / "pwned"),))

            torch.save({"x": Evil()}, model / "text_encoder" / "pytorch_model.bin")
        else:
            (model / "tokenizer" / "tokenizer.json").write_text("{garbage")
            (model / "tokenizer" / "vocab.json").write_text("{garbage")
        with pytest.raises(ModelLoadError) as info:
            load_sdxl(str(model), device="cpu", dtype="fp32")
        assert "\n" not in str(info.value)
        assert not (tmp_path / "pwned").exists()


def _bomb_png(path: Path, side: int = 60000) -> None:
    import zlib

    raw = zlib.compress(b"\x00" * 64)
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", side, side, 8, 2, 0, 0, 0))
                     + chunk(b"IDAT", raw) + chunk(b"IEND", b""))


def test_a_reference_replaced_by_a_bomb_after_the_scan_is_one_line(lib_dir, capsys, tmp_path, monkeypatch) -> None:
    no_model_load(monkeypatch)
    data, photos = lib_dir
    bomb = tmp_path / "bomb.png"
    _bomb_png(bomb)
    photos[0].write_bytes(bomb.read_bytes())  # the user's file changed after the scan
    for argv in (("caption", "Rex", "--quiet"), ("identity", "export", "Rex", tmp_path / "E", "-q"),
                 ("train", "Rex", "--steps", "1", "--quiet")):
        rc, _, err = run_cli(capsys, *argv, "--data-dir", data)
        assert rc == 2, (argv, err)
        one_line_error(err, "too large to decode safely")
    from lipe_engine.training.data import load_examples

    with pytest.raises(InputError, match="too large"):
        load_examples([(bomb, "a sks dog")], 64, "reference photo")


def test_a_damaged_latent_cache_is_rebuilt(tmp_path) -> None:
    from lipe_engine.training.data import encode_latents, load_examples

    class Vae:  # the smallest VAE encode_pixels accepts: a posterior mean, a shift and a scale
        class config:
            block_out_channels = (4, 4)
            latent_channels = 4
            scaling_factor = 1.0
            shift_factor = None
        dtype = torch.float32
        device = torch.device("cpu")

        def encode(self, x):
            class Dist:
                latent_dist = type("D", (), {"mean": torch.nn.functional.avg_pool2d(x.repeat(1, 2, 1, 1)[:, :4], 2)})
            return Dist()

    examples = load_examples([(Image.new("RGB", (16, 16), (9, 90, 200)), "a sks dog")], 16, "reference photo")
    cache = tmp_path / "cache"
    cache.mkdir()
    first = encode_latents(Vae(), examples, torch.device("cpu"), cache)
    for damage in (b"garbage" * 10, "wrong shape"):
        if isinstance(damage, bytes):
            (cache / "latents.safetensors").write_bytes(damage)
        else:
            from safetensors.torch import save_file

            save_file({examples[0].digest: torch.zeros(3, 2, 2)}, str(cache / "latents.safetensors"))
        again = encode_latents(Vae(), examples, torch.device("cpu"), cache)
        assert torch.equal(again, first)


def test_a_wrong_inversion_cache_entry_is_recomputed(tmp_path) -> None:
    from lipe_engine.nima.cache import InversionCache

    cache = InversionCache(tmp_path)
    for entry in ({"xs": "text"}, [1, 2, 3], {"xs": torch.zeros(3, 4, 8, 8), "zs": {"9": torch.zeros(1)}},
                  {"xs": torch.zeros(3, 4, 8, 8), "zs": {}, "timesteps": torch.tensor([1, 2]),
                   "abar": torch.ones(2), "abar_prev": torch.ones(2), "skip": 0,
                   "store": {"hw": (2, 2), "ca_sum": torch.zeros(1, 3), "sa_sum": torch.zeros(1, 4, 4),
                             "ca_count": 1, "sa_count": 1}}):
        torch.save(entry, tmp_path / "k.pt")
        assert cache.get("k", torch.device("cpu")) is None  # a miss (recomputed), not a crash
        assert not (tmp_path / "k.pt").exists()


def test_two_trainings_into_one_output_folder_are_refused(tmp_path) -> None:
    from lipe_engine.training.output_lock import training_output_lock

    out = tmp_path / "prior"
    out.mkdir()
    # another training holding the folder (the same OS lock, without importing torch: fast)
    code = ("import fcntl, os, sys, time; fh = open(sys.argv[1], 'a+'); fcntl.flock(fh, fcntl.LOCK_EX)\n"
            "fh.write(str(os.getpid())); fh.flush(); print('held', flush=True); time.sleep(30)")
    holder = subprocess.Popen([sys.executable, "-c", code, str(out / ".lipe-train.lock")], stdout=subprocess.PIPE,
                              text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        with pytest.raises(InputError, match="in use by another training") as info, training_output_lock(out):
            pass
        assert str(holder.pid) in str(info.value)
    finally:
        holder.kill()
        holder.wait()
    with training_output_lock(out):  # released when its process died (kill -9 leaves no stale lock)
        pass


def test_demo_refuses_seed_before_loading(capsys, tmp_path, monkeypatch) -> None:
    no_model_load(monkeypatch)
    rc, _, err = run_cli(capsys, "demo", "--seed", "-1", "--out", tmp_path / "d")
    assert rc == 2
    one_line_error(err, "--seed -1")


# --- wrong behaviours ------------------------------------------------------------------------------


def test_a_locked_library_is_named_locked_not_damaged(lib_dir, capsys, monkeypatch) -> None:
    data, _ = lib_dir
    monkeypatch.setattr(db, "BUSY_TIMEOUT_S", 0.3)
    holder = sqlite3.connect(data / "library.sqlite", isolation_level=None)
    holder.execute("PRAGMA locking_mode = EXCLUSIVE")
    holder.execute("BEGIN EXCLUSIVE")
    try:
        rc, _, err = run_cli(capsys, "library", "list", "--data-dir", data)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert rc == 2
    line = one_line_error(err, "locked")
    assert "damaged" not in line and "restore" not in line


def test_a_full_database_disk_is_named_full(lib_dir) -> None:
    data, _ = lib_dir
    with Library.open(data) as lib:
        pages = lib.conn.execute("PRAGMA page_count").fetchone()[0]
        lib.conn.execute(f"PRAGMA max_page_count = {pages}")  # as if the disk had no room left
        with pytest.raises(LibraryError) as info:
            for i in range(500):
                lib.create_job("train", {"notes": "x" * 4000 + str(i)})
    assert "full" in str(info.value) and "damaged" not in str(info.value)
    integrity_ok(data / "library.sqlite")


@pytest.mark.parametrize("text", ["database is locked", "database or disk is full", "attempt to write a readonly database"])
def test_locks_full_disks_and_read_only_files_are_never_called_damaged(text) -> None:
    err = opening.database_error(Path("/x/library.sqlite"), sqlite3.OperationalError(text))
    assert "damaged" not in str(err) and "restore" not in str(err)


def test_an_interrupted_write_leaves_nothing_under_the_final_name(tmp_path) -> None:
    from lipe_engine.library.safe_paths import write_new_file

    out = tmp_path / "edited.png"

    def full_disk(fh) -> None:
        fh.write(b"\x89PNG half")
        raise OSError(errno.ENOSPC, "No space left on device")

    with pytest.raises(InputError, match="disk is full"):
        write_new_file(out, full_disk)
    assert not out.exists() and list(tmp_path.iterdir()) == []
    write_new_file(out, lambda fh: fh.write(b"whole"))  # the rerun is not refused as "already exists"
    assert out.read_bytes() == b"whole"
    with pytest.raises(InputError, match="appeared"):
        write_new_file(out, lambda fh: fh.write(b"again"))
    assert out.read_bytes() == b"whole"


def test_a_backup_on_a_full_disk_leaves_no_partial_file(lib_dir) -> None:
    data, _ = lib_dir

    class FullDisk:
        def backup(self, dst) -> None:
            raise sqlite3.OperationalError("database or disk is full")

    d = backup.backups_dir(data)
    d.mkdir(parents=True, exist_ok=True)
    stale = d / ".library-20260101T000000Z-daily.sqlite.999999999-1.partial"  # a killed process's
    stale.write_bytes(b"half")
    before = sorted(p.name for p in d.iterdir() if p != stale)
    for _ in range(3):
        with pytest.raises(sqlite3.OperationalError):
            backup.make_backup(FullDisk(), data, "daily")  # type: ignore[arg-type]
    assert sorted(p.name for p in d.iterdir()) == before


def test_photo_folders_replaced_by_files_are_flagged_missing(tmp_path, capsys) -> None:
    make_photos(tmp_path / "pics" / "sub", 2)
    make_photos(tmp_path / "other", 2)
    data = tmp_path / "data"
    with Library.open(data) as lib:
        lib.scan([lib.add_folder(tmp_path / "pics").id, lib.add_folder(tmp_path / "other").id])
    import shutil

    shutil.rmtree(tmp_path / "pics" / "sub")
    (tmp_path / "pics" / "sub").write_text("a file now")
    shutil.rmtree(tmp_path / "other")
    (tmp_path / "other").write_text("a file now")
    rc, _, err = run_cli(capsys, "library", "scan", "--data-dir", data, "-q")
    assert rc == 0, err
    with Library.open(data) as lib:
        assert lib.count_photos() == 0 or all(p.missing for p in lib.list_photos(include_missing=True))
        assert lib.list_photos() == []


def test_heic_without_its_plugin_is_an_issue_line(tmp_path, capsys, monkeypatch) -> None:
    from lipe_engine.library import scan

    monkeypatch.setattr(scan, "PHOTO_EXTENSIONS", scan.PHOTO_EXTENSIONS - {".heic", ".heif"})  # no pillow-heif
    make_photos(tmp_path / "pics", 1)
    (tmp_path / "pics" / "IMG_0001.HEIC").write_bytes(b"\x00\x00\x00\x18ftypheic" + b"\x00" * 100)
    data = tmp_path / "data"
    rc, _, err = run_cli(capsys, "library", "add", tmp_path / "pics", "--data-dir", data, "-q")
    assert rc == 0, err
    rc, out, _ = run_cli(capsys, "library", "issues", "--data-dir", data)
    assert "IMG_0001.HEIC" in out and "pillow-heif" in out


def test_photo_ids_are_not_reused_after_a_folder_is_removed(tmp_path, capsys) -> None:
    import json

    make_photos(tmp_path / "a", 2)
    make_photos(tmp_path / "b", 2)
    make_photos(tmp_path / "c", 2)
    data = tmp_path / "data"
    for folder in ("a", "b"):
        assert run_cli(capsys, "library", "add", tmp_path / folder, "--data-dir", data, "-q")[0] == 0
    rc, out, _ = run_cli(capsys, "library", "list", "--json", "--folder", tmp_path / "b", "--data-dir", data)
    b_ids = {r["id"] for r in json.loads(out)}
    assert run_cli(capsys, "library", "remove", tmp_path / "b", "--data-dir", data)[0] == 0
    assert run_cli(capsys, "library", "add", tmp_path / "c", "--data-dir", data, "-q")[0] == 0
    rc, out, _ = run_cli(capsys, "library", "list", "--json", "--folder", tmp_path / "c", "--data-dir", data)
    assert not {r["id"] for r in json.loads(out)} & b_ids


def test_identity_ids_are_not_reused_after_restoring_an_older_backup(lib_dir, capsys) -> None:
    data, _ = lib_dir
    with Library.open(data) as lib:
        lib.backup_now("manual")
        newer = lib.create_identity("Max", "cat")
        (data / "loras" / str(newer.id)).mkdir(parents=True)
    name = backup.list_backups(data)[-1].name
    rc, _, err = run_cli(capsys, "library", "restore", name, "--data-dir", data)
    assert rc == 0, err
    with Library.open(data) as lib:
        assert lib.create_identity("Bob", "dog").id > newer.id  # would adopt loras/<Max's id>/


def test_a_lora_recorded_again_on_resume_is_one_row(lib_dir, tmp_path) -> None:
    data, _ = lib_dir
    with Library.open(data) as lib:
        rex = lib.get_identity("Rex")
        job = lib.create_job("train", {}, identity=rex.id)
        folder = lib.new_lora_dir(rex)
        first = lib.record_lora(rex, folder, "base", {"rank": 4}, job_id=job.id)
        again = lib.record_lora(rex, folder, "base", {"rank": 4}, job_id=job.id)  # the resumed runner
        assert again.id == first.id and len(lib.list_loras(rex)) == 1


def _tiff_orientation(kind: str) -> bytes:
    typ, count, value = {"text": (2, 4, b"abc\x00"), "bytes": (7, 1, b"\x06\x00\x00\x00"),
                         "zero": (3, 1, b"\x00\x00\x00\x00")}[kind]
    body = b"II*\x00" + struct.pack("<I", 8) + struct.pack("<H", 1) + struct.pack("<HHI", 0x0112, typ, count)
    return b"Exif\x00\x00" + body + value + struct.pack("<I", 0)


def test_photos_with_a_malformed_orientation_tag_are_imported_like_a_viewer_shows_them(tmp_path, capsys) -> None:
    folder = tmp_path / "pics"
    folder.mkdir()
    for kind in ("text", "bytes", "zero"):
        buf = io.BytesIO()
        Image.new("RGB", (40, 20), (200, 30, 30)).save(buf, "JPEG", exif=_tiff_orientation(kind))
        (folder / f"{kind}.jpg").write_bytes(buf.getvalue())
    data = tmp_path / "data"
    rc, out, err = run_cli(capsys, "library", "add", folder, "--data-dir", data)
    assert rc == 0, err
    assert "3 added" in out and "0 skipped" in out, out
    from lipe_engine.photo_reader import open_photo

    with Library.open(data) as lib:
        for p in lib.list_photos():
            assert (p.width, p.height) == open_photo(p.path).size  # the record and the pixels agree
            lib.thumbnails.get(p)


def test_a_transparent_png_looks_the_same_to_every_reader(tmp_path) -> None:
    from lipe_engine.images import prepare_image
    from lipe_engine.library.thumbs import render_thumbnail
    from lipe_engine.photo_reader import open_photo, open_unloaded

    img = Image.new("RGBA", (32, 32), (255, 0, 0, 0))
    img.paste((0, 0, 255, 255), (8, 8, 24, 24))
    path = tmp_path / "cutout.png"
    img.save(path)
    trainer = open_photo(path, "reference photo")
    editor = prepare_image(path, 32, 8).original
    thumb = render_thumbnail(open_unloaded(path), 32)
    assert trainer.getpixel((0, 0)) == editor.getpixel((0, 0)) == thumb.getpixel((0, 0)) == (255, 255, 255)
    assert trainer.tobytes() == editor.tobytes()


@pytest.mark.parametrize("argv", [("frobnicate",), ("library", "list", "--limit", "abc"), ("library",),
                                  ("identity", "export", "Rex")])
def test_usage_errors_are_one_line(capsys, argv) -> None:
    from lipe_engine.cli import main

    capsys.readouterr()
    with pytest.raises(SystemExit) as info:
        main(list(argv))
    assert info.value.code == 2
    one_line_error(capsys.readouterr().err, "lipe: error:", "--help")
