"""Status-bar widget: the running background jobs' progress, ETA and a Cancel button."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Slot
from PySide6.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QPushButton, QWidget

from lipe_engine.progress import ProgressEvent

from .workers import Worker, WorkerPool


def describe(event: ProgressEvent | None) -> str:
    if event is None:
        return "starting…"
    text = event.stage or "working"
    if event.total:
        text += f" {event.step}/{event.total}"
    loss = event.info.get("loss") if event.info else None
    if isinstance(loss, (int, float)):
        text += f", loss {loss:.4f}"
    if event.eta_s is not None and event.step < event.total:
        m, s = divmod(int(event.eta_s), 60)
        text += f", {m}:{s:02d} left"
    return text


class JobStatus(QWidget):
    def __init__(self, pool: WorkerPool, parent: Any = None) -> None:
        super().__init__(parent)
        self.pool = pool
        self.label = QLabel("", self)
        self.bar = QProgressBar(self)
        self.bar.setFixedWidth(180)
        self.bar.setTextVisible(True)
        self.cancel_btn = QPushButton("Cancel", self)
        self.cancel_btn.clicked.connect(self.cancel_current)
        lay = QHBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.label)
        lay.addWidget(self.bar)
        lay.addWidget(self.cancel_btn)
        pool.started.connect(self._on_started)
        pool.finished.connect(self._on_finished)
        self._current: Worker | None = None
        self._refresh()

    @Slot(object)
    def _on_started(self, worker: Worker) -> None:
        worker.progress.connect(self._on_progress)
        self._current = worker
        self._refresh()

    @Slot(object)
    def _on_finished(self, worker: Worker) -> None:
        if worker is self._current:
            running = self.pool.running
            self._current = running[-1] if running else None
        self._refresh()

    @Slot(object)
    def _on_progress(self, _event: ProgressEvent) -> None:
        self._refresh()

    def cancel_current(self) -> None:
        if self._current is not None:
            self._current.cancel()
            self.label.setText(f"{self._current.title}: cancelling…")

    def _refresh(self) -> None:
        w = self._current
        self.setVisible(w is not None)
        if w is None:
            return
        ev = w.last_event
        n = len(self.pool.running)
        more = f" (+{n - 1} more)" if n > 1 else ""
        self.label.setText(f"{w.title}: {describe(ev)}{more}")
        if ev is None or not ev.total:
            self.bar.setRange(0, 0)
        else:
            self.bar.setRange(0, ev.total)
            self.bar.setValue(min(ev.step, ev.total))
