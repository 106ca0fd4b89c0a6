"""LIPE Desktop with a 10,000-photo library: time to open, frame times while scrolling, thumbnail latency.

    python benchmarks/gui_library.py [--photos 10000] [--distinct 200] [--json OUT]

The library holds ``--photos`` records whose files are hard links to ``--distinct`` generated camera-like
JPEGs (1600x1200), so every record is a real, readable file but the disk holds only the distinct ones;
records are inserted directly (the scan is the library benchmark's subject, not this one's). Each
record has its own content hash, so every thumbnail the grid shows is rendered from its original by the
app's loader threads, as on a first visit of a fresh library.

Timed, offscreen (QT_QPA_PLATFORM=offscreen), on the main window at 1280x820:
- open: ``AppContext.open`` + ``MainWindow`` + show + first paint, with the 10,000 rows in the grid;
- scroll (once startup work on threads is done): the grid scrolled top to bottom in wheel-sized steps
  (3 rows); per step, the scroll, the synchronous repaint of the viewport and the queued events
  (thumbnails arriving, painted as they come): median/p95/max;
- thumbnails: after jumping to 10 random places, the time until every visible tile shows its image.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


def make_originals(folder: Path, n: int) -> list[Path]:
    import numpy as np
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:1200, 0:1600].astype(np.float32)
    out = []
    for i in range(n):
        base = np.stack(
            [(xx * (1 + i % 5) + yy) % 256, (yy * 2 + i * 7) % 256, (xx + yy * (i % 3)) % 256], -1
        )
        noise = rng.integers(0, 24, base.shape, dtype=np.uint8)
        p = folder / f"orig_{i:04d}.jpg"
        Image.fromarray(base.astype(np.uint8) + noise).save(p, quality=88)
        out.append(p)
    return out


def build_library(root: Path, n: int, distinct: int) -> Path:
    from lipe_engine.testing.libraries import (
        make_big_library,  # the same bulk insert the 10k-photo GUI test uses
    )

    return make_big_library(root, n, originals=make_originals(root / "originals", distinct))


def visible_rows(grid) -> list[int]:
    from PySide6.QtCore import QPoint

    vp, model = grid.viewport().rect(), grid.model()
    first = grid.indexAt(QPoint(8, 8))
    rows = []
    for r in range(first.row() if first.isValid() else 0, model.rowCount()):
        rect = grid.visualRect(model.index(r))
        if rect.top() > vp.bottom():
            break
        if rect.intersects(vp):
            rows.append(r)
    return rows


def measure(data: Path, jumps: int = 10) -> dict:
    from PySide6.QtWidgets import QApplication

    from lipe_desktop.album.grid import ImageRole
    from lipe_desktop.context import AppContext
    from lipe_desktop.main_window import MainWindow

    app = QApplication.instance() or QApplication([])
    t0 = time.perf_counter()
    ctx = AppContext.open(data)
    win = MainWindow(ctx)
    win.resize(1280, 820)
    win.show()
    grid = win.album.grid
    grid.viewport().repaint()
    app.processEvents()
    open_s = time.perf_counter() - t0
    rows = grid.model().rowCount()
    # let startup work finish first (the training presets import torch on a thread, ~3 s of CPU)
    settle = time.perf_counter() + 60
    while win.training is not None and win.training.preset.count() == 1 and time.perf_counter() < settle:
        app.processEvents()
        time.sleep(0.01)

    bar = grid.verticalScrollBar()
    step = 3 * grid.itemDelegate().sizeHint(None, grid.model().index(0)).height()  # type: ignore[arg-type]
    frames = []
    pos = 0
    while pos < bar.maximum():
        pos = min(bar.maximum(), pos + step)
        t = time.perf_counter()
        bar.setValue(pos)
        grid.viewport().repaint()
        app.processEvents()
        frames.append((time.perf_counter() - t) * 1000)
    frames.sort()

    rng = random.Random(0)
    waits = []
    model = grid.model()
    for _ in range(jumps):
        bar.setValue(rng.randrange(bar.maximum()))
        t = time.perf_counter()
        deadline = t + 30
        while time.perf_counter() < deadline:
            grid.viewport().repaint()
            app.processEvents()
            vis = visible_rows(grid)
            if vis and all(model.data(model.index(r), ImageRole) is not None for r in vis):
                break
            time.sleep(0.005)
        waits.append((time.perf_counter() - t) * 1000)
    result = {
        "photos": rows,
        "open_s": round(open_s, 3),
        "scroll_steps": len(frames),
        "frame_ms_median": round(statistics.median(frames), 2),
        "frame_ms_p95": round(frames[int(0.95 * (len(frames) - 1))], 2),
        "frame_ms_max": round(frames[-1], 2),
        "visible_tiles": len(visible_rows(grid)),
        "thumbs_visible_ms_median": round(statistics.median(waits), 1),
        "thumbs_visible_ms_max": round(max(waits), 1),
        "thumbnails_decoded": win.album.loader.decoded,
        "max_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }
    win.close()
    ctx.close()
    return result


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--photos", type=int, default=10_000)
    ap.add_argument("--distinct", type=int, default=200)
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as d:
        t = time.perf_counter()
        data = build_library(Path(d), args.photos, min(args.distinct, args.photos))
        print(f"library of {args.photos} photos built in {time.perf_counter() - t:.1f} s", file=sys.stderr)
        result = measure(data)
    print(json.dumps(result, indent=2))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
