"""Cases around the library's own files and the user's folders: damaged and odd databases, a locked or
deleted library file, output folders that hold the user's files, and interrupted or concurrent work."""

from __future__ import annotations

import os
import random
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

from .sandbox import Case, Sandbox, Step, _lipe

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
