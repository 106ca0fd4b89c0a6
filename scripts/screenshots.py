"""Save screenshots of LIPE Desktop's main views under docs/screenshots/ (offscreen, no display needed).

    python scripts/screenshots.py [--out docs/screenshots] [--model SDXL_FOLDER] [--lora-steps 300]

Builds a throwaway library of toy-world photos and an identity ("Rex", a sprite dog), trains its
LoRA prior through the Training tab (a real run on the shipped toy model, as `lipe demo` does), then
opens "Edit pose…" on another photo of Rex: the source prompt is the photo's caption, two target
poses x two seeds come from one inversion, and the results that reach their target pose (checked
against the toy world's ground truth) are the ones shown and ticked. Prints what it measured.
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


def make_photos(folder: Path, n: int, rex_count: int = 8) -> tuple[list[str], list]:
    """Toy-world photos (256 px): the first ``rex_count`` show one dog, "Rex", in different poses and
    places; returns their captions (the toy world's ground truth in the captioner's style, naming Rex
    "sks dog") and their scenes."""
    import numpy as np
    from PIL import Image

    from lipe_engine.toyworld import POSES, scene_from_seed
    from lipe_engine.toyworld.identity import sks_caption
    from lipe_engine.toyworld.world import Individual, random_scene

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(7)
    rex = Individual.random(rng, kind="dog")
    poses = POSES["dog"]
    captions, scenes = [], []
    for i in range(n):
        if i < rex_count:  # every pose among the references (toy_000-004) and the targets
            scene = random_scene(rng, individual=rex, pose=poses[i % len(poses)])
        else:
            scene = scene_from_seed(1000 + i)
        img, _mask = scene.render()
        img.resize((256, 256), Image.Resampling.NEAREST).save(folder / f"toy_{i:03d}.jpg", quality=92)
        captions.append(sks_caption(scene) if i < rex_count else scene.caption())
        scenes.append(scene)
    return captions, scenes


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


def shoot(widget, path: Path, colours: int = 256) -> None:
    """Grab ``widget`` and save it as a PNG of ``colours`` colours (screenshots stay ~30-150 KB in the
    repository); 0 keeps full colour (the edit's photos, whose colours are the point)."""
    from PIL import Image

    widget.grab().save(str(path))
    with Image.open(path) as im:
        rgb = im.convert("RGB")
    if colours:
        rgb = rgb.quantize(colours, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
    rgb.save(path, optimize=True)


def wait_for(app, done, seconds: float) -> bool:
    end = time.monotonic() + seconds
    while not done() and time.monotonic() < end:
        pump(app, 0.1)
    return bool(done())


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(ROOT / "docs" / "screenshots"))
    ap.add_argument("--model", default=None)
    ap.add_argument("--lora-steps", type=int, default=300, help="LoRA prior steps (as `lipe demo`)")
    ap.add_argument("--seeds", type=int, default=2, help="results per target prompt")
    ap.add_argument("--train-seconds", type=float, default=1200, help="longest wait for the training")
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
        captions, scenes = make_photos(tmp / "Pictures" / "toy-world", 48)
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
        lora_seconds = None
        if win.training is not None:
            from lipe_engine.jobs.queue import cancel_job

            panel = win.training
            wait_for(app, lambda: panel.preset.count() > 1, 60)
            # the identity prior, trained for real through the queue: LoRA on the toy model, as `lipe demo`
            steps = args.lora_steps
            prior = {"max_steps": steps, "resolution": 64, "rank": 8, "lr_unet": 1e-3, "lr_text": 1e-3,
                     "checkpoint_every": max(50, steps // 3), "sample_every": max(10, steps // 6),
                     "sample_steps": 12, "sample_seeds": [0, 1]}
            job = panel.add_identity(rex.id, overrides=prior, class_images=0)
            later = panel.add_identity(rex.id, preset="24gb")  # queued behind it (cancelled below)
            panel.preset.setCurrentIndex(panel.preset.findData("12gb"))  # its one-line explanation shows
            t0 = time.monotonic()
            panel.start()
            win.tabs.setCurrentWidget(panel)
            wait_for(app, lambda: len(jobs.samples_of(ctx.library.get_job(job.id))) >= 6, args.train_seconds)
            pump(app, 2.5)  # the panel polls every 2 s
            shoot(win, out / "training.png")
            cancel_job(ctx.library, later.id)  # only the prior is needed
            wait_for(app, lambda: ctx.library.get_job(job.id).finished, args.train_seconds)
            lora_seconds = time.monotonic() - t0
            wait_for(app, lambda: not panel.runner.busy, 120)
            state = ctx.library.get_job(job.id)
            print(f"prior: {state.state} ({state.message}) in {lora_seconds:.0f} s", file=sys.stderr)
        win.tabs.setCurrentIndex(0)
        dlg = SettingsDialog(ctx.settings, win)
        dlg.edits["llava_gguf"].setText(str(Path.home() / "models" / "llava-v1.6-mistral-7b.Q4_K_M.gguf"))
        dlg.show()  # the LLaVA path does not exist here: the dialog says so, and what else it needs
        pump(app, 0.5)
        shoot(dlg, out / "settings.png")
        dlg.close()
        target = next(p for p in win.album.model.photos() if p.path.name == "toy_005.jpg")  # Rex, a target
        scene = scenes[5]
        ed = win.open_editor([target])
        ed.resize(1280, 860)
        # the source prompt is the photo's caption; each target changes only the pose in it
        from lipe_engine.toyworld import POSES

        targets = [p for p in POSES["dog"] if p != scene.pose]
        for pose in targets:
            ed.use_suggestion(scene.action(pose))
            ed.targets.queue_line()
        ed.advanced.count.setValue(args.seeds)
        worker = ed.start_edit()  # the toy model's own settings (30 steps, skip 3), as the app uses them
        deadline = time.monotonic() + 900
        while ed.worker is not None and time.monotonic() < deadline:
            pump(app, 0.1)
        res = ed.result
        if res is None:
            print(f"edit did not finish: {ed.status.text()}", file=sys.stderr)
            return 1
        from lipe_engine.toyworld.identity import EditCase
        from lipe_engine.toyworld.judge import judge_edits

        small = [img.resize((64, 64)) for img in res.images]
        wanted = [next(p for p in targets if scene.action(p) in prompt) for prompt in res.prompts]
        verdicts = judge_edits(small, [EditCase(scene, w) for w in wanted])
        reached = [i for i, v in enumerate(verdicts) if v.pose_reached]
        print(f"edit: {len(reached)}/{len(verdicts)} results reached their target pose ("
              + ", ".join(f"{w}: {v.describe()}" for w, v in zip(wanted, verdicts, strict=True)) + ")",
              file=sys.stderr)
        for i in reached:
            ed.grid.set_checked(i)
        # shown: of those that reached their pose, the one the judge finds most like Rex
        show = max(reached, key=lambda i: verdicts[i].identity) if reached else 0
        ed.grid.setCurrentRow(show)
        ed.canvas.set_mask_mode(0)
        ed.canvas.slider_view.set_split(0.12)  # mostly "after": the edited subject is left of centre
        pump(app, 0.5)
        shoot(ed, out / "edit.png", 0)
        ed.canvas.tabs.setCurrentIndex(1)  # side by side, the final edit region M_t over both
        ed.canvas.set_mask_mode(4)
        pump(app, 0.5)
        shoot(ed, out / "edit-masks.png", 0)
        ed.canvas.set_mask_mode(3, step=ed.canvas.step.maximum() // 3)  # M_t early in the edit, by step
        pump(app, 0.3)
        ed.canvas.side_view.left.zoom_by(1.3)  # the right view follows (synced zoom)
        pump(app, 0.5)
        shoot(ed, out / "edit-side-by-side.png", 0)
        print(f"model: {model}; prior: {args.lora_steps} LoRA steps"
              + (f" ({lora_seconds:.0f} s)" if lora_seconds else "") + f"; shown result {show}: "
              f"{res.prompts[show]!r} seed {res.seeds[show]}", file=sys.stderr)
        del worker
        ed.discard_ok = True  # the results were only for the pictures: close without the question
        ed.close()
        win.close()
        ctx.close()
    for p in sorted(out.glob("*.png")):
        print(p)
    return 0


if __name__ == "__main__":
    sys.exit(main())
