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


def make_photos(folder: Path, n: int, rex_count: int = 8) -> list[str]:
    """Toy-world photos (256 px): the first ``rex_count`` show one dog, "Rex", in different poses and
    places; returns their captions (the toy world's ground truth, in the captioner's style)."""
    import numpy as np
    from PIL import Image

    from lipe_engine.toyworld import scene_from_seed
    from lipe_engine.toyworld.world import Individual, random_scene

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(7)
    rex = Individual.random(rng, kind="dog")
    captions = []
    for i in range(n):
        scene = random_scene(rng, individual=rex) if i < rex_count else scene_from_seed(1000 + i)
        img, _mask = scene.render()
        img.resize((256, 256), Image.Resampling.NEAREST).save(folder / f"toy_{i:03d}.jpg", quality=92)
        captions.append(scene.caption().replace(f"{rex.colour} {rex.pattern} dog", "sks dog"))
    return captions


def pump(app, seconds: float) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        app.processEvents()
        time.sleep(0.02)


def pick_model(arg: str | None, tmp: Path) -> str:
    """The given model, else what the app uses without settings (the shipped toy model), else a tiny
    random one (its edits are noise; the screenshots then only show the layout)."""
    if arg:
        return arg
    from lipe_desktop.settings import toy_model

    if toy_model():
        return toy_model()
    from lipe_engine.models.tiny import build_tiny_sdxl

    print("toy model not installed: using a tiny random model", file=sys.stderr)
    return str(build_tiny_sdxl(tmp / "tiny"))


def shoot(widget, path: Path) -> None:
    """Grab ``widget`` and save it as a 256-colour PNG (screenshots stay ~30-150 KB in the repository)."""
    from PIL import Image

    widget.grab().save(str(path))
    with Image.open(path) as im:
        rgb = im.convert("RGB")
    rgb.quantize(256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE).save(path, optimize=True)


def wait_for(app, done, seconds: float) -> bool:
    end = time.monotonic() + seconds
    while not done() and time.monotonic() < end:
        pump(app, 0.1)
    return bool(done())


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(ROOT / "docs" / "screenshots"))
    ap.add_argument("--model", default=None)
    ap.add_argument("--steps", type=int, default=12)
    ap.add_argument("--train-seconds", type=float, default=300, help="how long to let training run")
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    from PySide6.QtWidgets import QApplication

    from lipe_desktop.context import AppContext
    from lipe_desktop.main_window import MainWindow
    from lipe_desktop.settings_dialog import SettingsDialog
    from lipe_desktop.training import jobs
    from lipe_engine.library import Library

    app = QApplication.instance() or QApplication([])
    with tempfile.TemporaryDirectory() as td:
        tmp = Path(td)
        captions = make_photos(tmp / "Pictures" / "toy-world", 48)
        with Library.open(tmp / "data") as lib:
            lib.scan([lib.add_folder(tmp / "Pictures" / "toy-world").id])
            photos = lib.list_photos(order="path")
            rex = lib.create_identity("Rex", "dog")
            lib.add_identity_photos(rex, photos[:5], role="reference")
            lib.add_identity_photos(rex, photos[5:8], role="target")
            for p, text in zip(photos[:8], captions, strict=False):
                lib.set_caption(p, text, identity=rex.id, by_user=True)
        ctx = AppContext.open(tmp / "data")
        model = pick_model(args.model, tmp)
        from lipe_desktop.settings import toy_model

        # the shipped toy model is what an empty setting means: leave it empty, as a user would
        ctx.settings.sdxl_model = "" if model == toy_model() else model
        ctx.settings.device = "cpu"
        win = MainWindow(ctx)
        win.resize(1280, 800)
        win.show()
        pump(app, 0.5)
        win.album.loader.wait_idle(20_000)
        pump(app, 1.0)
        win.album.sidebar.select_source(("folder", ctx.library.list_folders()[0].id))
        pump(app, 0.3)
        win.album.grid.setCurrentIndex(win.album.model.index(5))
        shoot(win, out / "album.png")
        win.album.open_viewer(win.album.model.photo(5))
        pump(app, 1.5)
        shoot(win, out / "viewer.png")
        win.album.viewer.closed.emit()
        if win.identities is not None:
            win.tabs.setCurrentWidget(win.identities)
            pump(app, 0.3)
            win.identities.loader.wait_idle(20_000)
            win.identities.grid.setCurrentIndex(win.identities.model.index(0))
            pump(app, 1.0)
            shoot(win, out / "identities.png")
        if win.training is not None:
            panel = win.training
            wait_for(app, lambda: panel.preset.count() > 1, 60)
            # a few real training steps so the progress, loss, ETA and sample strip show
            tiny = {"max_steps": 40, "resolution": 64, "rank": 4, "checkpoint_every": 2}
            job = panel.add_identity(
                rex.id,
                overrides={**tiny, "sample_every": 2, "sample_steps": 8, "sample_seeds": [0, 1]},
                class_images=0,
            )
            panel.add_identity(rex.id, preset="24gb")  # queued behind it
            panel.preset.setCurrentIndex(panel.preset.findData("12gb"))  # its one-line explanation shows
            panel.start()
            win.tabs.setCurrentWidget(panel)
            wait_for(app, lambda: len(jobs.samples_of(job)) >= 6, args.train_seconds)  # three sample rounds
            pump(app, 2.5)  # the panel polls every 2 s
            shoot(win, out / "training.png")
            panel.runner.stop()
            wait_for(app, lambda: not panel.runner.busy, 120)
        win.tabs.setCurrentIndex(0)
        dlg = SettingsDialog(ctx.settings, win)
        dlg.edits["llava_gguf"].setText(str(Path.home() / "models" / "llava-v1.6-mistral-7b.Q4_K_M.gguf"))
        dlg.show()  # the LLaVA path does not exist here: the dialog says so, and what else it needs
        pump(app, 0.5)
        shoot(dlg, out / "settings.png")
        dlg.close()
        target = next(p for p in win.album.model.photos() if p.path.name == "toy_005.jpg")  # Rex, a target
        ed = win.open_editor([target])
        ed.resize(1280, 760)
        # the source prompt is the photo's caption; the target changes only the pose in it
        pose = next(w for w in ("standing", "sitting", "lying") if w in ed.source_prompt.text())
        ed.prompt.setText(
            ed.source_prompt.text().replace(pose, "sitting" if pose != "sitting" else "standing")
        )
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
        shoot(ed, out / "edit.png")
        ed.canvas.tabs.setCurrentIndex(1)
        ed.canvas.set_mask_mode(3, step=ed.canvas.step.maximum() // 2)  # the target mask mid-edit
        pump(app, 0.3)
        ed.canvas.side_view.left.zoom_by(1.6)  # the right view follows (synced zoom)
        pump(app, 0.5)
        shoot(ed, out / "edit-side-by-side.png")
        del worker
        ed.close()
        win.close()
        ctx.close()
    for p in sorted(out.glob("*.png")):
        print(p)
    return 0


if __name__ == "__main__":
    sys.exit(main())
