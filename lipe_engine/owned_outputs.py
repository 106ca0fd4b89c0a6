"""An output folder a command shares with whatever the user keeps there: it replaces only its own files.

``lipe demo --out DIR`` and ``lipe eval --out DIR`` write fixed names (``edited.png``, ``results.csv``,
``images/``...). DIR may be a folder of the user's (a library folder, a folder with their own
``results.csv``). So before any work, ``OwnedFolder.claim`` checks every name the command will write:
one that exists and is not recorded in DIR's ``.lipe-outputs.json`` as this command's earlier output
is refused with a one-line error naming it. Claimed names are recorded before they are written, so a
rerun (or a resumed run) replaces its own outputs and nothing else. Every file is written to a
temporary name and renamed into place when complete: an interrupted run leaves the old file or the
new one, never half of one under the final name.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import IO

from PIL import Image

from .errors import InputError
from .library.safe_paths import check_path_text, current_umask, writable_folder

MANIFEST = ".lipe-outputs.json"


def _read_manifest(folder: Path) -> dict[str, list[str]]:
    """{command: [names]}; a damaged or foreign manifest records nothing (so nothing is replaced)."""
    try:
        data = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError, UnicodeDecodeError):
        return {}
    if not isinstance(data, dict):
        return {}
    return {str(k): [str(n) for n in v if isinstance(n, str)] for k, v in data.items() if isinstance(v, list)}


def atomic_write(path: Path, write: Callable[[IO[bytes]], object]) -> None:
    """``write(fh)`` into a temporary file beside ``path``, then rename it over ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".partial", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o666 & ~current_umask())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


class OwnedFolder:
    """An output folder where ``command`` writes only ``names`` it claimed (see the module docstring)."""

    def __init__(self, folder: Path, command: str) -> None:
        self.folder = folder
        self.command = command

    @classmethod
    def claim(cls, folder: str | os.PathLike[str], command: str, names: Iterable[str], *,
              option: str = "--out", adopt: Callable[[Path], bool] | None = None) -> OwnedFolder:
        """Check that every name (a file, or a folder ending in ``/``) is new or ``command``'s own, and
        record them. ``adopt(folder)`` may vouch for an earlier output written before manifests existed."""
        out = check_path_text(folder, f"{option} folder").expanduser().absolute()
        if out.exists() and not out.is_dir():
            raise InputError(f"{option} '{out}' is a file", "give a new or empty folder")
        writable_folder(out, f"{option} folder")
        names = list(names)
        manifest = _read_manifest(out) if out.is_dir() else {}
        own = set(manifest.get(command, []))
        adopted = adopt is not None and out.is_dir() and adopt(out)
        for name in names:
            path = out / name.rstrip("/")
            if name in own or adopted or not os.path.lexists(path):
                continue
            if name.endswith("/") and path.is_dir() and not any(path.iterdir()):
                continue  # an empty folder holds nothing to lose
            raise InputError(f"'{path}' already exists and was not written by `lipe {command}`; it is never "
                             "overwritten", f"choose another {option} folder (a new or empty one)")
        try:
            out.mkdir(parents=True, exist_ok=True)
            manifest[command] = sorted(own | set(names))
            text = json.dumps(manifest, indent=1, sort_keys=True).encode("utf-8")
            atomic_write(out / MANIFEST, lambda fh: fh.write(text))
        except OSError as exc:
            raise InputError(f"{option} folder '{out}' cannot be written ({exc.strerror or exc})",
                             "check the disk and the folder's permissions") from exc
        return cls(out, command)

    def path(self, name: str) -> Path:
        return self.folder / name

    def write_bytes(self, name: str, data: bytes) -> Path:
        path = self.path(name)
        atomic_write(path, lambda fh: fh.write(data))
        return path

    def write_text(self, name: str, text: str) -> Path:
        return self.write_bytes(name, text.encode("utf-8"))

    def save_image(self, name: str, img: Image.Image) -> Path:
        buf = io.BytesIO()
        img.save(buf, format=Image.registered_extensions().get(Path(name).suffix.lower(), "PNG"))
        return self.write_bytes(name, buf.getvalue())
