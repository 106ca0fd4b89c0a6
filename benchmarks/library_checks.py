"""What the library's self-checks cost: quick_check on open and an online backup, for a large library.

Builds a library of N photo records (inserted directly; 20 identities with captions), then times,
in this process and round-robin over repeats: opening the library (which runs ``PRAGMA quick_check``),
the quick_check alone, and one backup. Prints medians and spreads, and the check's share of an open.

    python benchmarks/library_checks.py --photos 10000 --repeats 5
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from lipe_engine.library import Library, backup


def build(data: Path, n: int) -> None:
    with Library.open(data) as lib:
        folder = lib.add_folder(data.parent)
        with lib.transaction() as c:
            c.executemany(
                "INSERT INTO photos(folder_id, path, content_hash, size, mtime, width, height, taken_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [(folder.id, f"/photos/IMG_{i:06d}.jpg", f"{i:064x}", 3_000_000 + i, 1.7e9 + i, 4000, 3000,
                  f"20{10 + i % 15}-0{1 + i % 9}-1{i % 10}T12:00") for i in range(n)])
            for k in range(20):
                c.execute("INSERT INTO identities(name, class_word, token, kind) VALUES (?, 'dog', ?, 'pet')",
                          (f"dog{k}", f"tok{k}"))
            c.executemany("INSERT INTO captions(photo_id, text) VALUES (?, ?)",
                          [(i + 1, f"a photo of a dog number {i} on grass") for i in range(0, n, 3)])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--photos", type=int, default=10_000)
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data"
        build(data, args.photos)
        size = (data / "library.sqlite").stat().st_size
        opens, checks, backups = [], [], []
        for _ in range(args.repeats):
            for b in backup.list_backups(data):
                b.path.unlink()
            (data / "backups").mkdir(exist_ok=True)
            # a fresh backup, so the open below is not also the day's first backup
            with Library.open(data) as lib:
                t = time.perf_counter()
                lib.backup_now("manual")
                backups.append(time.perf_counter() - t)
                t = time.perf_counter()
                lib.conn.execute("PRAGMA quick_check").fetchall()
                checks.append(time.perf_counter() - t)
            t = time.perf_counter()
            Library.open(data).close()
            opens.append(time.perf_counter() - t)

    def fmt(xs: list[float]) -> str:
        return f"median {statistics.median(xs) * 1e3:.1f} ms (min {min(xs) * 1e3:.1f}, max {max(xs) * 1e3:.1f})"

    print(f"library: {args.photos} photos, {size / 1e6:.1f} MB; {args.repeats} repeats")
    print(f"open (includes quick_check): {fmt(opens)}")
    print(f"quick_check alone:           {fmt(checks)}")
    print(f"online backup:               {fmt(backups)}")
    print(f"quick_check / open: {statistics.median(checks) / statistics.median(opens):.2f}")


if __name__ == "__main__":
    main()
