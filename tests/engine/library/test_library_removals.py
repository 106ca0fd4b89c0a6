"""Removing photos from the library (the album's Delete): records go, files stay, rescans respect it."""

from __future__ import annotations

import hashlib
from pathlib import Path

from lipe_engine.library import Library
from lipe_engine.library.removals import remove_photos, removed_paths, restore_removed, what_goes_with
from lipe_engine.testing.libraries import make_photos


def test_removed_photos_stay_out_until_restored(tmp_path: Path) -> None:
    folder = tmp_path / "pics"
    files = make_photos(folder, 5)
    digests = [hashlib.sha256(f.read_bytes()).hexdigest() for f in files]
    with Library.open(tmp_path / "data") as lib:
        f = lib.add_folder(folder)
        lib.scan([f.id])
        photos = lib.list_photos(order="path")
        ident = lib.create_identity("Rex", "dog")
        lib.add_identity_photos(ident, photos[:2], role="reference")
        lib.set_caption(photos[0], "a photo of a dog", by_user=True)
        assert what_goes_with(lib, photos[:2]) == {"captions": 1, "identity links": 2, "edits": 0}
        assert remove_photos(lib, photos[:2]) == 2
        assert lib.count_photos() == 3 and len(lib.identity_photos(ident)) == 0
        assert removed_paths(lib) == {str(photos[0].path), str(photos[1].path)}
        report = lib.scan()
        assert lib.count_photos() == 3 and report.added == 0
        assert restore_removed(lib, f.id) == 2
        lib.scan()
        assert lib.count_photos() == 5
    assert [hashlib.sha256(p.read_bytes()).hexdigest() for p in files] == digests  # files never touched
