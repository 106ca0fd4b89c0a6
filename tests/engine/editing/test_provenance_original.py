"""read_original reads an original through the one photo reader: what it can read is kept, what it
cannot is left out (never a traceback, never a guess)."""

from pathlib import Path

from PIL import Image

from lipe_engine.editing.provenance import read_original


def _jpeg(path: Path, orientation: int) -> Path:
    exif = Image.Exif()
    exif[0x0112] = orientation
    exif[0x0132] = "2024:05:06 07:08:09"
    Image.new("RGB", (8, 6), (10, 20, 30)).save(path, exif=exif)
    return path


def test_orientation_and_date_are_read(tmp_path: Path) -> None:
    got = read_original(_jpeg(tmp_path / "a.jpg", 6))
    assert got.orientation == 6 and got.date_taken == "2024:05:06 07:08:09"


def test_out_of_range_orientation_reads_upright(tmp_path: Path) -> None:
    assert read_original(_jpeg(tmp_path / "b.jpg", 99)).orientation == 1


def test_a_file_that_is_not_a_photo_gives_defaults(tmp_path: Path) -> None:
    bad = tmp_path / "c.jpg"
    bad.write_text("not an image")
    got = read_original(bad, taken_at="2023-01-02T03:04:05")
    assert got.orientation == 1 and got.icc_profile is None and got.date_taken == "2023:01:02 03:04:05"
