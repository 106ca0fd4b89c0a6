"""The hostile cases as a user meets them: the real `lipe` command in separate processes, so logging,
warnings and tracebacks on stderr are seen exactly as a terminal would show them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from hostile_helpers import hashes, integrity_ok, one_line_error, sha

from lipe_engine.library import Library
from lipe_engine.testing.libraries import make_photos

ROOT = Path(__file__).resolve().parents[2]


def lipe(*argv, data: Path | None = None) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1", HF_HUB_OFFLINE="1")
    if data is not None:
        env["LIPE_DATA_DIR"] = str(data)
    return subprocess.Popen([sys.executable, "-m", "lipe_engine", *map(str, argv)], env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def finish(p: subprocess.Popen) -> tuple[int, str, str]:
    out, err = p.communicate(timeout=300)
    return p.returncode, out, err


def test_two_lipe_library_scans_at_once_both_succeed(tmp_path: Path) -> None:
    photos = make_photos(tmp_path / "pics", 60, (64, 48))
    before = hashes(photos)
    data = tmp_path / "data"
    with Library.open(data) as lib:
        lib.add_folder(tmp_path / "pics")
    procs = [lipe("library", "scan", "-q", data=data) for _ in range(2)]
    results = [finish(p) for p in procs]
    assert [r[0] for r in results] == [0, 0], [r[2] for r in results]
    assert all("Traceback" not in r[2] for r in results)
    with Library.open(data) as lib:
        assert lib.count_photos() == 60
    assert hashes(photos) == before
    integrity_ok(data / "library.sqlite")


def test_a_damaged_library_is_one_line_from_the_real_command(tmp_path: Path) -> None:
    from test_hostile_library import _damage_a_page

    make_photos(tmp_path / "pics", 6)
    data = tmp_path / "data"
    with Library.open(data) as lib:
        lib.scan([lib.add_folder(tmp_path / "pics").id])
        lib.create_identity("Rex", "dog")
    with Library.open(data) as lib:
        lib.backup_now("manual")
    _damage_a_page(data / "library.sqlite")
    damaged = sha(data / "library.sqlite")
    for argv in (("identity", "list"), ("identity", "create", "Tom", "--class", "cat")):
        rc, _, err = finish(lipe(*argv, data=data))
        assert rc == 2
        one_line_error(err, "damaged", "lipe library restore")
    assert sha(data / "library.sqlite") == damaged


def test_editing_a_missing_photo_is_one_line_from_the_real_command(tmp_path: Path) -> None:
    rc, out, err = finish(lipe("edit", tmp_path / "missing.jpg", "--prompt-source", "a photo of a sks dog",
                               "--prompt-target", "a photo of a sks dog standing", "--identity-prompt", "a sks dog",
                               "--model", tmp_path / "no-model", "--out", tmp_path / "o.png",
                               data=tmp_path / "data"))
    assert rc == 2
    one_line_error(err, "missing.jpg", "does not exist")
    assert not (tmp_path / "o.png").exists()
