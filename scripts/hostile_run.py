#!/usr/bin/env python3
"""The hostile run: generate hostile cases and run each through the real ``lipe`` command.

Every case gets its own sandbox (a data folder and copies of photos), prepares something hostile
(damaged or crafted photos, damaged or odd databases, a deleted library file, numbers out of range,
arguments that are not UTF-8, a closed stdout, output folders holding the user's files, kill -9 in
the middle of a scan...) and runs one or more ``python -m lipe_engine ...`` commands in separate
processes, exactly as a terminal would. Each case is then judged on four things:

* **traceback**: a Python traceback on stderr (a bad input must be one line, exit code 2);
* **not one line**: an error (exit code 2) that is not exactly one ``lipe: error:`` line;
* **data lost**: a file the user had (their photos, their own files beside an output, the library's
  backups) is gone or changed;
* **original written**: an original photo's bytes or modification time changed.

A case with none of these (and an exit code the case allows) is OK. ``--quick`` runs the reduced set the
default test suite runs (``tests/hostile/test_hostile_run.py``); without it, the full set.

    python scripts/hostile_run.py [--quick] [--photos DIR] [--json OUT.json] [--keep DIR]
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import random
import shutil
import signal
import sqlite3
import struct
import subprocess
import sys
import tempfile
import time
import zlib
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from PIL import Image  # noqa: E402

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


# --- hostile files -----------------------------------------------------------------------------------


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


# --- damaged and odd databases -------------------------------------------------------------------------


def _db_case(kind: str, quick: bool = False) -> Case:
    def setup(sb: Sandbox) -> list[Step]:
        sb.library(3)
        db = sb.data / "library.sqlite"
        sb.backup()
        sb.protect(sb.data / "backups")
        for side in ("-wal", "-shm"):
            Path(f"{db}{side}").unlink(missing_ok=True)
        if kind == "truncated":
            db.write_bytes(db.read_bytes()[:3000])
        elif kind == "garbage":
            db.write_bytes(os.urandom(8192))
        elif kind == "zero":
            db.write_bytes(b"")
        elif kind == "deleted":
            db.unlink()
        elif kind == "damaged_page":
            raw = bytearray(db.read_bytes())
            page = 4096
            for i in range(page * 2 + 16, min(len(raw), page * 2 + 400)):
                raw[i] = 0xA5
            db.write_bytes(bytes(raw))
        elif kind == "newer_schema":
            c = sqlite3.connect(db)
            c.execute("PRAGMA user_version = 999")
            c.commit()
            c.close()
        elif kind == "odd_values":
            c = sqlite3.connect(db)
            c.execute("UPDATE photos SET path = ? WHERE id = 1", (b"/x/\xffblob.jpg",))
            c.execute("UPDATE photos SET taken_at = ? WHERE id = 2", (b"\x00\x01",))
            c.execute("INSERT INTO jobs(kind, config) VALUES ('train', '{broken')")
            c.execute("INSERT OR REPLACE INTO settings(key, value) VALUES ('thumbnail_cache_mb', 'NaN')")
            c.commit()
            c.close()
        elif kind == "wrong_types":
            c = sqlite3.connect(db)
            c.execute("UPDATE photos SET width = 'wide', orientation = 'x', size = -5")
            c.execute("UPDATE identities SET created_at = x'00ff', class_word = 42")
            c.commit()
            c.close()
        sb.protect(db) if db.exists() and kind not in ("odd_values", "wrong_types") else None
        steps = [Step(["library", "list"]), Step(["identity", "list"]), Step(["queue", "list"]),
                 Step(["library", "folders"]), Step(["library", "restore"])]
        if kind in ("odd_values",):
            steps += [Step(["queue", "show", "1"]), Step(["queue", "run"], ok_rcs=(0, 1, 2))]
        return steps
    return Case(f"database {kind}", "damaged databases", setup, quick=quick)


def _locked_case() -> Case:
    def setup(sb: Sandbox) -> list[Step]:
        sb.library(2)
        holder = sb.root / "hold.py"
        holder.write_text(
            "import sqlite3, sys, time\nc = sqlite3.connect(sys.argv[1], isolation_level=None)\n"
            "c.execute('PRAGMA locking_mode = EXCLUSIVE'); c.execute('BEGIN EXCLUSIVE')\n"
            "print('held', flush=True); time.sleep(float(sys.argv[2]))\n")
        p = subprocess.Popen([sys.executable, str(holder), str(sb.data / "library.sqlite"), "45"],
                             stdout=subprocess.PIPE, text=True)
        assert p.stdout is not None and p.stdout.readline().strip() == "held"
        sb.holder = p  # type: ignore[attr-defined]
        return [Step(["library", "list"], ok_rcs=(2,))]
    return Case("database locked by another process", "damaged databases", setup)


# --- command-line abuse --------------------------------------------------------------------------------

BAD_VALUES: list[tuple[str, Argv]] = [
    ("list limit -1", ["library", "list", "--limit", "-1"]),
    ("list limit huge", ["library", "list", "--limit", "99999999999999999999999"]),
    ("suggest top 0", ["identity", "suggest", "Rex", "--top", "0"]),
    ("suggest min-score nan", ["identity", "suggest", "Rex", "--min-score", "nan"]),
    ("export max-size 0", ["identity", "export", "Rex", "{root}/x", "--max-size", "0"]),
    ("export repeats 0", ["identity", "export", "Rex", "{root}/x", "--kohya-repeats", "0"]),
    ("export into /proc", ["identity", "export", "Rex", "/proc/lipe-export"]),
    ("export onto a photo", ["identity", "export", "Rex", "{root}/pics/photo_000.jpg"]),
    ("show unknown identity", ["identity", "show", "Nobody"]),
    ("show id 2**70", ["identity", "show", str(2**70)]),
    ("queue show huge id", ["queue", "show", "99999999999999999999"]),
    ("identity long name", ["identity", "create", "x" * 5000, "--class", "dog"]),
    ("identity control chars", ["identity", "create", "a\x1b[31mred\nline", "--class", "dog"]),
    ("add a file as folder", ["library", "add", "{root}/pics/photo_000.jpg"]),
    ("add the data folder", ["library", "add", "{root}/data"]),
    ("add missing folder", ["library", "add", "{root}/nothing"]),
    ("demo seed -1", ["demo", "--seed", "-1", "--out", "{root}/demo"]),
    ("demo steps 0", ["demo", "--steps", "0", "--out", "{root}/demo"]),
    ("train steps -5", ["train", "Rex", "--steps", "-5"]),
    ("train lr nan", ["train", "Rex", "--lr", "nan"]),
    ("train rank 0", ["train", "Rex", "--rank", "0"]),
    ("train preset unknown", ["train", "Rex", "--preset", "8gb"]),
    ("edit steps 0", ["edit", "{root}/pics/photo_000.jpg", "--prompt-source", "a dog", "--prompt-target", "a dog",
                      "--identity-prompt", "a sks dog", "--out", "{root}/o.png", "--steps", "0"]),
    ("edit out onto original", ["edit", "{root}/pics/photo_000.jpg", "--prompt-source", "a dog", "--prompt-target",
                                "a dog", "--identity-prompt", "a sks dog", "--out", "{root}/pics/photo_001.jpg",
                                "--overwrite"]),
    ("edit missing photo", ["edit", "{root}/none.jpg", "--prompt-source", "a", "--prompt-target", "b",
                            "--identity-prompt", "c", "--out", "{root}/o.png"]),
    ("edit empty prompt", ["edit", "{root}/pics/photo_000.jpg", "--prompt-source", "", "--prompt-target", "b",
                           "--identity-prompt", "c", "--out", "{root}/o.png"]),
    ("non-UTF-8 folder: add", ["library", "add", b"{root}/pics\xff"]),
    ("non-UTF-8 folder: scan", ["library", "scan", b"{root}/pics\xff"]),
    ("non-UTF-8 folder: remove", ["library", "remove", b"{root}/pics\xff"]),
    ("non-UTF-8 folder: list", ["library", "list", "--folder", b"{root}/pics\xff"]),
    ("non-UTF-8 photo: identity add", ["identity", "add", "Rex", b"{root}/pics\xff/a\xfe.jpg"]),
    ("non-UTF-8 prompt", ["edit", "{root}/pics/photo_000.jpg", "--prompt-source", b"a \xff dog",
                          "--prompt-target", "a dog", "--identity-prompt", "a sks dog", "--out", "{root}/o.png"]),
    ("non-UTF-8 identity name", ["identity", "create", b"R\xe9x", "--class", "dog"]),
    ("unknown command", ["frobnicate"]),
    ("restore unknown backup", ["library", "restore", "nope.sqlite"]),
]


def _fill(arg: str | bytes, root: Path) -> str | bytes:
    if isinstance(arg, bytes):
        return arg.replace(b"{root}", os.fsencode(root))
    return arg.replace("{root}", str(root))


def _cli_case(name: str, argv: Argv, quick: bool) -> Case:
    def setup(sb: Sandbox) -> list[Step]:
        sb.library(3)
        odd = Path(os.fsdecode(os.fsencode(sb.root) + b"/pics\xff"))
        odd.mkdir()
        Image.new("RGB", (30, 20)).save(Path(os.fsdecode(os.fsencode(odd) + b"/a\xfe.jpg")), "JPEG")
        sb.protect(odd, original=True)
        return [Step([_fill(a, sb.root) for a in argv], ok_rcs=(2,) if name != "unknown command" else (2,))]
    return Case(name, "command-line abuse", setup, quick=quick)


def _closed_stdout_case(argv: Argv) -> Case:
    def setup(sb: Sandbox) -> list[Step]:
        sb.library(2)
        return [Step(argv, close_stdout=True, ok_rcs=(0,))]
    return Case(f"`lipe {' '.join(map(str, argv))} >&-`", "command-line abuse", setup, quick=argv == ["library", "list"])


# --- output folders that hold the user's files -----------------------------------------------------------


def _output_case(kind: str, quick: bool = False) -> Case:
    def setup(sb: Sandbox) -> list[Step]:
        sb.library(3)
        out = sb.root / "out"
        out.mkdir()
        if kind == "export twice with user files":
            _lipe(sb, ["identity", "export", "Rex", str(out), "-q"])
            (out / "my_notes.txt").write_text("mine")
            mine = out / "mine"
            mine.mkdir()
            shutil.copyfile(sb.pics / "photo_000.jpg", mine / "keep.jpg")
            sb.protect(out / "my_notes.txt", mine)
            return [Step(["identity", "export", "Rex", str(out), "-q"])]
        if kind == "export into a non-empty folder":
            (out / "thesis.pdf").write_bytes(os.urandom(100))
            sb.protect(out)
            return [Step(["identity", "export", "Rex", str(out), "-q"])]
        if kind == "export over a library folder":
            return [Step(["identity", "export", "Rex", str(sb.pics), "-q"])]
        if kind == "export twice":
            return [Step(["identity", "export", "Rex", str(out), "-q"]), Step(["identity", "export", "Rex", str(out), "-q"])]
        if kind == "demo into a library folder":
            for name in ("edited.png", "reference_1.png", "report.json"):
                shutil.copyfile(sb.pics / "photo_001.jpg", sb.pics / name)
            sb.protect(sb.pics, original=True)
            return [Step(["demo", "--out", str(sb.pics), "--quiet"], ok_rcs=(2,))]
        if kind == "eval over a user's results":
            for name in ("results.csv", "table.md", "grid.png"):
                (out / name).write_bytes(b"my own " + name.encode())
            sb.protect(out)
            return [Step(["eval", str(sb.root / "ds"), "--make-toy-dataset", "1", "--out", str(out), "--no-metrics",
                          "--quiet"], ok_rcs=(2,))]
        raise ValueError(kind)
    return Case(kind, "output folders", setup, quick=quick)


def _missing_library_case() -> Case:
    def setup(sb: Sandbox) -> list[Step]:
        sb.library(3)
        sb.backup()
        sb.protect(sb.data / "backups")
        for p in sb.data.glob("library.sqlite*"):
            p.unlink()
        return [Step(["library", "list"], ok_rcs=(2,)), Step(["library", "add", str(sb.pics)], ok_rcs=(2,)),
                Step(["library", "restore", "1"], ok_rcs=(0,)), Step(["library", "list"], ok_rcs=(0,))]
    return Case("library file deleted beside its backups", "damaged databases", setup, quick=True)


# --- interrupted and concurrent work -----------------------------------------------------------------------


def _kill_case(seed: int) -> Case:
    def setup(sb: Sandbox) -> list[Step]:
        sb.library(40, scan=False)
        delay = random.Random(seed).uniform(0.3, 2.5)
        return [Step(["library", "scan"], kill_after=delay), Step(["library", "scan", "-q"], ok_rcs=(0,)),
                Step(["library", "list"], ok_rcs=(0,))]
    return Case(f"kill -9 during a scan (seed {seed})", "interrupted work", setup, quick=seed == 0)


def _concurrent_case() -> Case:
    def setup(sb: Sandbox) -> list[Step]:
        sb.library(30, scan=False)
        return [Step(["library", "scan", "-q"], ok_rcs=(0,), kill_after=-1.0),  # -1: started in parallel
                Step(["library", "scan", "-q"], ok_rcs=(0,))]
    return Case("two scans at once", "interrupted work", setup)


def _folder_replaced_case() -> Case:
    def setup(sb: Sandbox) -> list[Step]:
        sb.library(3, identity=False)
        shutil.rmtree(sb.pics)
        sb.pics.write_text("a file where the folder was")
        sb.protected.clear()  # the user removed those photos themselves
        sb.originals.clear()
        return [Step(["library", "scan", "-q"], ok_rcs=(0,)), Step(["library", "list"], ok_rcs=(0,))]
    return Case("photo folder replaced by a file", "interrupted work", setup)


def build_cases() -> list[Case]:
    cases: list[Case] = []
    for name, make in HOSTILE_FILES.items():
        cases.append(_file_case(name, make, "scan"))
        cases.append(_file_case(name, make, "link_and_export"))
    for name in ("truncated.jpg", "bomb.png", "text.jpg", "orient_text.jpg", "transparent.png", "empty.jpg"):
        cases.append(_file_case(name, HOSTILE_FILES[name], "replace_reference"))
    for kind in ("truncated", "garbage", "zero", "deleted", "damaged_page", "newer_schema", "odd_values",
                 "wrong_types"):
        cases.append(_db_case(kind, quick=kind == "odd_values"))
    cases.append(_locked_case())
    cases.append(_missing_library_case())
    quick_cli = {"edit out onto original", "non-UTF-8 folder: add"}
    cases += [_cli_case(n, a, n in quick_cli) for n, a in BAD_VALUES]
    cases += [_closed_stdout_case(a) for a in (["library", "list"], ["library", "list", "--json"], ["identity", "list"],
                                               ["library", "issues"], ["--help"])]
    for kind in ("export twice with user files", "export into a non-empty folder", "export over a library folder",
                 "export twice", "demo into a library folder", "eval over a user's results"):
        cases.append(_output_case(kind, quick=kind in ("export twice with user files", "demo into a library folder")))
    cases += [_kill_case(s) for s in range(6)]
    cases.append(_concurrent_case())
    cases.append(_folder_replaced_case())
    return cases


# --- running and judging ---------------------------------------------------------------------------------


@dataclass
class Outcome:
    name: str
    family: str
    ok: bool = True
    traceback: bool = False
    not_one_line: bool = False
    unexpected_rc: bool = False
    data_lost: list[str] = field(default_factory=list)
    original_written: list[str] = field(default_factory=list)
    details: list[str] = field(default_factory=list)


def _run_step(sb: Sandbox, step: Step, parallel: list[subprocess.Popen]) -> tuple[int | None, str]:
    cmd: list[str | bytes] = [sys.executable, "-m", "lipe_engine", *step.argv]
    if step.close_stdout:
        cmd = [sys.executable, "-c", "import os, sys; os.close(1); os.execv(sys.executable, sys.argv[1:])", *cmd]
    p = subprocess.Popen(cmd, env=_env(sb), stdout=None if step.close_stdout else subprocess.PIPE,
                         stderr=subprocess.PIPE)
    if step.kill_after is not None and step.kill_after < 0:
        parallel.append(p)
        return None, ""
    if step.kill_after is not None:
        time.sleep(step.kill_after)
        p.send_signal(signal.SIGKILL)
    try:
        _, err = p.communicate(timeout=600)
    except subprocess.TimeoutExpired:
        p.kill()
        _, err = p.communicate()
        return -999, "hung"
    return (None if step.kill_after is not None else p.returncode), err.decode("utf-8", "replace")


def run_case(case: Case, photo_source: Path | None, keep: Path | None) -> Outcome:
    out = Outcome(case.name, case.family)
    root = Path(tempfile.mkdtemp(prefix="lipe-hostile-", dir=keep))
    sb = Sandbox(root, photo_source)
    try:
        try:
            steps = case.setup(sb)
        except Exception as exc:  # noqa: BLE001 - a setup failure is reported as such, the run goes on
            out.ok = False
            out.details.append(f"setup failed: {exc}")
            return out
        parallel: list[subprocess.Popen] = []
        for step in steps:
            rc, err = _run_step(sb, step, parallel)
            for p in parallel if rc is not None else []:
                _, perr = p.communicate(timeout=600)
                out.traceback |= "Traceback" in perr.decode("utf-8", "replace")
            parallel = [] if rc is not None else parallel
            lines = [ln for ln in err.splitlines() if ln.strip() and not ln.startswith(("  0%", "\r"))]
            shown = " ".join(map(lambda a: os.fsdecode(a) if isinstance(a, bytes) else a, step.argv))[:120]
            if "Traceback" in err:
                out.traceback = True
                out.details.append(f"`lipe {shown}`: traceback: {err.strip().splitlines()[-1][:200]}")
            if rc == 2 and (len(lines) != 1 or not lines[0].startswith("lipe: error:")):
                out.not_one_line = True
                out.details.append(f"`lipe {shown}`: error is {len(lines)} lines: {' | '.join(lines)[:300]}")
            if rc is not None and rc not in step.ok_rcs:
                out.unexpected_rc = True
                out.details.append(f"`lipe {shown}`: exit code {rc} (expected {step.ok_rcs}): "
                                   f"{(lines or [''])[-1][:200]}")
        holder = getattr(sb, "holder", None)
        if holder is not None:
            holder.kill()
            holder.wait()
        for path, (digest, mtime) in sb.protected.items():
            changed = not path.is_file() or _sha(path) != digest
            if path in sb.originals and (changed or path.stat().st_mtime != mtime):
                out.original_written.append(str(path))
            elif changed:
                out.data_lost.append(str(path))
        out.ok = not (out.traceback or out.not_one_line or out.unexpected_rc or out.data_lost or out.original_written)
        return out
    finally:
        if keep is None:
            shutil.rmtree(root, ignore_errors=True)


def run_cases(cases: list[Case], photo_source: Path | None, keep: Path | None, jobs: int = 1) -> Iterator[Outcome]:
    """Outcomes in the cases' order; ``jobs`` cases at once (each in its own sandbox: they share nothing)."""
    if jobs <= 1:
        for case in cases:
            yield run_case(case, photo_source, keep)
        return
    with ThreadPoolExecutor(jobs) as pool:
        yield from pool.map(lambda c: run_case(c, photo_source, keep), cases)


def summarise(outcomes: list[Outcome]) -> dict[str, int]:
    return {
        "cases": len(outcomes),
        "ok": sum(o.ok for o in outcomes),
        "traceback": sum(o.traceback for o in outcomes),
        "error not one line": sum(o.not_one_line for o in outcomes),
        "unexpected exit code": sum(o.unexpected_rc for o in outcomes),
        "data lost": sum(bool(o.data_lost) for o in outcomes),
        "original written": sum(bool(o.original_written) for o in outcomes),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="the reduced set the default test suite runs")
    ap.add_argument("--photos", type=Path, default=None, help="copy the sandboxes' photos from here (JPEGs)")
    ap.add_argument("--only", default=None, help="run the cases whose name contains this text")
    ap.add_argument("--jobs", type=int, default=1, help="cases run at once (default 1)")
    ap.add_argument("--json", type=Path, default=None, help="write every outcome here")
    ap.add_argument("--keep", type=Path, default=None, help="keep the sandboxes under this folder")
    args = ap.parse_args(argv)
    cases = [c for c in build_cases() if (c.quick or not args.quick) and (args.only is None or args.only in c.name)]
    if args.keep:
        args.keep.mkdir(parents=True, exist_ok=True)
    started = time.time()
    outcomes = []
    for i, o in enumerate(run_cases(cases, args.photos, args.keep, args.jobs), start=1):
        outcomes.append(o)
        print(f"[{i:>3}/{len(cases)}] {'OK  ' if o.ok else 'FAIL'} {o.family}: {o.name}", flush=True)
        for d in o.details + [f"data lost: {p}" for p in o.data_lost] + [f"original written: {p}" for p in o.original_written]:
            print(f"        {d}", flush=True)
    counts = summarise(outcomes)
    by_family = Counter(o.family for o in outcomes)
    print(f"\nhostile run ({'quick' if args.quick else 'full'}), {time.time() - started:.0f} s:")
    for k, v in counts.items():
        print(f"  {k:<22} {v}")
    print("  by family: " + ", ".join(f"{k} {v}" for k, v in by_family.items()))
    if args.json:
        args.json.write_text(json.dumps({"counts": counts, "outcomes": [o.__dict__ for o in outcomes]}, indent=1))
    return 0 if counts["ok"] == counts["cases"] else 1


if __name__ == "__main__":
    sys.exit(main())
