"""Honest files: an edited photo says it was made by a generative model, and how.

Every version the app saves or exports carries

* XMP with IPTC ``DigitalSourceType`` = ``compositeWithTrainedAlgorithmicMedia`` (the IPTC term for a
  real photo with parts made by a trained model: what photo tools now read), ``xmp:CreatorTool``, the
  original's date taken (``photoshop:DateCreated``, ``exif:DateTimeOriginal``) and the recipe that
  made it (``lipe:Recipe``, JSON);
* EXIF: the original's ``DateTimeOriginal`` and ``Orientation = 1``: the engine works on the photo
  turned upright (``images.open_photo``), so its output's pixels already look as the app shows the
  original; copying the original's rotation tag would turn it a second time in other viewers (the
  original's tag is kept in the recipe);
* the original's ICC colour profile, so colours look the same as the original's;
* in a PNG, the recipe once more as an ``iTXt`` chunk ``lipe:recipe`` (PNG readers list text chunks).

:func:`read_provenance` reads back what a reader sees (tests, ``lipe versions show``).
"""

from __future__ import annotations

import io
import json
import re
from dataclasses import dataclass
from html import unescape
from pathlib import Path
from typing import IO, Any
from xml.sax.saxutils import escape

from PIL import ExifTags, Image, PngImagePlugin

from .. import __version__
from ..errors import LipeError
from ..photo_reader import exif_orientation, open_unloaded

DIGITAL_SOURCE_TYPE = "http://cv.iptc.org/newscodes/digitalsourcetype/compositeWithTrainedAlgorithmicMedia"
LIPE_NS = "https://lipe-desktop.invalid/ns/recipe/1.0/"
RECIPE_CHUNK = "lipe:recipe"
XMP_CHUNK = "XML:com.adobe.xmp"  # the PNG iTXt keyword the XMP specification names
MAX_XMP_BYTES = 60_000  # one JPEG APP1 segment holds 65,502 bytes of XMP
FORMATS = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".webp": "WEBP"}
_ATTR_ESCAPES = {'"': "&quot;", "\n": "&#10;", "\r": "&#13;"}  # and & < > (escape's own)
_EXIF_DATE = re.compile(r"^\d{4}:\d{2}:\d{2} \d{2}:\d{2}:\d{2}$")


@dataclass(frozen=True)
class Original:
    """What a version inherits from its original photo."""

    date_taken: str | None  # EXIF "YYYY:MM:DD HH:MM:SS"
    orientation: int  # the original file's EXIF orientation tag (its pixels are shown turned by it)
    icc_profile: bytes | None


def read_original(path: str | Path, taken_at: str | None = None) -> Original:
    """Date taken, orientation and ICC profile of the original photo (``taken_at``: the library's ISO
    date, used when the file holds none)."""
    date, orientation, icc = None, 1, None
    try:
        with open_unloaded(Path(path), "original photo") as im:  # the one photo reader, header only
            icc = im.info.get("icc_profile") or None
            exif = im.getexif()
            orientation = exif_orientation(im)  # malformed tags read as a viewer would: upright
            raw = exif.get_ifd(ExifTags.IFD.Exif).get(ExifTags.Base.DateTimeOriginal) or exif.get(
                ExifTags.Base.DateTime)
            if isinstance(raw, str) and _EXIF_DATE.match(raw.strip("\x00 ")):
                date = raw.strip("\x00 ")
    except (OSError, ValueError, SyntaxError, LipeError):  # an unreadable tag is left out, never guessed
        pass
    if date is None and taken_at:
        m = re.match(r"^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2}))?", taken_at)
        if m:
            date = f"{m[1]}:{m[2]}:{m[3]} {m[4]}:{m[5]}:{m[6] or '00'}"
    if not 1 <= orientation <= 8:
        orientation = 1
    return Original(date, orientation, icc if isinstance(icc, bytes) else None)


def _iso(exif_date: str) -> str:
    d, t = exif_date.split(" ")
    return f"{d.replace(':', '-')}T{t}"


def xmp_packet(recipe: dict[str, Any] | None, original: Original) -> bytes:
    """The XMP packet of a version (UTF-8); the recipe is left out when it would not fit a JPEG."""
    attrs = {
        "Iptc4xmpExt:DigitalSourceType": DIGITAL_SOURCE_TYPE,
        "xmp:CreatorTool": f"LIPE Desktop {__version__}",
        "tiff:Orientation": "1",
    }
    if original.date_taken:
        attrs["photoshop:DateCreated"] = _iso(original.date_taken)
        attrs["exif:DateTimeOriginal"] = _iso(original.date_taken)
    if recipe is not None:
        attrs["lipe:Recipe"] = json.dumps(recipe, sort_keys=True, separators=(",", ":"))
    body = "\n    ".join(f'{k}="{escape(v, _ATTR_ESCAPES)}"' for k, v in attrs.items())
    packet = (
        '<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>\n'
        '<x:xmpmeta xmlns:x="adobe:ns:meta/">\n'
        ' <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">\n'
        '  <rdf:Description rdf:about=""\n'
        '    xmlns:Iptc4xmpExt="http://iptc.org/std/Iptc4xmpExt/2008-02-29/"\n'
        '    xmlns:xmp="http://ns.adobe.com/xap/1.0/"\n'
        '    xmlns:photoshop="http://ns.adobe.com/photoshop/1.0/"\n'
        '    xmlns:exif="http://ns.adobe.com/exif/1.0/"\n'
        '    xmlns:tiff="http://ns.adobe.com/tiff/1.0/"\n'
        f'    xmlns:lipe="{LIPE_NS}"\n'
        f"    {body}/>\n"
        " </rdf:RDF>\n"
        "</x:xmpmeta>\n"
        '<?xpacket end="w"?>'
    ).encode()
    if len(packet) > MAX_XMP_BYTES and recipe is not None:
        return xmp_packet(None, original)  # the PNG chunk and the library still hold the recipe
    return packet


def _exif(original: Original) -> bytes:
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = 1
    exif[ExifTags.Base.Software] = f"LIPE Desktop {__version__}"
    if original.date_taken:
        exif.get_ifd(ExifTags.IFD.Exif)[ExifTags.Base.DateTimeOriginal] = original.date_taken
    return exif.tobytes()


def save_with_provenance(img: Image.Image, dest: str | Path | IO[bytes], fmt: str, recipe: dict[str, Any] | None,
                         original: Original, quality: int = 95) -> None:
    """Write ``img`` as ``fmt`` (PNG, JPEG, WEBP) with XMP, EXIF, ICC profile and recipe (see module)."""
    xmp = xmp_packet(recipe, original)
    kwargs: dict[str, Any] = {"exif": _exif(original)}
    if original.icc_profile:
        kwargs["icc_profile"] = original.icc_profile
    if fmt == "PNG":
        info = PngImagePlugin.PngInfo()
        info.add_itxt(XMP_CHUNK, xmp.decode("utf-8"), zip=False)
        if recipe is not None:
            info.add_itxt(RECIPE_CHUNK, json.dumps(recipe, sort_keys=True), zip=True)
        kwargs["pnginfo"] = info
        img.save(dest, format="PNG", **kwargs)
        return
    if fmt not in ("JPEG", "WEBP"):
        raise ValueError(f"unknown image format {fmt}")
    out = img.convert("RGB") if img.mode not in ("RGB", "L") else img
    out.save(dest, format=fmt, quality=quality, xmp=xmp, **kwargs)


def encode(img: Image.Image, fmt: str, recipe: dict[str, Any] | None, original: Original) -> bytes:
    buf = io.BytesIO()
    save_with_provenance(img, buf, fmt, recipe, original)
    return buf.getvalue()


@dataclass(frozen=True)
class Provenance:
    """What a reader finds in a version's file."""

    digital_source_type: str | None
    recipe: dict[str, Any] | None
    date_taken: str | None  # EXIF DateTimeOriginal
    orientation: int | None
    icc_profile: bytes | None
    xmp: str


def _xmp_text(im: Image.Image) -> str:
    raw = im.info.get("xmp") or im.info.get(XMP_CHUNK) or b""
    return raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)


def read_provenance(path: str | Path) -> Provenance:
    """Read back a version's metadata with Pillow, as another program would."""
    with Image.open(path) as im:
        im.load()
        xmp = _xmp_text(im)
        exif = im.getexif()
        date = exif.get_ifd(ExifTags.IFD.Exif).get(ExifTags.Base.DateTimeOriginal)
        orientation = exif.get(ExifTags.Base.Orientation)
        icc = im.info.get("icc_profile")
        chunk = im.info.get(RECIPE_CHUNK)
    m = re.search(r'Iptc4xmpExt:DigitalSourceType="([^"]*)"', xmp)
    recipe = None
    text = chunk if isinstance(chunk, str) else None
    if text is None:
        r = re.search(r'lipe:Recipe="([^"]*)"', xmp)
        text = unescape(r[1]) if r else None
    if text:
        try:
            value = json.loads(text)
            recipe = value if isinstance(value, dict) else None
        except ValueError:
            recipe = None
    return Provenance(m[1] if m else None, recipe, date, orientation, icc or None, xmp)
