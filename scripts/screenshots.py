"""Save screenshots of LIPE Desktop's main views under docs/screenshots/ (offscreen, no display needed).

    python scripts/screenshots.py [--out docs/screenshots] [--model SDXL_FOLDER] [--steps 12]

Builds a throwaway library of toy-world photos, an identity, a queued training job, and runs one
small edit with the shipped toy model (or the given model; a tiny random model as a last resort).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def make_photos(folder: Path, n: int) -> None:
    from PIL import Image

    from lipe_engine.toyworld import scene_from_seed

    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        img, _mask = scene_from_seed(1000 + i).render()
        img.resize((256, 256), Image.Resampling.NEAREST).save(folder / f"toy_{i:03d}.jpg", quality=92)


def pump(app, seconds: float) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        app.processEvents()
        time.sleep(0.02)


def pick_model(arg: str | None, tmp: Path) -> str:
    if arg:
        return arg
    from lipe_engine.toyworld import TOY_MODEL_DIR

    if (TOY_MODEL_DIR / "model_index.json").is_file():
        return str(TOY_MODEL_DIR)
    from lipe_engine.models.tiny import build_tiny_sdxl

    return str(build_tiny_sdxl(tmp / "tiny"))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(ROOT / "docs" / "screenshots"))
    ap.add_argument("--model", default=None)
    ap.add_argument("--steps", type=int, default=12)
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    from PySide6.QtWidgets import QApplication

    from lipe_desktop.context import AppContext
    from lipe_desktop.main_window import MainWindow
    from lipe_desktop.settings_dialog import SettingsDialog
    from lipe_engine.library import Library

    app = QApplication.instance() or QApplication([])
    with tempfile.TemporaryDirectory() as td:
        tmp = Path(td)
        make_photos(tmp / "Pictures" / "toy-world", 48)
        with Library.open(tmp / "data") as lib:
            lib.scan([lib.add_folder(tmp / "Pictures" / "toy-world").id])
            photos = lib.list_photos(order="path")
            rex = lib.create_identity("Rex", "dog")
            lib.add_identity_photos(rex, photos[:4], role="reference")
            lib.add_identity_photos(rex, photos[4:6], role="target")
            lib.set_caption(photos[0], "a photo of a sks dog sitting in a park", identity=rex.id, by_user=True)
        ctx = AppContext.open(tmp / "data")
        ctx.settings.sdxl_model = pick_model(args.model, tmp)
        ctx.settings.device = "cpu"
        win = MainWindow(ctx)
        win.resize(1280, 800)
        win.show()
        pump(app, 0.5)
        win.album.loader.wait_idle(20_000)
        pump(app, 1.0)
        win.album.grid.setCurrentIndex(win.album.model.index(5))
        win.grab().save(str(out / "album.png"))
        win.album.open_viewer(win.album.model.photo(5))
        pump(app, 1.5)
        win.grab().save(str(out / "viewer.png"))
        win.album.viewer.closed.emit()
        if win.identities is not None:
            win.tabs.setCurrentWidget(win.identities)
            pump(app, 0.3)
            win.identities.loader.wait_idle(20_000)
            win.identities.grid.setCurrentIndex(win.identities.model.index(0))
            pump(app, 1.0)
            win.grab().save(str(out / "identities.png"))
        if win.training is not None:
            win.training.add_identity(rex.id)
            win.tabs.setCurrentWidget(win.training)
            pump(app, 0.5)
            win.grab().save(str(out / "training.png"))
        win.tabs.setCurrentIndex(0)
        dlg = SettingsDialog(ctx.settings, win)
        dlg.show()
        pump(app, 0.5)
        dlg.grab().save(str(out / "settings.png"))
        dlg.close()
        ed = win.open_editor([win.album.model.photo(4)])
        ed.resize(1280, 760)
        ed.use_suggestion("standing")
        ed.advanced.setChecked(True)
        ed.advanced.steps.setValue(args.steps)
        ed.advanced.skip.setValue(2)
        worker = ed.start_edit()
        deadline = time.monotonic() + 600
        while ed.worker is not None and time.monotonic() < deadline:
            pump(app, 0.1)
        if ed.result is None:
            print(f"edit did not finish: {ed.status.text()}", file=sys.stderr)
        ed.canvas.set_mask_mode(2)
        ed.canvas.slider_view.set_split(0.5)
        pump(app, 0.5)
        ed.grab().save(str(out / "edit.png"))
        ed.canvas.tabs.setCurrentIndex(1)
        ed.canvas.set_mask_mode(0)
        pump(app, 0.5)
        ed.grab().save(str(out / "edit-side-by-side.png"))
        del worker
        ed.close()
        win.close()
        ctx.close()
    for p in sorted(out.glob("*.png")):
        print(p)
    return 0


if __name__ == "__main__":
    sys.exit(main())
