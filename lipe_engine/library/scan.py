"""Folder import and rescan: new, changed, moved and removed files; bad files skipped with a reason.

Per scan: (1) walk every folder (recursively, following folder symlinks once: loops are detected by
device+inode; hidden folders and the app's data folder are skipped; a folder that cannot be listed
or disappears is logged and skipped); (2) for each photo-type file that is new or whose size/mtime
changed, read its bytes once (read-only), hash them, read the header and EXIF and render the
thumbnail with draft decoding, which also proves the file decodes; each photo is written in its own
short transaction, so a cancelled or crashed scan never leaves a half-written record; (3) photos no
longer on disk are flagged ``missing`` (a file that reappears elsewhere with the same content is
treated as moved, keeping its identities, captions and edits); duplicates are re-linked.
"""

from __future__ import annotations

import hashlib
import logging
import os
import stat
from dataclasses import dataclass
from datetime import datetime

from PIL import Image

from ..errors import InputError
from ..photo_reader import exif_orientation, open_unloaded, swaps_sides
from ..progress import CancelToken, ProgressCallback, ProgressReporter, as_reporter
from ._base import now_iso
from .db import LibraryError
from .photos import NEXT_PHOTO_ID, PhotosMixin
from .records import Folder, ScanReport
from .removals import without_removed
from .thumbs import ThumbnailCache, render_thumbnail

log = logging.getLogger(__name__)

PHOTO_EXTENSIONS = {".jpg", ".jpeg", ".jpe", ".png", ".webp"}
FORMATS = {"JPEG", "PNG", "WEBP", "MPO"}
try:  # HEIC/HEIF only where the Pillow plugin is installed (pip install pillow-heif)
    import pillow_heif  # type: ignore[import-not-found]

    pillow_heif.register_heif_opener()
    PHOTO_EXTENSIONS |= {".heic", ".heif"}
    FORMATS |= {"HEIF"}
except ImportError:  # pragma: no cover - depends on the environment
    pass

# Photo types that need a plugin this installation may lack: without it they are scan issues, not ignored.
PLUGIN_TYPES = {".heic": "HEIC/HEIF photos need the pillow-heif plugin (pip install pillow-heif), then rescan",
                ".heif": "HEIC/HEIF photos need the pillow-heif plugin (pip install pillow-heif), then rescan"}
MAX_FILE_BYTES = 512 * 1024 * 1024


@dataclass
class _Candidate:
    folder: Folder
    path: str


@dataclass
class _Decoded:
    content_hash: str
    size: int
    mtime: float
    width: int
    height: int
    taken_at: str | None
    orientation: int
    format: str


def scan_library(
    lib: PhotosMixin,
    thumbs: ThumbnailCache,
    folder_ids: list[int] | None = None,
    *,
    progress: ProgressReporter | ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> ScanReport:
    reporter = as_reporter(progress, cancel)
    folders = [lib.get_folder(i) for i in folder_ids] if folder_ids else lib.list_folders()
    if not folders:
        raise LibraryError("the library has no folders", "add one with `lipe library add FOLDER`")
    report = ScanReport()
    data_dir = os.path.realpath(lib.data_dir)
    candidates: list[_Candidate] = []
    reporter.start("listing folders", len(folders))
    present_folders = []
    for folder in folders:
        if not folder.path.is_dir():
            replaced = os.path.lexists(folder.path)  # a file where the folder was: its photos are gone
            _skip(report, folder, str(folder.path), "library folder was replaced by a file" if replaced else
                  "library folder is missing (unmounted, moved or deleted)")
            with lib.transaction() as c:
                c.execute("UPDATE folders SET missing = 1 WHERE id = ?", (folder.id,))
                if replaced:  # (an unmounted drive's photos keep their state until it is back)
                    report.removed += c.execute(
                        "UPDATE photos SET missing = 1 WHERE folder_id = ? AND missing = 0", (folder.id,)).rowcount
            reporter.step()
            continue
        present_folders.append(folder)
        for path in _walk(folder, data_dir, report):
            candidates.append(_Candidate(folder, path))
        reporter.step()

    candidates = without_removed(lib, candidates, lambda c: c.path)  # the user's Delete stays deleted
    seen = {c.path for c in candidates}
    gone = _gone_photos(lib, present_folders, seen)
    reporter.start("importing photos", len(candidates))
    for cand in candidates:
        _scan_file(lib, thumbs, cand, report, gone)
        reporter.step(file=os.path.basename(cand.path))

    _finish(lib, gone, report)
    with lib.transaction() as c:
        for f in present_folders:
            c.execute("DELETE FROM scan_issues WHERE folder_id = ?", (f.id,))
        for f in folders:
            c.execute("UPDATE folders SET last_scan_at = ? WHERE id = ?", (now_iso(), f.id))
        for f in present_folders:
            c.execute("UPDATE folders SET missing = 0 WHERE id = ?", (f.id,))
        for path, reason in report.skipped:
            fid = next(
                (f.id for f in folders if path == str(f.path) or path.startswith(str(f.path) + os.sep)), None
            )
            c.execute(
                "INSERT INTO scan_issues(folder_id, path, reason, seen_at) VALUES (?, ?, ?, ?) "
                "ON CONFLICT(path) DO UPDATE SET reason = excluded.reason, seen_at = excluded.seen_at",
                (fid, path, reason, now_iso()),
            )
    log.info("scan: %s", report.summary())
    return report


def _skip(report: ScanReport, folder: Folder | None, path: str, reason: str) -> None:
    log.warning("skipped %s: %s", path, reason)
    report.skipped.append((path, reason))


def _walk(folder: Folder, data_dir: str, report: ScanReport) -> list[str]:
    """Photo-type files under ``folder`` (sorted), skipping loops, hidden and unreadable folders."""
    out: list[str] = []
    visited: set[tuple[int, int]] = set()
    stack = [str(folder.path)]
    while stack:
        d = stack.pop()
        try:
            st = os.stat(d)
            key = (st.st_dev, st.st_ino)
            if key in visited:
                _skip(
                    report, folder, d, "folder link points back into a folder already scanned (symlink loop)"
                )
                continue
            visited.add(key)
            with os.scandir(d) as it:
                entries = list(it)
        except FileNotFoundError:
            _skip(report, folder, d, "folder disappeared during the scan")
            continue
        except NotADirectoryError:
            _skip(report, folder, d, "folder was replaced by a file during the scan")
            continue
        except PermissionError:
            _skip(report, folder, d, "folder cannot be read (permission denied)")
            continue
        except OSError as exc:
            _skip(report, folder, d, f"folder cannot be read ({exc.strerror or exc})")
            continue
        subdirs = []
        for e in entries:
            name = e.name
            if name.startswith("."):
                continue
            try:
                name.encode("utf-8")
            except UnicodeEncodeError:
                _skip(report, folder, os.path.join(d, name.encode("utf-8", "replace").decode()),
                      "file name is not valid UTF-8; rename it")  # fmt: skip
                continue
            try:
                is_dir = e.is_dir(follow_symlinks=True)
            except OSError:
                is_dir = False
            if is_dir:
                if os.path.realpath(e.path) == data_dir:
                    continue
                subdirs.append(e.path)
            elif os.path.splitext(name)[1].lower() in PHOTO_EXTENSIONS:
                out.append(e.path)
            elif os.path.splitext(name)[1].lower() in PLUGIN_TYPES:
                _skip(report, folder, e.path, PLUGIN_TYPES[os.path.splitext(name)[1].lower()])
        stack.extend(sorted(subdirs, reverse=True))
    return sorted(out)


def _scan_file(
    lib: PhotosMixin,
    thumbs: ThumbnailCache,
    cand: _Candidate,
    report: ScanReport,
    gone: dict[str, list[int]],
) -> None:
    path = cand.path
    try:
        st = os.stat(path)
    except FileNotFoundError:
        _skip(report, cand.folder, path, "file disappeared during the scan")
        return
    except OSError as exc:
        _skip(report, cand.folder, path, f"file cannot be read ({exc.strerror or exc})")
        return
    if not stat.S_ISREG(st.st_mode):
        _skip(report, cand.folder, path, "not a regular file")
        return
    row = lib.conn.execute("SELECT id, size, mtime, missing FROM photos WHERE path = ?", (path,)).fetchone()
    if row is not None and row["size"] == st.st_size and row["mtime"] == st.st_mtime and not row["missing"]:
        report.unchanged += 1
        return
    decoded = _decode(thumbs, cand, st, report)
    if decoded is None:
        return
    if row is None:
        _insert_or_move(lib, cand, decoded, gone)
        report.added += 1
        return
    with lib.transaction() as c:
        c.execute(
            "UPDATE photos SET content_hash = ?, size = ?, mtime = ?, width = ?, height = ?, taken_at = ?, "
            "orientation = ?, format = ?, missing = 0, folder_id = ? WHERE id = ?",
            (
                decoded.content_hash, decoded.size, decoded.mtime, decoded.width, decoded.height, decoded.taken_at,
                decoded.orientation, decoded.format, cand.folder.id, row["id"],
            ),
        )  # fmt: skip
    report.changed += 1


def _decode(thumbs: ThumbnailCache, cand: _Candidate, st: os.stat_result, report: ScanReport) -> _Decoded | None:
    path = cand.path
    if st.st_size == 0:
        _skip(report, cand.folder, path, "file is empty (0 bytes)")
        return None
    if st.st_size > MAX_FILE_BYTES:
        _skip(
            report,
            cand.folder,
            path,
            f"file is {st.st_size // 2**20} MiB, over the {MAX_FILE_BYTES // 2**20} MiB limit",
        )
        return None
    try:
        with open(path, "rb") as fh:
            data = fh.read()
    except FileNotFoundError:
        _skip(report, cand.folder, path, "file disappeared during the scan")
        return None
    except OSError as exc:
        _skip(report, cand.folder, path, f"file cannot be read ({exc.strerror or exc})")
        return None
    digest = hashlib.sha256(data).hexdigest()
    try:
        img = open_unloaded(data, "photo", path)
        if img.format not in FORMATS:
            _skip(report, cand.folder, path, f"{img.format} images are not supported; use JPEG, PNG or WebP")
            return None
        raw_w, raw_h = img.size
        exif = img.getexif()
        orientation = exif_orientation(img)  # read as a viewer would: a malformed tag is upright, not damage
        taken_at = _taken_at(exif)
        fmt = "JPEG" if img.format == "MPO" else str(img.format)
        if not thumbs.has(digest):
            thumbs.store(digest, render_thumbnail(img, thumbs.size, path))
    except InputError as exc:
        _skip(report, cand.folder, path, exc.what.replace(f"photo '{path}'", "file", 1))
        return None
    w, h = (raw_h, raw_w) if swaps_sides(orientation) else (raw_w, raw_h)
    return _Decoded(digest, st.st_size, st.st_mtime, w, h, taken_at, orientation, fmt)


def _taken_at(exif: Image.Exif) -> str | None:
    value = None
    try:
        value = exif.get_ifd(0x8769).get(0x9003) or exif.get(0x0132)
    except Exception:  # noqa: BLE001 - malformed EXIF must not stop an import
        value = exif.get(0x0132)
    if not value:
        return None
    try:
        return datetime.strptime(str(value).strip("\x00 ")[:19], "%Y:%m:%d %H:%M:%S").isoformat()
    except ValueError:
        return None


def _gone_photos(lib: PhotosMixin, folders: list[Folder], seen: set[str]) -> dict[str, list[int]]:
    """content hash -> ids of recorded photos whose file is no longer on disk."""
    gone: dict[str, list[int]] = {}
    for folder in folders:
        rows = lib.conn.execute("SELECT id, path, content_hash FROM photos WHERE folder_id = ?", (folder.id,))
        for r in rows.fetchall():
            if r["path"] in seen:
                continue
            try:
                os.stat(r["path"])
            except (FileNotFoundError, NotADirectoryError):  # (a folder on its path is now a file: gone too)
                gone.setdefault(r["content_hash"], []).append(r["id"])
            except OSError:
                pass  # exists but unreachable (e.g. unreadable parent): keep as is
    return gone


def _insert_or_move(lib: PhotosMixin, cand: _Candidate, d: _Decoded, gone: dict[str, list[int]]) -> None:
    """A new path: the same content that vanished elsewhere is a move (records kept), else a new photo."""
    vals = (
        cand.folder.id, cand.path, d.content_hash, d.size, d.mtime, d.width, d.height, d.taken_at,
        d.orientation, d.format,
    )  # fmt: skip
    ids = gone.get(d.content_hash)
    with lib.transaction() as c:
        # Under the write lock: another scan (GUI + CLI, two terminals) may have recorded this path
        # since we looked. Then ours is the same file: update that record and converge, no error.
        row = c.execute("SELECT id FROM photos WHERE path = ?", (cand.path,)).fetchone()
        if row is not None:
            c.execute(
                "UPDATE photos SET folder_id = ?, path = ?, content_hash = ?, size = ?, mtime = ?, width = ?, "
                "height = ?, taken_at = ?, orientation = ?, format = ?, missing = 0 WHERE id = ?",
                (*vals, row[0]),
            )
        elif ids:
            pid = ids.pop(0)
            c.execute(
                "UPDATE photos SET folder_id = ?, path = ?, content_hash = ?, size = ?, mtime = ?, width = ?, "
                "height = ?, taken_at = ?, orientation = ?, format = ?, missing = 0 WHERE id = ?",
                (*vals, pid),
            )
        else:
            c.execute(
                "INSERT INTO photos(id, folder_id, path, content_hash, size, mtime, width, height, taken_at, "
                f"orientation, format) VALUES ({NEXT_PHOTO_ID}, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                vals,
            )


def _finish(lib: PhotosMixin, gone: dict[str, list[int]], report: ScanReport) -> None:
    """Flag vanished photos missing and re-link duplicates, in one transaction."""
    with lib.transaction() as c:
        for ids in gone.values():
            for pid in ids:
                row = c.execute("SELECT path FROM photos WHERE id = ?", (pid,)).fetchone()
                if row is None or os.path.lexists(row[0]):
                    continue  # another scan moved this record to a file that is there
                report.removed += c.execute(
                    "UPDATE photos SET missing = 1 WHERE id = ? AND missing = 0", (pid,)
                ).rowcount
        c.execute(
            "UPDATE photos SET duplicate_of = (SELECT MIN(p2.id) FROM photos p2 WHERE p2.content_hash = "
            "photos.content_hash AND p2.missing = 0 AND p2.id < photos.id)"
        )
    row = lib.conn.execute(
        "SELECT COUNT(*) FROM photos WHERE duplicate_of IS NOT NULL AND missing = 0"
    ).fetchone()
    report.duplicates = int(row[0])
