"""Where the app may write: checked before any work starts, so a bad path costs nothing and loses nothing.

* ``writable_folder(path)``: the folder is (or can be made) a folder we can write in. The nearest
  existing ancestor must be a folder, and a probe file is created and removed there, which is the only
  test that also catches read-only mounts and pseudo file systems (``/proc``) where ``os.access`` lies.
* ``check_new_file(path, ...)``: an output file never replaces an existing one unless the user said
  so (``overwrite``), and never, even then, an original photo of the library, a recorded edit or a
  file of the library's own data folder.
* ``write_new_file``: writes a temporary file and puts it in place only when complete: a new file
  with a hard link (which fails rather than replace one that appeared meanwhile: no race turns it
  into an overwrite), a replacement with an atomic rename.
"""

from __future__ import annotations

import contextlib
import errno
import os
import sqlite3
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO

from ..errors import InputError
from ..locations import DB_NAME

NAME_MAX = 255  # bytes per file name on the usual file systems (ext4, APFS, NTFS via UTF-16 units)


def check_path_text(path: str | os.PathLike[str], what: str = "path") -> Path:
    """A path the file system can hold at all: no NUL, encodable, no name over 255 bytes."""
    text = os.fspath(path)
    if "\x00" in text:
        raise InputError(f"{what} '{text}' contains a NUL character", "give a plain file path")
    try:
        raw = os.fsencode(text)
        text.encode("utf-8")  # bytes that are not UTF-8 (surrogate escapes): the library stores UTF-8 text
    except UnicodeEncodeError as exc:
        raise InputError(f"{what} '{text}' has characters that are not UTF-8 text", "rename it to a UTF-8 name") from exc
    for part in raw.split(b"/"):
        if len(part) > NAME_MAX:
            raise InputError(f"{what} '{text[:60]}...' has a name of {len(part)} bytes",
                             f"use names of at most {NAME_MAX} bytes")
    return Path(text)


def _nearest_existing(path: Path) -> Path:
    p = path
    while not os.path.lexists(p) and p != p.parent:
        p = p.parent
    return p


def writable_folder(path: str | os.PathLike[str], what: str = "output folder") -> Path:
    """``path`` as an absolute folder we can write in (not created yet when missing); else one line."""
    folder = check_path_text(path, what).expanduser().absolute()
    existing = _nearest_existing(folder)
    if not existing.is_dir():
        raise InputError(f"{what} '{folder}' cannot be made: '{existing}' is a file, not a folder",
                         "choose a path inside a folder")
    try:
        fd, probe = tempfile.mkstemp(prefix=".lipe-write-probe-", dir=existing)
    except OSError as exc:
        raise InputError(f"{what} '{folder}' is not writable ({exc.strerror or exc} in '{existing}')",
                         "choose a folder you can write to") from exc
    os.close(fd)
    os.unlink(probe)
    return folder


def make_folder(path: str | os.PathLike[str], what: str = "output folder") -> Path:
    """Create a checked folder (normal permissions: the umask decides), or say why not in one line."""
    folder = writable_folder(path, what)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"{what} '{folder}' cannot be created ({exc.strerror or exc})",
                         "choose a folder you can write to") from exc
    return folder


def library_owner(data_dir: str | os.PathLike[str] | None, path: str | os.PathLike[str]) -> str | None:
    """What of the library ``path`` is ("an original photo", "a recorded edit", ...) or None.

    Reads the library file read-only (and not at all when there is none), so checking costs nothing
    and changes nothing.
    """
    target = Path(path).expanduser().absolute()
    real = os.path.realpath(target)
    if data_dir is None:
        return None
    data = Path(data_dir).expanduser().absolute()
    inside = target == data or data in target.parents or Path(real).is_relative_to(os.path.realpath(data))
    if inside and os.path.lexists(target):
        return "a file of the library's data folder"
    db = data / DB_NAME
    if not db.is_file() or db.stat().st_size == 0:
        return None
    try:
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
        try:
            if conn.execute("SELECT 1 FROM photos WHERE path IN (?, ?)", (str(target), real)).fetchone():
                return "an original photo of the library"
            has_edits = conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'edits'").fetchone()
            if has_edits and conn.execute(
                    "SELECT 1 FROM edits WHERE output_path IN (?, ?)", (str(target), real)).fetchone():
                return "a recorded edit of the library"
        finally:
            conn.close()
    except sqlite3.Error:
        return None  # a damaged library is reported when it is opened, not here
    return None


def check_new_file(path: str | os.PathLike[str], *, overwrite: bool = False,
                   protected: tuple[str | os.PathLike[str], ...] = (),
                   data_dir: str | os.PathLike[str] | None = None, option: str = "--out") -> Path:
    """``path`` may be written: its folder is writable, and it is new (or ``overwrite`` and not protected)."""
    out = check_path_text(path, "output").expanduser().absolute()
    for p in protected:
        if os.path.lexists(out) and os.path.lexists(p) and os.path.samefile(out, p) or \
                os.path.realpath(out) == os.path.realpath(p):
            raise InputError(f"the output '{out}' would overwrite the original photo", f"choose another {option} path")
    if out.is_dir():
        raise InputError(f"output '{out}' is a folder", f"give a file name, e.g. {out / 'edited.png'}")
    writable_folder(out.parent)
    owner = library_owner(data_dir, out)
    if owner:
        raise InputError(f"output '{out}' is {owner}; it is never overwritten", f"choose another {option} path")
    if os.path.lexists(out) and not overwrite:
        raise InputError(f"output '{out}' already exists", f"pass --overwrite to replace it, or choose another {option}")
    return out


@contextlib.contextmanager
def _opened(path: Path, overwrite: bool) -> Iterator[IO[bytes]]:
    """Written under a temporary name and put in place only when complete: a kill or a full disk
    never leaves half a file under the final name (which a rerun would then refuse as existing).
    A new file is put in place with a hard link, which fails rather than replace one that appeared."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".partial", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o666 & ~current_umask())
        if overwrite:
            os.replace(tmp, path)
            return
        try:
            os.link(tmp, path)
        except FileExistsError:
            raise
        except OSError:  # a file system without hard links: check, then rename (a narrow race)
            if os.path.lexists(path):
                raise FileExistsError(path) from None
            os.replace(tmp, path)
    finally:
        with contextlib.suppress(OSError):
            os.unlink(tmp)


def write_new_file(path: Path, write: Callable[[IO[bytes]], None], *, overwrite: bool = False) -> None:
    """Write ``path`` through ``write(fh)``: never over an existing file unless ``overwrite``."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with _opened(path, overwrite) as fh:
            write(fh)
    except FileExistsError as exc:
        raise InputError(f"output '{path}' appeared while the edit ran", "pass --overwrite or choose another path") from exc
    except OSError as exc:
        if exc.errno == errno.ENOSPC:
            raise InputError(f"output '{path}' cannot be written: the disk is full (nothing was left under "
                             "that name)", "free some space, then run the command again") from exc
        if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
            raise InputError(f"output '{path}' cannot be written: its folder is read-only",
                             "choose a folder you can write to") from exc
        raise InputError(f"output '{path}' cannot be written ({exc.strerror or exc})",
                         "check the disk and the folder's permissions") from exc


def current_umask() -> int:
    """The process umask, read without changing it where the system says it (Linux: /proc)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)  # elsewhere: set and restore (a brief window other threads could see)
    os.umask(mask)
    return mask
