"""Folder import/rescan with real and generated photos, bad files, cancellation, thumbnails.

Every test snapshots the sha256 of every file under the photo folders first and checks after each
operation that not one byte of an original changed.
"""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import struct
import zlib
from pathlib import Path

import pytest
from PIL import Image

from lipe_engine.errors import Cancelled
from lipe_engine.library import Library, LibraryError
from lipe_engine.library import scan as scan_mod
from lipe_engine.library.thumbs import ThumbnailCache, render_thumbnail
from lipe_engine.progress import CancelToken, ProgressEvent


def snapshot(root: Path) -> dict[str, str]:
    out = {}
    for dirpath, _dirs, files in os.walk(root):  # does not follow symlinked folders: no loops
        for f in files:
            p = os.path.join(dirpath, f)
            if os.path.isfile(p):
                with open(p, "rb") as fh:
                    out[p] = hashlib.sha256(fh.read()).hexdigest()
    return out


def assert_unchanged(before: dict[str, str]) -> None:
    for p, h in before.items():
        if os.path.exists(p):
            with open(p, "rb") as fh:
                assert hashlib.sha256(fh.read()).hexdigest() == h, f"original {p} was modified"


def jpeg_with_exif(
    path: Path, size=(120, 80), orientation: int = 6, taken: str = "2021:07:04 12:30:00"
) -> None:
    img = Image.new("RGB", size, (200, 30, 30))
    img.paste((30, 30, 200), (0, 0, size[0] // 2, size[1]))
    exif = Image.Exif()
    exif[0x0112] = orientation
    exif.get_ifd(0x8769)[0x9003] = taken
    img.save(path, "JPEG", exif=exif.tobytes(), quality=90)


def bomb_png(path: Path, side: int = 60000) -> None:
    """A tiny PNG whose header claims side x side pixels (far over Pillow's bomb limit)."""
    buf = io.BytesIO()
    Image.new("L", (4, 4)).save(buf, "PNG")
    data = bytearray(buf.getvalue())
    ihdr = bytearray(data[16:29])
    ihdr[0:8] = struct.pack(">II", side, side)
    data[16:29] = ihdr
    data[29:33] = struct.pack(">I", zlib.crc32(b"IHDR" + bytes(ihdr)) & 0xFFFFFFFF)
    path.write_bytes(bytes(data))


@pytest.fixture()
def photo_tree(tmp_path: Path) -> Path:
    root = tmp_path / "Photos"
    (root / "trip" / "day1").mkdir(parents=True)
    jpeg_with_exif(root / "rotated.jpg")
    Image.new("RGBA", (90, 60), (0, 200, 0, 128)).save(root / "alpha.png")
    Image.new("RGB", (70, 50), (10, 100, 10)).save(root / "trip" / "green.webp", "WEBP")
    Image.new("RGB", (300, 200), (50, 60, 70)).save(root / "trip" / "day1" / "big.jpg", quality=95)
    shutil.copy(root / "rotated.jpg", root / "trip" / "copy of rotated.jpg")  # duplicate
    Image.new("RGB", (40, 40), (1, 2, 3)).save(root / "trip" / "été 写真 🐶.jpg")  # unicode name
    (root / "notes.txt").write_text("not a photo type, ignored")
    (root / ".hidden").mkdir()
    Image.new("RGB", (40, 40)).save(root / ".hidden" / "h.jpg")
    return root


def add_bad_files(root: Path) -> dict[str, str]:
    bad = root / "bad"
    bad.mkdir()
    (bad / "empty.jpg").write_bytes(b"")
    full = io.BytesIO()
    Image.effect_noise((400, 300), 60).convert("RGB").save(full, "JPEG", quality=90)
    (bad / "truncated.jpg").write_bytes(full.getvalue()[: len(full.getvalue()) // 2])
    (bad / "letter.jpg").write_text("Dear Sir, this is a letter, not a photo.")
    bomb_png(bad / "bomb.png")
    os.symlink("..", bad / "loop")  # bad/loop -> root: a symlink loop
    os.symlink(bad / "self", bad / "self")  # a link to itself
    (bad / os.fsdecode(b"latin1-\xe9t\xe9.jpg")).write_bytes(b"x")
    return {
        "empty.jpg": "empty (0 bytes)",
        "truncated.jpg": "truncated",
        "letter.jpg": "not an image",
        "bomb.png": "decompression bomb",
        "loop": "symlink loop",
        "latin1-": "not valid UTF-8",
    }


def test_import_generated_tree_and_bad_files(tmp_path: Path, photo_tree: Path) -> None:
    expected = add_bad_files(photo_tree)
    before = snapshot(photo_tree)
    events: list[ProgressEvent] = []
    with Library.open(tmp_path / "data") as lib:
        lib.add_folder(photo_tree)
        report = lib.scan(progress=events.append)
        assert_unchanged(before)
        assert report.added == 6 and report.duplicates == 1 and report.removed == 0
        reasons = " | ".join(f"{p}: {r}" for p, r in report.skipped)
        for name, reason in expected.items():
            assert any(name in p and reason in r for p, r in report.skipped), (name, reasons)
        assert len(report.skipped) == len(expected)
        assert lib.scan_issues() and len(lib.scan_issues()) == len(expected)
        names = {p.path.name for p in lib.list_photos()}
        assert names == {
            "rotated.jpg",
            "alpha.png",
            "green.webp",
            "big.jpg",
            "copy of rotated.jpg",
            "été 写真 🐶.jpg",
        }
        rot = lib.get_photo(photo_tree / "rotated.jpg")
        assert (rot.width, rot.height, rot.orientation, rot.taken_at) == (80, 120, 6, "2021-07-04T12:30:00")
        dup = lib.get_photo(photo_tree / "trip" / "copy of rotated.jpg")
        assert dup.duplicate_of == rot.id and dup.content_hash == rot.content_hash
        assert [p.id for p in lib.duplicates_of(rot)] == [dup.id]
        assert len(lib.list_photos(include_duplicates=False)) == 5
        # thumbnails: upright, capped at 256 px, alpha flattened
        with Image.open(lib.thumbnails.get(rot)) as t:
            assert t.size == (80, 120) and t.mode == "RGB"
        with Image.open(lib.thumbnails.get(lib.get_photo(photo_tree / "trip" / "day1" / "big.jpg"))) as t:
            assert t.size == (256, 171)
        assert events[-1].stage == "importing photos" and events[-1].step == events[-1].total == 10
        # a second scan reads nothing again and still skips the bad files, with the same reasons
        again = lib.scan()
        assert (again.added, again.changed, again.unchanged) == (0, 0, 6)
        assert sorted(again.skipped) == sorted(report.skipped)
    assert_unchanged(before)


def test_rescan_new_changed_moved_removed(tmp_path: Path, photo_tree: Path) -> None:
    with Library.open(tmp_path / "data") as lib:
        lib.add_folder(photo_tree)
        lib.scan()
        big = lib.get_photo(photo_tree / "trip" / "day1" / "big.jpg")
        rex = lib.create_identity("Rex", "dog")
        lib.add_identity_photos(rex, [big], role="reference")
        lib.set_caption(big, "a sks dog", identity=rex, by_user=True)
        # new, changed, moved (renamed: records follow it) and removed files
        Image.new("RGB", (33, 33), (9, 9, 9)).save(photo_tree / "new.png")
        Image.new("RGB", (90, 60), (255, 0, 0)).save(photo_tree / "alpha.png")
        os.utime(photo_tree / "alpha.png", (1e9, 1e9))
        (photo_tree / "trip" / "day1" / "big.jpg").rename(photo_tree / "big renamed.jpg")
        (photo_tree / "trip" / "green.webp").unlink()
        before = snapshot(photo_tree)
        r = lib.scan()
        assert_unchanged(before)
        assert (r.added, r.changed, r.removed) == (2, 1, 1), r.summary()
        moved = lib.get_photo(photo_tree / "big renamed.jpg")
        assert moved.id == big.id
        assert [x.photo.id for x in lib.identity_photos(rex)] == [big.id]
        assert lib.get_caption(moved, identity=rex).text == "a sks dog"
        gone = lib.list_photos(include_missing=True)
        assert [p.path.name for p in gone if p.missing] == ["green.webp"]
        with pytest.raises(LibraryError, match="missing on disk"):
            lib.add_identity_photos(rex, [p for p in gone if p.missing])
        assert lib.get_photo(photo_tree / "alpha.png").width == 90
        # the file comes back: no longer missing
        Image.new("RGB", (70, 50), (10, 100, 10)).save(photo_tree / "trip" / "green.webp", "WEBP")
        r = lib.scan()
        assert r.removed == 0 and not any(p.missing for p in lib.list_photos(include_missing=True))


def test_folder_disappearing_mid_scan(
    tmp_path: Path, photo_tree: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_scandir = os.scandir
    doomed = photo_tree / "trip" / "day1"

    def vanishing_scandir(path):
        if isinstance(path, str) and Path(path) == doomed and doomed.exists():
            shutil.rmtree(doomed)  # the folder disappears between being found and being listed
        return real_scandir(path)

    with Library.open(tmp_path / "data") as lib:
        lib.add_folder(photo_tree)
        monkeypatch.setattr(scan_mod.os, "scandir", vanishing_scandir)
        report = lib.scan()
        assert any("day1" in p and "disappeared" in r for p, r in report.skipped)
        assert report.added == 5

        # a file disappears after listing, before import: skipped, the scan finishes
        victim = photo_tree / "zz_gone.jpg"
        Image.new("RGB", (5, 5)).save(victim)
        Image.new("RGB", (6, 5)).save(photo_tree / "zz_late.jpg")

        def on_event(ev: ProgressEvent) -> None:
            if ev.stage == "importing photos" and ev.step == 1 and victim.exists():
                victim.unlink()

        report = lib.scan(progress=on_event)
        assert report.added == 1 and any("zz_gone.jpg" in p and "disappeared" in r for p, r in report.skipped)

        # the whole library folder goes away (unmounted drive): photos flagged, nothing deleted
        shutil.rmtree(photo_tree)
        report = lib.scan()
        assert any("library folder is missing" in r for _p, r in report.skipped)
        assert lib.get_folder(photo_tree).missing
        assert lib.count_photos(include_missing=True) >= 5


def test_cancel_leaves_complete_records_only(tmp_path: Path, photo_tree: Path) -> None:
    token = CancelToken()

    def cancel_after_two(ev: ProgressEvent) -> None:
        if ev.stage == "importing photos" and ev.step == 2:
            token.cancel()

    with Library.open(tmp_path / "data") as lib:
        lib.add_folder(photo_tree)
        with pytest.raises(Cancelled):
            lib.scan(progress=cancel_after_two, cancel=token)
        assert lib.count_photos() == 2
        assert lib.conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert lib.scan().added == 4


def test_folder_validation(tmp_path: Path, photo_tree: Path) -> None:
    with Library.open(tmp_path / "data") as lib:
        with pytest.raises(LibraryError, match="does not exist"):
            lib.add_folder(tmp_path / "nope")
        with pytest.raises(LibraryError, match="is a file"):
            lib.add_folder(photo_tree / "rotated.jpg")
        with pytest.raises(LibraryError, match="no folders"):
            lib.scan()
        f = lib.add_folder(photo_tree)
        assert lib.add_folder(str(photo_tree) + "/") == f  # idempotent
        with pytest.raises(LibraryError, match="already part of"):
            lib.add_folder(photo_tree / "trip")
        with pytest.raises(LibraryError, match="app's data folder"):
            lib.add_folder(tmp_path / "data")
    # the app's data folder inside a photo folder is never imported
    with Library.open(photo_tree / "lipe-data") as lib:
        lib.add_folder(photo_tree)
        lib.scan()
        lib.thumbnails.get(lib.list_photos()[0])
        assert lib.scan().added == 0
        assert not any("lipe-data" in str(p.path) for p in lib.list_photos())


def test_real_photos_import_and_draft_thumbnails(tmp_path: Path, dreambooth_dir: Path) -> None:
    src = dreambooth_dir / "dog"
    before = snapshot(src)
    with Library.open(tmp_path / "data") as lib:
        lib.add_folder(src)
        report = lib.scan()
        assert report.added == len(
            [p for p in src.iterdir() if p.suffix.lower() in (".jpg", ".jpeg", ".png")]
        )
        assert not report.skipped
        for p in lib.list_photos():
            with Image.open(lib.thumbnails.get(p)) as t:
                assert max(t.size) == 256
            assert p.width > 256 and p.format == "JPEG"
        first = lib.list_photos()[0]
        decoded, _thumb = decoded_size(first.path)
        assert max(decoded) <= max(first.width, first.height) // 2  # draft decoding, not in full
    assert_unchanged(before)


def test_thumbnail_cache_is_size_capped(tmp_path: Path) -> None:
    cache = ThumbnailCache(tmp_path / "t", size=64, max_bytes=20_000)
    for i in range(40):
        cache.store(f"{i:064x}", Image.effect_noise((64, 64), 50 + i).convert("RGB"))
        assert cache.total_bytes() <= 20_000
    assert cache.total_bytes() == sum(f.stat().st_size for f in (tmp_path / "t").glob("*/*.jpg"))
    assert cache.has(f"{39:064x}") and not cache.has(f"{0:064x}")


def test_library_thumbnail_cap_setting_and_regeneration(tmp_path: Path, photo_tree: Path) -> None:
    with Library.open(tmp_path / "data") as lib:
        lib.set_setting("thumbnail_cache_mb", "0.001")  # ~1 KB: smaller than one thumbnail
        lib.add_folder(photo_tree)
        lib.scan()
        assert lib.thumbnails.max_bytes == int(0.001 * 2**20)
        assert len(list((tmp_path / "data" / "thumbs").glob("*/*.jpg"))) <= 1
        before = snapshot(photo_tree)
        for p in lib.list_photos():  # evicted ones are re-rendered from the (read-only) original
            with Image.open(lib.thumbnails.get(p)) as t:
                assert max(t.size) <= 256
        assert_unchanged(before)


def decoded_size(path: Path) -> tuple[tuple[int, int], Image.Image]:
    """(size the decoder produced, thumbnail) for ``render_thumbnail`` on ``path``."""
    with Image.open(path) as img:
        sizes = [img.size]
        real_draft = img.draft

        def spy(mode, size):
            result = real_draft(mode, size)
            sizes.append(img.size)  # what the decoder will actually produce
            return result

        img.draft = spy  # type: ignore[method-assign]
        thumb = render_thumbnail(img)
    return sizes[-1], thumb


@pytest.mark.parametrize("fmt", ["JPEG", "MPO"])
def test_draft_decoding_is_used_for_camera_jpegs(tmp_path: Path, fmt: str) -> None:
    src = Image.effect_noise((2048, 1536), 40).convert("RGB")
    p = tmp_path / "camera.jpg"
    if fmt == "MPO":  # multi-picture JPEG (cameras embed previews this way)
        src.save(p, "MPO", save_all=True, append_images=[src.resize((320, 240))])
    else:
        src.save(p, "JPEG")
    decoded, thumb = decoded_size(p)
    assert max(decoded) <= 512  # decoded at 1/4 scale or less, not in full
    assert thumb.size == (256, 192)


def test_heic_imported_when_plugin_available(tmp_path: Path) -> None:
    pytest.importorskip("pillow_heif")
    assert ".heic" in scan_mod.PHOTO_EXTENSIONS
    root = tmp_path / "phone"
    root.mkdir()
    Image.new("RGB", (64, 48), (200, 10, 10)).save(root / "IMG_0001.HEIC", "HEIF")
    before = snapshot(root)
    with Library.open(tmp_path / "data") as lib:
        lib.add_folder(root)
        report = lib.scan()
        assert report.added == 1 and not report.skipped
        p = lib.list_photos()[0]
        assert (p.format, p.width, p.height) == ("HEIF", 64, 48)
        with Image.open(lib.thumbnails.get(p)) as t:
            assert t.size == (64, 48)
    assert_unchanged(before)


def test_unreadable_files_and_folders_are_skipped(
    tmp_path: Path, photo_tree: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Simulated, because tests may run as root (for whom chmod 000 changes nothing).
    real_open, real_scandir = open, os.scandir

    def guarded_open(path, *a, **k):
        if str(path).endswith("alpha.png"):
            raise PermissionError(13, "Permission denied", str(path))
        return real_open(path, *a, **k)

    def guarded_scandir(path):
        if isinstance(path, str) and path.endswith(os.sep + "day1"):
            raise PermissionError(13, "Permission denied", path)
        return real_scandir(path)

    with Library.open(tmp_path / "data") as lib:
        lib.add_folder(photo_tree)
        monkeypatch.setattr(scan_mod, "open", guarded_open, raising=False)
        monkeypatch.setattr(scan_mod.os, "scandir", guarded_scandir)
        report = lib.scan()
        reasons = dict(report.skipped)
        assert reasons[str(photo_tree / "alpha.png")] == "file cannot be read (Permission denied)"
        assert reasons[str(photo_tree / "trip" / "day1")] == "folder cannot be read (permission denied)"
        assert report.added == 4
        monkeypatch.undo()
        report = lib.scan()
        assert report.added == 2 and not report.skipped and lib.scan_issues() == []


@pytest.mark.slow
def test_all_shared_real_photos_import_cleanly(tmp_path: Path, dreambooth_dir: Path) -> None:
    before = snapshot(dreambooth_dir)
    with Library.open(tmp_path / "data") as lib:
        lib.add_folder(dreambooth_dir)
        report = lib.scan()
        n = len(
            [p for p in dreambooth_dir.rglob("*") if p.suffix.lower() in (".jpg", ".jpeg", ".png", ".webp")]
        )
        assert report.added == n and not report.skipped
        assert lib.scan().unchanged == n
        for p in lib.list_photos():
            assert lib.thumbnails.get(p).is_file() and p.width > 0 and p.height > 0
    assert_unchanged(before)
