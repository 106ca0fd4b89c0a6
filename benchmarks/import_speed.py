"""Import speed: draft-decoding thumbnailer vs a naive full decode, and listing 10,000 photos.

    python benchmarks/import_speed.py [--photos 12] [--size 4000x3000] [--rounds 3] [--real DIR] [--json OUT]

Thumbnails: the same JPEG files go through ``render_thumbnail`` (JPEG draft mode: DCT-scaled decode)
and ``render_thumbnail_full_decode`` (decode every pixel, then resize), interleaved file by file so
both see the same machine load; each file's time is the median over ``--rounds``. Target: >= 4x.

Listing: a library holding 10,000 photo records (inserted directly; scanning is not what is timed)
is listed through the public API: ``list_photos()`` (all records), one 200-photo page, and
``count_photos()``; median of 5 runs.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]

from lipe_engine.library import Library  # noqa: E402
from lipe_engine.library.thumbs import render_thumbnail, render_thumbnail_full_decode  # noqa: E402


def make_photos(folder: Path, n: int, size: tuple[int, int]) -> list[Path]:
    """Camera-like JPEGs: smooth gradients with fine noise (not flat colour, which decodes too fast)."""
    w, h = size
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    paths = []
    for i in range(n):
        base = np.stack(
            [
                128 + 100 * np.sin(xx / (97 + 7 * i)),
                128 + 100 * np.cos(yy / (131 + 5 * i)),
                128 + 80 * np.sin((xx + yy) / (211 + 3 * i)),
            ],
            axis=-1,
        )
        noise = rng.normal(0, 6, (h, w, 3)).astype(np.float32)
        img = Image.fromarray(np.clip(base + noise, 0, 255).astype(np.uint8))
        p = folder / f"photo_{i:03d}.jpg"
        img.save(p, "JPEG", quality=90)
        paths.append(p)
    return paths


def time_thumbnails(paths: list[Path], rounds: int) -> dict:
    draft: list[float] = []
    full: list[float] = []
    for p in paths:
        td: list[float] = []
        tf: list[float] = []
        for _ in range(rounds):
            for fn, acc in ((render_thumbnail, td), (render_thumbnail_full_decode, tf)):
                t0 = time.perf_counter()
                with Image.open(p) as img:
                    fn(img)
                acc.append(time.perf_counter() - t0)
        draft.append(statistics.median(td))
        full.append(statistics.median(tf))
    with Image.open(paths[0]) as im:
        size = im.size
    return {
        "files": len(paths),
        "size": f"{size[0]}x{size[1]}",
        "draft_per_s": len(paths) / sum(draft),
        "full_decode_per_s": len(paths) / sum(full),
        "speedup": sum(full) / sum(draft),
    }


def time_listing(n: int = 10_000) -> dict:
    with tempfile.TemporaryDirectory() as d:
        photos_dir = Path(d) / "photos"
        photos_dir.mkdir()
        with Library.open(Path(d) / "data") as lib:
            folder = lib.add_folder(photos_dir)
            with lib.transaction() as c:
                c.executemany(
                    "INSERT INTO photos(folder_id, path, content_hash, size, mtime, width, height, taken_at, "
                    "orientation, format) VALUES (?, ?, ?, ?, ?, 4000, 3000, ?, 1, 'JPEG')",
                    [
                        (folder.id, str(photos_dir / f"IMG_{i:05d}.jpg"), f"{i:064x}", 5_000_000 + i, 1.7e9 + i,
                         f"20{10 + i % 15}-0{1 + i % 9}-1{i % 10}T12:00:00")
                        for i in range(n)
                    ],
                )  # fmt: skip

            def med(fn) -> float:
                ts = []
                for _ in range(5):
                    t0 = time.perf_counter()
                    fn()
                    ts.append(time.perf_counter() - t0)
                return statistics.median(ts)

            assert len(lib.list_photos()) == n
            return {
                "photos": n,
                "list_all_s": med(lib.list_photos),
                "list_page_200_s": med(lambda: lib.list_photos(limit=200, offset=5000)),
                "count_s": med(lib.count_photos),
            }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--photos", type=int, default=12)
    ap.add_argument("--size", default="4000x3000")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--real", type=Path, default=ROOT.parent / "shared" / "data" / "dreambooth")
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args(argv)
    w, h = (int(v) for v in args.size.lower().split("x"))
    results: dict = {}
    with tempfile.TemporaryDirectory() as d:
        paths = make_photos(Path(d), args.photos, (w, h))
        results["generated"] = time_thumbnails(paths, args.rounds)
    real = sorted(args.real.glob("*/*.jpg")) if args.real.is_dir() else []
    if real:

        def pixels(p: Path) -> int:
            with Image.open(p) as im:
                return im.size[0] * im.size[1]

        largest = sorted(real, key=pixels, reverse=True)[: args.photos]  # camera-sized photos
        results["real"] = time_thumbnails(largest, args.rounds)
    results["listing"] = time_listing()
    for name in ("generated", "real"):
        if name in results:
            r = results[name]
            print(
                f"thumbnails ({name}, {r['files']} JPEGs {r['size']}): draft {r['draft_per_s']:.1f}/s, "
                f"full decode {r['full_decode_per_s']:.1f}/s, speedup {r['speedup']:.1f}x (target >= 4x)"
            )
    li = results["listing"]
    print(
        f"listing {li['photos']} photos: all {li['list_all_s'] * 1000:.0f} ms, 200-photo page "
        f"{li['list_page_200_s'] * 1000:.1f} ms, count {li['count_s'] * 1000:.1f} ms"
    )
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0 if results["generated"]["speedup"] >= 4 else 1


if __name__ == "__main__":
    sys.exit(main())
