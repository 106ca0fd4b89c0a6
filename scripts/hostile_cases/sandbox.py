"""A hostile case's sandbox (a data folder and copies of photos), the steps it runs and the files it protects.

Each case gets its own ``Sandbox``; its setup returns the ``Step`` list (``lipe`` commands) the run executes
in separate processes; the files it ``protect``s are judged afterwards (lost, or an original written).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image

ROOT = Path(__file__).resolve().parents[2]

Argv = list[str | bytes]


@dataclass
class Step:
    argv: Argv
    kill_after: float | None = None  # seconds; then SIGKILL (a crash, a power cut)
    close_stdout: bool = False
    ok_rcs: tuple[int, ...] = (0, 2)


@dataclass
class Sandbox:
    root: Path
    photo_source: Path | None
    protected: dict[Path, tuple[str, float]] = field(default_factory=dict)  # user files: sha, mtime
    originals: set[Path] = field(default_factory=set)

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def pics(self) -> Path:
        return self.root / "pics"

    def photos(self, n: int = 4) -> list[Path]:
        self.pics.mkdir(parents=True, exist_ok=True)
        out = []
        sources = sorted(self.photo_source.glob("*.jp*g"))[:n] if self.photo_source else []
        for i in range(n):
            p = self.pics / f"photo_{i:03d}.jpg"
            if i < len(sources):
                shutil.copyfile(sources[i], p)
            else:
                img = Image.new("RGB", (96, 72), ((i * 37) % 256, (i * 91) % 256, (i * 53) % 256))
                for x in range(0, 96, 8):
                    img.putpixel((x, (x + i) % 72), (255, 255, 255))
                img.save(p, quality=85)
            out.append(p)
        return out

    def protect(self, *paths: Path, original: bool = False) -> None:
        for p in paths:
            for f in [p] if p.is_file() else [q for q in p.rglob("*") if q.is_file()]:
                self.protected[f] = (_sha(f), f.stat().st_mtime)
                if original:
                    self.originals.add(f)

    def library(self, n: int = 4, identity: bool = True, scan: bool = True) -> list[Path]:
        """A library of ``n`` photos with identity Rex (3 references), made in this process (fast setup)."""
        from lipe_engine.library import Library

        photos = self.photos(n)
        self.protect(self.pics, original=True)
        with Library.open(self.data) as lib:
            folder = lib.add_folder(self.pics)
            if scan:
                lib.scan([folder.id])
                if identity:
                    lib.add_identity_photos(lib.create_identity("Rex", "dog"), photos[:3])
        return photos

    def backup(self) -> None:
        from lipe_engine.library import Library

        with Library.open(self.data) as lib:
            lib.backup_now()


@dataclass
class Case:
    name: str
    family: str
    setup: Callable[[Sandbox], list[Step]]
    quick: bool = False


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _env(sb: Sandbox) -> dict[str, str]:
    return dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1", HF_HUB_OFFLINE="1",
                LIPE_DATA_DIR=str(sb.data), LIPE_CACHE_DIR=str(sb.root / "cache"), PYTHONUNBUFFERED="1")


def _lipe(sb: Sandbox, argv: Argv) -> subprocess.CompletedProcess:
    """A setup command: it must succeed."""
    r = subprocess.run([sys.executable, "-m", "lipe_engine", *argv], env=_env(sb), capture_output=True, timeout=300)
    if r.returncode != 0:
        raise RuntimeError(f"setup `lipe {' '.join(map(str, argv))}` failed: {r.stderr.decode(errors='replace')}")
    return r
