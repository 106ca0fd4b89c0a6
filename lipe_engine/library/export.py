"""Export an identity's photos as a training dataset other trainers read (kohya_ss, OneTrainer).

Layout: ``DIR/001_name.jpg`` + ``DIR/001_name.txt`` (one caption per image, same stem), the format
both kohya's ``caption_extension=".txt"`` and OneTrainer's "sample prompts from .txt" read. With
``kohya_repeats=N`` the pairs go into ``DIR/N_<token> <class>/``, kohya's DreamBooth folder naming.
Images are copied byte for byte when they are upright and need no resizing, otherwise written as
upright PNG. Captions come from the library (identity caption, else the generic one with the class
word replaced by "<token> <class>"), falling back to "a photo of <token> <class>".

The export is built in a temporary sibling folder and renamed into place at the end, so a cancelled
or failed export leaves no half-written dataset. A non-empty folder is refused unless it is an
earlier export (it carries a ``.lipe-export.json`` marker); folders inside the library are refused,
so exports never mix with the user's photos.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from PIL import Image, ImageOps

from ..progress import CancelToken, ProgressCallback, ProgressReporter, as_reporter
from .db import LibraryError
from .identities import IdentityRef
from .records import ROLES, Identity
from .safe_paths import check_path_text, current_umask, writable_folder
from .thumbs import to_rgb

if TYPE_CHECKING:
    from .library import Library

MARKER = ".lipe-export.json"
MAX_EXPORT_SIZE = 16384  # pixels, longer side


@dataclass(frozen=True)
class ExportResult:
    dir: Path  # the folder the pairs are in (DIR, or DIR/N_token class with kohya_repeats)
    images: list[Path]


def caption_for_training(text: str | None, ident: Identity) -> str:
    """Make sure the caption names the subject by its rare token (e.g. "a sks dog on grass")."""
    inst = ident.instance_prompt
    if not text:
        return f"a photo of {inst}"
    if re.search(rf"\b{re.escape(ident.token)}\b", text):
        return text
    pattern = re.compile(rf"\b{re.escape(ident.class_word)}\b", re.IGNORECASE)
    if pattern.search(text):
        return pattern.sub(inst, text, count=1)
    return f"a photo of {inst}, {text}"


def _slug(stem: str) -> str:
    s = unicodedata.normalize("NFKD", stem).encode("ascii", "ignore").decode()
    s = re.sub(r"[^A-Za-z0-9_-]+", "_", s).strip("_")
    return s[:40] or "photo"


def export_identity(
    lib: Library,
    identity: IdentityRef,
    out_dir: str | os.PathLike[str],
    *,
    role: str = "reference",
    max_size: int | None = None,
    kohya_repeats: int | None = None,
    progress: ProgressReporter | ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> ExportResult:
    if role not in ROLES:
        raise LibraryError(f"photo role '{role}' is unknown", f"use one of {', '.join(ROLES)}")
    if max_size is not None and not 64 <= max_size <= MAX_EXPORT_SIZE:
        raise LibraryError(
            f"export size {max_size} is out of range", f"use 64 to {MAX_EXPORT_SIZE} pixels (or no size limit)"
        )
    if kohya_repeats is not None and not 1 <= kohya_repeats <= 1000:
        raise LibraryError(f"kohya repeats {kohya_repeats} is out of range", "use 1 to 1000")
    ident = lib.get_identity(identity)
    links = lib.identity_photos(ident, role=role)
    if not links:
        raise LibraryError(
            f"identity '{ident.name}' has no {role} photos",
            f"add some with `lipe identity add {ident.name} PHOTO... --role {role}`",
        )
    missing = [x.photo.path for x in links if x.photo.missing or not x.photo.path.is_file()]
    if missing:
        raise LibraryError(
            f"photo '{missing[0]}' is missing on disk", "restore it or remove it from the identity"
        )
    out = _check_out_dir(lib, check_path_text(out_dir, "export folder").expanduser().absolute())
    reporter = as_reporter(progress, cancel)
    reporter.start("exporting dataset", len(links))
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.partial-", dir=out.parent))
    except OSError as exc:
        raise LibraryError(f"export folder '{out}' cannot be created ({exc.strerror or exc})",
                           "choose a folder you can write to") from exc
    try:
        os.chmod(tmp, 0o777 & ~current_umask())  # mkdtemp makes it private (0700); a dataset is an ordinary folder
        sub = tmp / f"{kohya_repeats}_{ident.instance_prompt}" if kohya_repeats else tmp
        sub.mkdir(exist_ok=True)
        names: list[str] = []
        for i, link in enumerate(links, start=1):
            p = link.photo
            stem = f"{i:03d}_{_slug(p.path.stem)}"
            name = _write_image(p.path, p.orientation, sub / stem, max_size)
            cap = lib.get_caption(p, identity=ident)
            (sub / f"{stem}.txt").write_text(
                caption_for_training(cap.text if cap else None, ident) + "\n", "utf-8"
            )
            names.append(name)
            reporter.step(file=name)
        meta = {
            "identity": ident.name, "class_word": ident.class_word, "token": ident.token, "kind": ident.kind,
            "role": role, "instance_prompt": ident.instance_prompt, "images": names,
            "kohya_repeats": kohya_repeats,
        }  # fmt: skip
        (tmp / MARKER).write_text(json.dumps(meta, indent=2), "utf-8")
        if out.exists():
            shutil.rmtree(out)
        os.replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    final = out / sub.relative_to(tmp) if kohya_repeats else out
    return ExportResult(final, [final / n for n in names])


def _check_out_dir(lib: Library, out: Path) -> Path:

    if not (out.exists() and out.is_file()):
        writable_folder(out, "export folder")  # a file in the way, /proc, read-only: one line, before work
    real = Path(os.path.realpath(out))
    for f in lib.list_folders():
        if real == f.path or f.path in real.parents:
            raise LibraryError(
                f"export folder '{out}' is inside library folder '{f.path}'",
                "export outside your photo folders",
            )
    if out.exists():
        if not out.is_dir():
            raise LibraryError(f"export folder '{out}' is a file", "give a new or empty folder")
        if any(out.iterdir()) and not (out / MARKER).is_file():
            raise LibraryError(
                f"export folder '{out}' is not empty",
                "give a new or empty folder (or an earlier LIPE export)",
            )
    return out


def _write_image(src: Path, orientation: int, dest_stem: Path, max_size: int | None) -> str:
    """Copy the original if it is usable as is, else write an upright PNG; returns the file name."""
    ext = src.suffix.lower()
    with Image.open(src) as probe:
        size_ok = max_size is None or max(probe.size) <= max_size
        fmt = probe.format
    if (
        orientation == 1
        and size_ok
        and fmt in ("JPEG", "PNG", "WEBP")
        and ext in (".jpg", ".jpeg", ".png", ".webp")
    ):
        dest = dest_stem.with_suffix(".jpg" if ext == ".jpeg" else ext)
        shutil.copyfile(src, dest)  # reads the original; never opens it for writing
        return dest.name
    try:
        with Image.open(src) as raw:
            img = to_rgb(ImageOps.exif_transpose(raw) or raw)
    except (OSError, ValueError, Image.DecompressionBombError) as exc:
        raise LibraryError(f"photo '{src}' cannot be decoded ({exc})", "rescan the library") from exc
    if max_size is not None and max(img.size) > max_size:
        img.thumbnail((max_size, max_size), Image.Resampling.LANCZOS)
    dest = dest_stem.with_suffix(".png")
    img.save(dest, "PNG")
    return dest.name
