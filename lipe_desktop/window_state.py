"""The main window's closing and size (a mixin of ``MainWindow``): closing while training runs asks
whether to keep it going in the background, stop it after its checkpoint, or not close; unsaved
edit results are not thrown away without a question; the window opens at the size it was closed at.
"""

from __future__ import annotations

import logging
from typing import Any, cast

from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QMessageBox, QWidget

from .settings import window_size

log = logging.getLogger(__name__)


class WindowLifecycleMixin:
    """Needs the window's ``ctx``, ``edit_windows``, ``training`` and QMainWindow's own methods."""

    ctx: Any
    edit_windows: list[Any]
    training: Any
    width: Any
    height: Any
    isMaximized: Any
    isFullScreen: Any

    def _start_size(self) -> tuple[int, int]:
        """The size the window had when last closed (within this screen), else 1280 x 820."""
        w, h = window_size(self.ctx.settings.window_size) or (1280, 820)
        screen = QGuiApplication.primaryScreen()
        if screen is not None:
            avail = screen.availableGeometry()
            w, h = min(w, avail.width()), min(h, avail.height())
        return w, h

    def _remember_size(self) -> None:
        if self.isMaximized() or self.isFullScreen():
            return
        self.ctx.settings.window_size = f"{self.width()}x{self.height()}"
        try:
            self.ctx.settings.save(self.ctx.data_dir, self.ctx.library)  # model choices stay in the library
        except OSError as exc:
            log.warning("window size not saved: %s", exc)

    def ask_unsaved_edits(self, n: int) -> bool:
        """Closing with ``n`` unsaved edit results: discard them? (tests answer it themselves)."""
        return QMessageBox.question(
            cast(QWidget, self), "Quit LIPE Desktop",
            f"{n} edit result(s) are not saved. Quit and discard them? (Save as new version keeps them.)",
        ) == QMessageBox.StandardButton.Yes

    def ask_training_on_close(self, names: str) -> str:
        """Closing while training runs: "keep" (in the background), "stop" (after the current
        checkpoint) or "cancel" (do not close). Tests answer it themselves."""
        box = QMessageBox(QMessageBox.Icon.Question, "The queue is running",
                          f"{names} is running. It can go on without this window: the next "
                          "start shows its progress again.", parent=cast(QWidget, self))
        keep = box.addButton("Keep training in the background", QMessageBox.ButtonRole.AcceptRole)
        stop = box.addButton("Stop after the current checkpoint", QMessageBox.ButtonRole.DestructiveRole)
        box.addButton(QMessageBox.StandardButton.Cancel)
        box.setDefaultButton(keep)
        box.exec()
        return "keep" if box.clickedButton() is keep else "stop" if box.clickedButton() is stop else "cancel"

    def _may_close(self) -> bool:
        unsaved = [w for w in self.edit_windows if w.has_unsaved_results()]
        if unsaved:
            if not self.ask_unsaved_edits(sum(len(w.result.images) for w in unsaved)):
                return False
            for w in unsaved:
                w.discard_ok = True
        # asked also while the runner is starting up and has not taken a job yet
        if self.training is not None and self.training.runner.busy:
            running = self.training.runner.running_jobs()
            names = ", ".join(self.training.title_of(j) for j in running) or "The queue"
            answer = self.ask_training_on_close(names)
            if answer == "cancel":
                return False
            if answer == "stop":
                self.training.stop()  # the runner saves its step and exits by itself: nothing waits
            log.info("closing while training %s: %s", names, answer)
        return True
