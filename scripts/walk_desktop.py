"""Walk the desktop as a new user on a CPU would, in a real window, saving a screenshot of the whole
screen at each step (``import -window root``, so dialogs and menus are in the picture).

    Xvfb :99 -screen 0 1280x1000x24 &
    DISPLAY=:99 QT_QPA_PLATFORM=xcb python scripts/walk_desktop.py --out /tmp/walk

Fresh data folder, shipped toy model: the start banner and the empty album's hint, "Try it on toy
photos", the training preset for this machine, training started, the window closed with "keep
training in the background", a new window that finds the training still running, a toy edit of the
subject saved as a new version, the question before editing a real photo with the toy model, and a
folder whose files were skipped. Prints what it saw; any error message shown is printed too.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="/tmp/lipe-walk")
    ap.add_argument("--train-seconds", type=float, default=900)
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    from PySide6.QtCore import Qt, QTimer
    from PySide6.QtTest import QTest
    from PySide6.QtWidgets import QApplication, QMessageBox

    from lipe_desktop.context import AppContext
    from lipe_desktop.main_window import MainWindow

    app = QApplication.instance() or QApplication(["lipe-desktop"])
    errors: list[str] = []

    def pump(seconds: float) -> None:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            app.processEvents()
            time.sleep(0.02)

    def wait_for(done, seconds: float) -> bool:  # noqa: ANN001
        end = time.monotonic() + seconds
        while not done() and time.monotonic() < end:
            pump(0.2)
        return bool(done())

    def shot(name: str) -> None:
        pump(0.4)
        subprocess.run(["import", "-window", "root", str(out / f"{name}.png")], check=False)
        print(f"shot {name}.png", flush=True)

    def click(button) -> None:  # noqa: ANN001
        QTest.mouseClick(button, Qt.MouseButton.LeftButton)
        pump(0.2)

    def answer_next(shot_name: str, button_text: str | None = None) -> None:
        """Screenshot the next dialog, then press ``button_text`` (else Escape)."""
        def act() -> None:
            w = app.activeModalWidget()
            if w is None:
                QTimer.singleShot(100, act)
                return
            text = w.text() if isinstance(w, QMessageBox) else ""
            print(f"dialog '{w.windowTitle()}': {text[:160]}", flush=True)
            subprocess.run(["import", "-window", "root", str(out / f"{shot_name}.png")], check=False)
            print(f"shot {shot_name}.png", flush=True)
            if isinstance(w, QMessageBox) and button_text:
                b = next((b for b in w.buttons() if b.text().replace("&", "") == button_text), None)
                if b is not None:
                    b.click()
                    return
            w.reject()
        QTimer.singleShot(300, act)

    tmp = Path(tempfile.mkdtemp(prefix="lipe-walk-"))
    data = tmp / "data"
    os.environ["LIPE_NO_FIRST_RUN"] = "1"
    ctx = AppContext.open(data)
    win = MainWindow(ctx)
    orig_warning = QMessageBox.warning

    def warn(parent, title, text, *a, **k):  # noqa: ANN001, ANN002, ANN003
        errors.append(text)
        print(f"WARNING SHOWN: {title}: {text}", flush=True)
        return QMessageBox.StandardButton.Ok

    QMessageBox.warning = staticmethod(warn)  # type: ignore[method-assign]
    win.show()
    wait_for(lambda: win.gpu_gb is not None, 60)
    shot("01-first-start")
    print("banner:", win.banner.label.text(), flush=True)
    click(win.album.try_toy_btn)
    wait_for(lambda: ctx.library.count_photos() >= 24 and not ctx.pool.running, 120)
    win.album.loader.wait_idle(20_000)
    shot("02-toy-album")
    panel = win.training
    ident = ctx.library.list_identities()[0]
    win.tabs.setCurrentWidget(win.identities)
    win.identities.select(ident.id)
    pump(1.0)
    shot("03-identity")
    click(win.identities.train_btn)  # lands on the queue with the machine's preset
    wait_for(lambda: panel.preset.count() > 2, 60)
    shot("04-training-preset")
    print("estimate:", panel.estimate.text(), flush=True)
    job = ctx.library.list_jobs(kind="train")[0]
    print("queued:", job.config.get("preset"), job.config.get("class_images"), flush=True)
    t0 = time.monotonic()
    click(panel.buttons["start"])
    wait_for(lambda: "train " in (ctx.library.get_job(job.id).message or ""), 300)
    pump(3)
    shot("05-training-progress")
    print("status:", panel.status.text(), flush=True)
    # close while training: the question, "keep training in the background"
    answer_next("06-close-question", "Keep training in the background")
    win.close()
    pump(0.5)
    print("runner still alive:", panel.runner.busy, flush=True)
    win2 = MainWindow(ctx)
    win2.show()
    win2.tabs.setCurrentWidget(win2.training)
    pump(2.5)
    shot("07-reopened")
    print("notice:", win2.training.notice.text(), flush=True)
    ok = wait_for(lambda: ctx.library.get_job(job.id).finished, args.train_seconds)
    print(f"training: {ctx.library.get_job(job.id).state} {ctx.library.get_job(job.id).message} in "
          f"{time.monotonic() - t0:.0f} s", flush=True)
    pump(2)
    shot("08-trained")
    if not ok:
        return 1
    # edit one of Rex's target photos with its prior; save the result as a new version
    win2.tabs.setCurrentWidget(win2.album)
    targets = ctx.library.identity_photos(ident.id, role="target")
    ed = win2.open_editor([targets[0].photo])
    pump(1.0)
    chips = [ed.chips.itemAt(i).widget() for i in range(ed.chips.count())]
    if chips:
        click(chips[0])
    shot("09-edit-window")
    click(ed.run_btn)
    wait_for(lambda: ed.worker is None and ed.result is not None, 600)
    shot("10-edit-result")
    click(ed.save_btn)
    pump(0.5)
    print("saved:", ed.status.text(), flush=True)
    shot("11-saved")
    ed.close()
    # a real photo with the toy model: asked first
    real = tmp / "Pictures"
    real.mkdir()
    from lipe_engine.testing.libraries import make_photos

    make_photos(real, 3, size=(300, 200))
    (real / "broken.jpg").write_bytes(b"not a photo")
    win2.add_folder(str(real))
    wait_for(lambda: not ctx.pool.running, 60)
    pump(1)
    folder = max(ctx.library.list_folders(), key=lambda f: f.id)
    win2.album.sidebar.select_source(("folder", folder.id))
    pump(1)
    shot("12-skipped-file")
    photo = next(p for p in ctx.library.list_photos() if p.folder_id == folder.id)
    ed2 = win2.open_editor([photo])
    pump(1)
    answer_next("13-toy-on-real-photo")
    click(ed2.run_btn)
    pump(1)
    ed2.close()
    answer_next("14-about")
    win2.about()
    answer_next("15-settings")
    QTest.keyClick(win2, Qt.Key.Key_Comma, Qt.KeyboardModifier.ControlModifier)
    pump(0.5)
    win2.close()
    QMessageBox.warning = orig_warning  # type: ignore[method-assign]
    ctx.close()
    print("errors shown:", errors or "none", flush=True)
    print("data:", tmp, flush=True)
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    sys.exit(main())
