"""Hostile photo files (empty, truncated, bombs, crafted EXIF and colour profiles, look-alikes) and their cases."""

from __future__ import annotations

import io
import os
import struct
import zlib
from collections.abc import Callable

from PIL import Image

from .sandbox import Case, Sandbox, Step


def _jpeg(size=(64, 48), colour=(200, 40, 40), **save) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, colour).save(buf, "JPEG", **save)
    return buf.getvalue()


def _png(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue()


def _bomb_png(side: int = 60000) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", side, side, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + chunk(b"IEND", b""))


def _exif_orientation(typ: int, count: int, value: bytes) -> bytes:
    body = b"II*\x00" + struct.pack("<IH", 8, 1) + struct.pack("<HHI", 0x0112, typ, count) + value
    return b"Exif\x00\x00" + body + struct.pack("<I", 0)


def _icc_jpeg() -> bytes:
    from PIL import ImageCms

    profile = ImageCms.ImageCmsProfile(ImageCms.createProfile("LAB")).tobytes()
    return _jpeg(icc_profile=profile)


HOSTILE_FILES: dict[str, Callable[[], bytes]] = {
    "empty.jpg": lambda: b"",
    "truncated.jpg": lambda: _jpeg((640, 480))[:2000],
    "truncated.png": lambda: _png(Image.effect_noise((256, 256), 50).convert("RGB"))[:3000],
    "text.jpg": lambda: b"this is a letter, not a photo\n" * 20,
    "html.png": lambda: b"<html><body>404</body></html>",
    "bomb.png": _bomb_png,
    "orient_text.jpg": lambda: _jpeg(exif=_exif_orientation(2, 4, b"abc\x00")),
    "orient_bytes.jpg": lambda: _jpeg(exif=_exif_orientation(7, 1, b"\x06\x00\x00\x00")),
    "orient_zero.jpg": lambda: _jpeg(exif=_exif_orientation(3, 1, b"\x00\x00\x00\x00")),
    "orient_99.jpg": lambda: _jpeg(exif=_exif_orientation(3, 1, b"\x63\x00\x00\x00")),
    "exif_garbage.jpg": lambda: _jpeg(exif=b"Exif\x00\x00" + os.urandom(64)),
    "transparent.png": lambda: _png(Image.new("RGBA", (40, 40), (255, 0, 0, 0))),
    "grey16.png": lambda: _png(Image.new("I;16", (40, 30), 40000)),
    "cmyk.jpg": lambda: _jpeg_mode("CMYK"),
    "lab_icc.jpg": _icc_jpeg,
    "bad_icc.jpg": lambda: _jpeg(icc_profile=b"not a profile" * 10),
    "panorama.jpg": lambda: _jpeg((2000, 100)),
    "tiny.png": lambda: _png(Image.new("RGB", (1, 1))),
    "gif_as_jpg.jpg": lambda: _gif(),
    "fake.heic": lambda: b"\x00\x00\x00\x18ftypheic" + b"\x00" * 64,
    "random.webp": lambda: os.urandom(3000),
}


def _jpeg_mode(mode: str) -> bytes:
    buf = io.BytesIO()
    Image.new(mode, (40, 30)).save(buf, "JPEG")
    return buf.getvalue()


def _gif() -> bytes:
    buf = io.BytesIO()
    Image.new("P", (20, 20)).save(buf, "GIF")
    return buf.getvalue()


UNREADABLE = {"empty.jpg", "truncated.jpg", "truncated.png", "text.jpg", "html.png", "bomb.png", "random.webp"}


def _file_case(name: str, make: Callable[[], bytes], action: str) -> Case:
    def setup(sb: Sandbox) -> list[Step]:
        photos = sb.library(3)
        target = sb.pics / name
        target.write_bytes(make())
        sb.protect(target, original=True)
        if action == "scan":
            return [Step(["library", "scan", "-q"]), Step(["library", "list"]), Step(["library", "issues"])]
        if action == "replace_reference":  # a reference photo replaced by the hostile file after the scan
            photos[0].write_bytes(make())
            sb.protect(photos[0], original=True)
            steps = [Step(["identity", "export", "Rex", str(sb.root / "export"), "-q"]), Step(["caption", "Rex", "--quiet"])]
            if name in UNREADABLE:  # refused before a model loads (a readable photo would start a real training)
                steps.append(Step(["train", "Rex", "--steps", "1", "--quiet"], ok_rcs=(2,)))
            return steps
        return [Step(["library", "scan", "-q"]), Step(["identity", "add", "Rex", str(target)]),
                Step(["identity", "export", "Rex", str(sb.root / "export"), "-q"])]
    return Case(f"file {name}: {action}", "hostile files", setup,
                quick=(name, action) in (("truncated.jpg", "scan"), ("orient_text.jpg", "link_and_export"),
                                         ("bomb.png", "replace_reference")))
