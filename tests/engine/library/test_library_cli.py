"""`lipe library ...` and `lipe identity ...` end to end, plus dataset export for kohya/OneTrainer."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image
from test_library_scan import add_bad_files, assert_unchanged, jpeg_with_exif, snapshot

from lipe_engine.cli import main
from lipe_engine.library import Library, LibraryError
from lipe_engine.library.export import MARKER, caption_for_training, export_identity


@pytest.fixture()
def photos(tmp_path: Path) -> Path:
    root = tmp_path / "Pictures"
    root.mkdir()
    jpeg_with_exif(root / "rotated.jpg", orientation=6)
    for i in range(3):
        Image.new("RGB", (80 + i, 60), (i * 60, 90, 30)).save(root / f"dog{i}.jpg")
    Image.new("RGBA", (50, 50), (0, 0, 255, 100)).save(root / "ünïcode dog.png")
    return root


def run(*argv: str) -> int:
    return main(list(argv))


def test_cli_library_and_identity_flow(tmp_path: Path, photos: Path, capsys: pytest.CaptureFixture) -> None:
    add_bad_files(photos)
    before = snapshot(photos)
    dd = ["--data-dir", str(tmp_path / "data")]
    assert run("library", "add", str(photos), "-q", *dd) == 0
    out = capsys.readouterr().out
    assert "5 added" in out and "skipped" in out and "empty (0 bytes)" in out
    assert run("library", "scan", "-q", *dd) == 0
    assert "0 added, 0 changed, 0 removed, 5 unchanged" in capsys.readouterr().out
    assert run("library", "list", "--json", *dd) == 0
    rows = json.loads(capsys.readouterr().out)
    assert len(rows) == 5 and {"id", "path", "width", "height", "taken_at", "hash"} <= set(rows[0])
    assert run("library", "folders", *dd) == 0 and "5 photos" in capsys.readouterr().out
    assert run("library", "issues", *dd) == 0 and "truncated" in capsys.readouterr().out

    assert run("identity", "create", "Rex", "--class", "dog", *dd) == 0
    assert '"sks dog"' in capsys.readouterr().out
    assert run("identity", "add", "Rex", str(photos / "dog0.jpg"), str(photos / "dog1.jpg"), *dd) == 0
    assert run("identity", "add", "Rex", str(photos / "rotated.jpg"), "--role", "target", *dd) == 0
    capsys.readouterr()
    assert run("identity", "show", "Rex", *dd) == 0
    shown = capsys.readouterr().out
    assert shown.count("reference confirmed") == 2 and shown.count("target") == 1
    assert run("identity", "list", *dd) == 0
    assert "2 reference, 1 target" in capsys.readouterr().out

    # bad input: one line, exit code 2, names the thing and the fix
    assert run("identity", "add", "Nobody", str(photos / "dog0.jpg"), *dd) == 2
    err = capsys.readouterr().err.strip()
    assert (
        err.count("\n") == 0 and "identity 'Nobody' does not exist" in err and "lipe identity create" in err
    )
    assert run("identity", "add", "Rex", str(tmp_path / "elsewhere.jpg"), *dd) == 2
    assert "not in the library" in capsys.readouterr().err
    assert run("library", "add", str(tmp_path / "nope"), *dd) == 2
    assert "does not exist" in capsys.readouterr().err
    assert run("identity", "create", "Rex", "--class", "dog", *dd) == 2
    assert "already exists" in capsys.readouterr().err

    ds = tmp_path / "dataset"
    assert run("identity", "export", "Rex", str(ds), "-q", *dd) == 0
    assert sorted(p.name for p in ds.iterdir()) == [
        MARKER,
        "001_dog0.jpg",
        "001_dog0.txt",
        "002_dog1.jpg",
        "002_dog1.txt",
    ]
    assert (ds / "001_dog0.txt").read_text().strip() == "a photo of sks dog"
    assert run("identity", "remove", "Rex", str(photos / "dog1.jpg"), "--reject", *dd) == 0
    assert_unchanged(before)


def test_export_captions_orientation_and_safety(tmp_path: Path, photos: Path) -> None:
    before = snapshot(photos)
    with Library.open(tmp_path / "data") as lib:
        lib.add_folder(photos)
        lib.scan()
        rex = lib.create_identity("Rex", "dog")
        rot, d0, uni = (lib.get_photo(photos / n) for n in ("rotated.jpg", "dog0.jpg", "ünïcode dog.png"))
        with pytest.raises(LibraryError, match="no reference photos"):
            export_identity(lib, rex, tmp_path / "ds")
        lib.add_identity_photos(rex, [rot, d0, uni])
        lib.set_caption(d0, "a dog lying on a red sofa", model="blip")  # generic: token gets inserted
        lib.set_caption(uni, "my sks dog in the blue hour", identity=rex, by_user=True)
        res = export_identity(lib, rex, tmp_path / "ds", kohya_repeats=10, max_size=100)
        assert res.dir == tmp_path / "ds" / "10_sks dog"
        files = sorted(p.name for p in res.dir.iterdir())
        assert len(files) == 6 and all(f.endswith((".jpg", ".png", ".txt")) for f in files)
        texts = {p.stem: p.read_text().strip() for p in res.dir.glob("*.txt")}
        assert set(texts.values()) == {
            "a photo of sks dog",
            "a sks dog lying on a red sofa",
            "my sks dog in the blue hour",
        }
        by_stem = {p.stem: p for p in res.images}
        for stem in texts:
            assert stem in by_stem  # every image has a same-stem caption
        rot_out = next(p for p in res.images if "rotated" in p.name)
        with Image.open(rot_out) as im:
            assert im.size == (67, 100) and rot_out.suffix == ".png"  # upright, downscaled
        d0_out = next(p for p in res.images if "dog0" in p.name)
        assert d0_out.read_bytes() == d0.path.read_bytes()  # copied byte for byte
        assert all(n.isascii() for n in files)
        # re-export over an earlier export is fine; over other data, or into the library, is refused
        export_identity(lib, rex, tmp_path / "ds")
        assert not (tmp_path / "ds" / "10_sks dog").exists()
        (tmp_path / "other").mkdir()
        (tmp_path / "other" / "thesis.txt").write_text("precious")
        with pytest.raises(LibraryError, match="not empty"):
            export_identity(lib, rex, tmp_path / "other")
        with pytest.raises(LibraryError, match="inside library folder"):
            export_identity(lib, rex, photos / "export")
        assert not any(p.name.startswith(".ds.partial") for p in tmp_path.iterdir())
    assert_unchanged(before)


def test_caption_for_training() -> None:
    from lipe_engine.library.records import Identity

    ident = Identity(1, "Rex", "dog", "sks", "pet", "")
    assert caption_for_training(None, ident) == "a photo of sks dog"
    assert caption_for_training("A Dog running", ident) == "A sks dog running"
    assert caption_for_training("a sks dog", ident) == "a sks dog"
    assert caption_for_training("grass and sky", ident) == "a photo of sks dog, grass and sky"


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX processes")
def test_cli_and_another_process_share_the_library(tmp_path: Path, photos: Path) -> None:
    """The GUI holds the library open (and writes) while the CLI scans in another process."""
    env = dict(os.environ, LIPE_DATA_DIR=str(tmp_path / "data"))
    with Library.open(tmp_path / "data") as gui:
        gui.add_folder(photos)
        gui.conn.execute("BEGIN")  # a long-lived reader (the GUI browsing)
        gui.conn.execute("SELECT COUNT(*) FROM photos").fetchone()
        proc = subprocess.Popen(
            [sys.executable, "-m", "lipe_engine", "library", "scan", "-q"],
            env=env,
            stdout=subprocess.PIPE,
            text=True,
        )
        for i in range(20):
            gui.conn.execute("SELECT COUNT(*) FROM photos").fetchone()
            if i == 10:
                gui.conn.execute("COMMIT")
                gui.create_job("caption", {"i": i})  # the GUI writes while the CLI scans
        out, _ = proc.communicate(timeout=120)
        assert proc.returncode == 0 and "5 added" in out
        assert gui.count_photos() == 5 and len(gui.list_jobs()) == 1


def test_cancelled_export_leaves_nothing(tmp_path: Path, photos: Path) -> None:
    from lipe_engine.errors import Cancelled
    from lipe_engine.progress import CancelToken

    token = CancelToken()
    with Library.open(tmp_path / "data") as lib:
        lib.add_folder(photos)
        lib.scan()
        rex = lib.create_identity("Rex", "dog")
        lib.add_identity_photos(rex, lib.list_photos())
        events = []

        def on_event(ev) -> None:
            events.append(ev)
            if ev.step == 2:
                token.cancel()

        with pytest.raises(Cancelled):
            export_identity(lib, rex, tmp_path / "ds", progress=on_event, cancel=token)
        assert events[0].total == 5 and events[-1].step == 2
        assert sorted(p.name for p in tmp_path.iterdir()) == ["Pictures", "data"]
