"""The one way a user's photo is opened: scan, thumbnails, captioning, training, editing and export.

A photo is seen the same way everywhere, as an image viewer shows it:

* **orientation**: the EXIF orientation tag, read tolerantly (``exif_orientation``): a value stored
  as text, a list or out of range is what a viewer makes of it (the number if there is one, else
  upright), never a reason to call the photo damaged; the rotation is applied here (``upright``), so
  the size the scan records and the pixels every other reader gets always agree;
* **alpha**: transparent pixels are composited onto white (``to_rgb``), the way the album shows them,
  so the captioner, the trainer and the editor see the same picture;
* **colour profile**: an embedded ICC profile (Adobe RGB, Display P3, CMYK) is converted to sRGB; a
  malformed profile is ignored, as viewers do;
* **bombs and truncation**: a file that would decode to more pixels than Pillow's guard allows, or
  that ends early, is a one-line ``InputError`` naming the file, never a traceback or a silently
  half-grey picture.

``open_photo`` returns an upright, fully decoded RGB image. ``open_unloaded`` and ``decode`` split
it for callers that look at the header first (the scan reads format, size and date before decoding,
and decodes JPEGs at reduced scale for thumbnails).
"""

from __future__ import annotations

import io
import os
import warnings
from pathlib import Path

from PIL import Image, ImageCms, UnidentifiedImageError

from .errors import InputError

ORIENTATION_TAG = 0x0112
_TRANSPOSE = {
    2: (Image.Transpose.FLIP_LEFT_RIGHT,),
    3: (Image.Transpose.ROTATE_180,),
    4: (Image.Transpose.FLIP_TOP_BOTTOM,),
    5: (Image.Transpose.TRANSPOSE,),
    6: (Image.Transpose.ROTATE_270,),
    7: (Image.Transpose.TRANSVERSE,),
    8: (Image.Transpose.ROTATE_90,),
}
PhotoSource = str | os.PathLike[str] | bytes


def exif_orientation(img: Image.Image) -> int:
    """The EXIF orientation 1..8, read as a viewer would: anything unusable means upright (1)."""
    try:
        value = img.getexif().get(ORIENTATION_TAG, 1)
    except Exception:  # noqa: BLE001 - any malformed EXIF block: the photo is shown upright
        return 1
    if isinstance(value, (tuple, list)):
        value = value[0] if value else 1
    if isinstance(value, (bytes, bytearray)):
        value = value[0] if value else 1
    try:
        number = int(float(str(value).strip("\x00 ")))
    except (TypeError, ValueError, OverflowError):
        return 1
    return number if 1 <= number <= 8 else 1


def swaps_sides(orientation: int) -> bool:
    """Orientations 5-8 turn the picture a quarter: the upright width is the stored height."""
    return orientation in (5, 6, 7, 8)


def upright(img: Image.Image, orientation: int) -> Image.Image:
    for method in _TRANSPOSE.get(orientation, ()):
        img = img.transpose(method)
    return img


_SRGB = ImageCms.createProfile("sRGB")


def to_srgb(img: Image.Image) -> Image.Image:
    """Convert an embedded ICC profile to sRGB (keeping alpha); a malformed profile is ignored."""
    icc = img.info.get("icc_profile")
    if not icc or img.mode not in ("RGB", "RGBA", "CMYK", "L", "LA"):
        return img
    alpha = img.getchannel("A") if img.mode in ("RGBA", "LA") else None
    base = img.convert("RGB" if img.mode in ("RGBA", "LA") else img.mode) if alpha is not None else img
    try:
        profile = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        if img.mode in ("RGB", "RGBA") and "srgb" in (ImageCms.getProfileDescription(profile) or "").lower():
            return img  # most camera photos: already sRGB, nothing to convert
        converted = ImageCms.profileToProfile(base, profile, _SRGB, outputMode="RGB")
    except (ImageCms.PyCMSError, OSError, ValueError, TypeError):
        return img
    if converted is None:  # pragma: no cover - only with inPlace=True
        return img
    if alpha is not None:
        converted.putalpha(alpha)
    return converted


def to_rgb(img: Image.Image) -> Image.Image:
    """RGB, with any transparency composited onto white (how the album shows a transparent PNG)."""
    if img.mode == "RGB":
        return img
    if img.mode == "P" and "transparency" not in img.info:
        return img.convert("RGB")
    if img.mode in ("RGBA", "LA", "P", "PA", "La", "RGBa"):
        rgba = img.convert("RGBA")
        bg = Image.new("RGB", rgba.size, (255, 255, 255))
        bg.paste(rgba, mask=rgba.getchannel("A"))
        return bg
    if img.mode in ("I;16", "I;16B", "I;16L", "I"):  # 16-bit greyscale PNG: scale to 8 bits, not clip
        img = img.point(lambda v: v / 256).convert("L")
    return img.convert("RGB")


def _name(source: PhotoSource | Image.Image, name: str | None) -> str:
    if name is not None:
        return name
    if isinstance(source, Image.Image):
        return str(getattr(source, "filename", "") or "<image>")
    return "<bytes>" if isinstance(source, (bytes, bytearray)) else str(source)


def decode_error(exc: BaseException, name: str, what: str = "image") -> InputError:
    """The one-line error for a photo Pillow could not decode (bomb, truncation, garbage)."""
    if isinstance(exc, Image.DecompressionBombError):
        return InputError(f"{what} '{name}' is too large to decode safely ({str(exc).rstrip('.')})",
                          "downscale it (at most about 178 megapixels) and use the copy")
    if isinstance(exc, UnidentifiedImageError):
        return InputError(f"{what} '{name}' is not an image this app can read", "give a JPEG, PNG or WebP file")
    if isinstance(exc, MemoryError):
        return InputError(f"{what} '{name}' needs more memory to decode than is free", "downscale it first")
    detail = str(exc).split("\n")[0] or type(exc).__name__
    state = "truncated" if "truncat" in detail.lower() or isinstance(exc, EOFError) else "damaged"
    return InputError(f"{what} '{name}' is {state} ({detail})", "replace it with a complete copy")


DECODE_ERRORS = (OSError, ValueError, SyntaxError, EOFError, MemoryError, Image.DecompressionBombError,
                 UnidentifiedImageError)


def open_unloaded(source: PhotoSource, what: str = "image", name: str | None = None) -> Image.Image:
    """``Image.open`` of a path or bytes, header only; missing files and non-images are one line.

    Pillow's bomb *warning* (between 1 and 2 times its pixel limit) is silenced: such photos are
    legitimate panoramas; its bomb *error* (over twice the limit) becomes an ``InputError``.
    """
    label = _name(source, name)
    if not isinstance(source, (bytes, bytearray)):
        path = Path(source).expanduser()
        if not path.exists():
            raise InputError(f"{what} '{label}' does not exist", "check the path or rescan the library")
        if path.is_dir():
            raise InputError(f"{what} '{label}' is a folder, not an image", "give a JPEG, PNG or WebP file")
        try:
            if path.stat().st_size == 0:
                raise InputError(f"{what} '{label}' is empty (0 bytes)", "the file is damaged: pick another photo")
            data = path.read_bytes()  # read once, closed at once: no open handle outlives the call
        except PermissionError as exc:
            raise InputError(f"{what} '{label}' cannot be read (permission denied)",
                             "check the file's permissions") from exc
        except OSError as exc:
            raise InputError(f"{what} '{label}' cannot be read ({exc.strerror or exc})",
                             "check the disk and the file") from exc
    else:
        data = bytes(source)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            return Image.open(io.BytesIO(data))
    except DECODE_ERRORS as exc:
        raise decode_error(exc, label, what) from exc


def decode(img: Image.Image, what: str = "image", name: str = "image", *, draft: int | None = None,
           orientation: int | None = None) -> Image.Image:
    """Decode an opened photo fully (``draft``: JPEG at the smallest DCT scale still >= that size)
    and return it upright, in sRGB, as RGB. Errors are one line naming ``name``."""
    turn = exif_orientation(img) if orientation is None else orientation
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            if draft is not None and img.format in ("JPEG", "MPO"):
                img.draft("RGB", (draft, draft))
            img.load()
            return to_rgb(to_srgb(upright(img, turn)))
    except DECODE_ERRORS as exc:
        raise decode_error(exc, name, what) from exc


def open_photo(source: PhotoSource | Image.Image, what: str = "image", *, name: str | None = None) -> Image.Image:
    """A user's photo, upright, sRGB, RGB and fully decoded, or a one-line ``InputError``."""
    if isinstance(source, Image.Image):
        return decode(source, what, _name(source, name))
    img = open_unloaded(source, what, name)
    return decode(img, what, _name(source, name))
