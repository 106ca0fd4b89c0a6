"""Fixtures shared by the hostile tests: a library with a scanned folder and an identity "Rex" of 3 photos."""

from __future__ import annotations

from pathlib import Path

import pytest

from lipe_engine.library import Library
from lipe_engine.testing.libraries import make_photos


@pytest.fixture()
def lib_dir(tmp_path: Path) -> tuple[Path, list[Path]]:
    photos = make_photos(tmp_path / "pics", 4)
    data = tmp_path / "data"
    with Library.open(data) as lib:
        lib.scan([lib.add_folder(tmp_path / "pics").id])
        rex = lib.create_identity("Rex", "dog")
        lib.add_identity_photos(rex, lib.list_photos()[:3])
    return data, photos
