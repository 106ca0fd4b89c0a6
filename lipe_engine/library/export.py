"""Export an identity's photos as a training dataset other trainers read (kohya_ss, OneTrainer).

Layout: ``DIR/001_name.jpg`` + ``DIR/001_name.txt`` (one caption per image, same stem), the format
both kohya's ``caption_extension=".txt"`` and OneTrainer's "sample prompts from .txt" read. With
``kohya_repeats=N`` the pairs go into ``DIR/N_<token> <class>/``, kohya's DreamBooth folder naming.
Images are copied byte for byte when they are upright and need no resizing, otherwise written as
upright PNG. Captions come from the library (identity caption, else the generic one with the class
word replaced by "<token> <class>"), falling back to "a photo of <token> <class>".

The export is built in a temporary sibling folder and renamed into place at the end, so a cancelled
or failed export leaves no half-written dataset. A non-empty folder is refused unless it is an
earlier export (it carries a ``.lipe-export.json`` marker listing the files it wrote) holding nothing
else: a re-export replaces exactly those files, and a folder where anything else appeared (the
user's notes, a photo folder) is refused, never deleted. Folders inside the library are refused, so
exports never mix with the user's photos. A killed export's hidden ``.partial-*`` folder carries its
process id and is removed by the next export once that process is gone.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import tempfile
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from PIL import Image

from ..errors import InputError
from ..photo_reader import decode, open_unloaded
from ..progress import CancelToken, ProgressCallback, ProgressReporter, as_reporter
from .db import LibraryError
from .identities import IdentityRef
from .records import ROLES, Identity
from .safe_paths import check_path_text, current_umask, writable_folder

if TYPE_CHECKING:
    from .library import Library

MARKER = ".lipe-export.json"
PARTIAL = ".lipe-export-partial"  # in a folder being written: the writer's process id
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
        _remove_abandoned_partials(out)
        tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.partial-", dir=out.parent))
        (tmp / PARTIAL).write_text(str(os.getpid()), "utf-8")  # whose it is, for a later export to clean up
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
        rel = sub.relative_to(tmp)
        files = sorted(str(rel / n) for stem_name in names for n in (stem_name, f"{Path(stem_name).stem}.txt"))
        meta = {
            "identity": ident.name, "class_word": ident.class_word, "token": ident.token, "kind": ident.kind,
            "role": role, "instance_prompt": ident.instance_prompt, "images": names,
            "kohya_repeats": kohya_repeats, "files": [f.removeprefix("./") for f in files],
        }  # fmt: skip
        (tmp / MARKER).write_text(json.dumps(meta, indent=2), "utf-8")
        (tmp / PARTIAL).unlink()
        _put_in_place(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    final = out / sub.relative_to(tmp) if kohya_repeats else out
    return ExportResult(final, [final / n for n in names])


def _recorded_files(folder: Path) -> set[Path] | None:
    """The files an earlier export recorded in its marker (relative paths), None without a usable marker."""
    try:
        meta = json.loads((folder / MARKER).read_text("utf-8"))
    except (OSError, ValueError, UnicodeDecodeError):
        return None
    if not isinstance(meta, dict):
        return None
    if isinstance(meta.get("files"), list):
        files = {Path(f) for f in meta["files"] if isinstance(f, str)}
    else:  # an export from before the marker listed its files: its images and their .txt captions
        repeats, prompt = meta.get("kohya_repeats"), meta.get("instance_prompt")
        sub = Path(f"{repeats}_{prompt}") if repeats else Path()
        images = [n for n in meta.get("images") or [] if isinstance(n, str)]
        files = {sub / n for n in images} | {sub / f"{Path(n).stem}.txt" for n in images}
    if any(f.is_absolute() or ".." in f.parts for f in files):
        return None
    return files | {Path(MARKER)}


def _foreign_entry(folder: Path, recorded: set[Path]) -> Path | None:
    """The first file or folder inside ``folder`` that the earlier export did not write (None: all its own)."""
    folders = {p for f in recorded for p in f.parents if p != Path()}
    for root, dirs, files in os.walk(folder):
        rel_root = Path(root).relative_to(folder)
        for d in dirs:
            if rel_root / d not in folders or os.path.islink(Path(root) / d):
                return Path(root) / d
        for f in files:
            if rel_root / f not in recorded:
                return Path(root) / f
    return None


def _put_in_place(tmp: Path, out: Path) -> None:
    """Rename the finished export to ``out``; an earlier export there is moved aside first and then only
    the files it recorded are deleted (anything that appeared in it meanwhile is left where it was)."""
    if not out.exists():
        os.replace(tmp, out)
        return
    recorded = _recorded_files(out) or set()
    aside = Path(tempfile.mkdtemp(prefix=f".{out.name}.replaced-", dir=out.parent))
    os.replace(out, aside / "old")
    try:
        os.replace(tmp, out)
    except BaseException:
        os.replace(aside / "old", out)
        aside.rmdir()
        raise
    old = aside / "old"
    for rel in sorted(recorded, key=lambda r: len(r.parts), reverse=True):
        with contextlib.suppress(OSError):
            (old / rel).unlink()
    for d in sorted((p for p in old.rglob("*") if p.is_dir()), key=lambda p: len(p.parts), reverse=True):
        with contextlib.suppress(OSError):
            d.rmdir()  # only folders left empty
    with contextlib.suppress(OSError):
        old.rmdir()
    if old.exists():  # something new appeared in the old export while we worked: keep it, visibly
        os.replace(old, out.parent / f"{out.name}.kept-{os.getpid()}")
    with contextlib.suppress(OSError):
        aside.rmdir()


def _remove_abandoned_partials(out: Path) -> None:
    """Hidden ``.NAME.partial-*`` folders of exports killed mid-way (their process is gone): our own files."""
    for p in out.parent.glob(f".{out.name}.partial-*"):
        tag = p / PARTIAL
        try:
            pid = int(tag.read_text("utf-8").strip())
        except (OSError, ValueError):
            continue  # not ours (or not recognisably): left alone
        if pid != os.getpid() and _alive(pid):
            continue  # another export is writing it right now
        shutil.rmtree(p, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, ValueError):
        return True
    return True


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
        if any(out.iterdir()):
            recorded = _recorded_files(out)
            if recorded is None:
                raise LibraryError(
                    f"export folder '{out}' is not empty",
                    "give a new or empty folder (or an earlier LIPE export)",
                )
            foreign = _foreign_entry(out, recorded)
            if foreign is not None:
                raise LibraryError(
                    f"export folder '{out}' holds '{foreign.relative_to(out)}', which the earlier export did not "
                    "write; it is never deleted", "give a new or empty folder, or move that file out",
                )
    return out


def _write_image(src: Path, orientation: int, dest_stem: Path, max_size: int | None) -> str:
    """Copy the original if it is usable as is, else write an upright PNG; returns the file name.

    The original is read once and fully decoded first (``photo_reader``), so a truncated or bomb
    photo is a one-line error naming it instead of a silent copy of a broken file.
    """
    try:
        data = src.read_bytes()  # reads the original; never opens it for writing
        probe = open_unloaded(data, "photo", str(src))
        fmt = probe.format
        img = decode(probe, "photo", str(src), orientation=orientation)
    except OSError as exc:
        raise LibraryError(f"photo '{src}' cannot be read ({exc.strerror or exc})", "check the file") from exc
    except InputError as exc:
        raise LibraryError(exc.what, "replace the file with a complete copy, then rescan the library") from exc
    ext = src.suffix.lower()
    size_ok = max_size is None or max(img.size) <= max_size
    if (
        orientation == 1
        and size_ok
        and fmt in ("JPEG", "PNG", "WEBP")
        and ext in (".jpg", ".jpeg", ".png", ".webp")
    ):
        dest = dest_stem.with_suffix(".jpg" if ext == ".jpeg" else ext)
        dest.write_bytes(data)
        return dest.name
    if max_size is not None and max(img.size) > max_size:
        img.thumbnail((max_size, max_size), Image.Resampling.LANCZOS)
    dest = dest_stem.with_suffix(".png")
    img.save(dest, "PNG")
    return dest.name
