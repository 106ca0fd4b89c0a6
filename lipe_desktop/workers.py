"""Run engine work off the GUI thread: a ``Worker`` on a ``QThread`` turns the engine's progress
callback into Qt signals and its ``CancelToken`` into a Cancel button.

The engine callable gets ``progress=`` (a callback taking ``ProgressEvent``) and ``cancel=`` (a
``CancelToken``) keyword arguments; it raises ``Cancelled`` when stopped, ``LipeError`` for bad input.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QThread, Signal, Slot

from lipe_engine.errors import Cancelled
from lipe_engine.progress import CancelToken, ProgressEvent

from .logs import log_exception, user_message

log = logging.getLogger(__name__)


class _Runner(QObject):
    """Lives on the worker thread; its signals reach the ``Worker`` (GUI thread) queued."""

    progress = Signal(object)
    succeeded = Signal(object)
    failed = Signal(str)
    cancelled = Signal()
    done = Signal()

    def __init__(self, title: str, call: Callable[..., Any], token: CancelToken) -> None:
        super().__init__()
        self.title, self._call, self.token = title, call, token

    @Slot()
    def run(self) -> None:
        try:
            result = self._call(progress=self.progress.emit, cancel=self.token)
        except Cancelled:
            log.info("%s cancelled", self.title)
            self.cancelled.emit()
        except BaseException as exc:  # noqa: BLE001 - every failure becomes a readable message
            log_exception(exc, self.title)
            self.failed.emit(user_message(exc))
        else:
            self.succeeded.emit(result)
        finally:
            self.done.emit()


class Worker(QObject):
    """One piece of work. It stays on the GUI thread, so its signals may drive any slot or lambda."""

    progress = Signal(object)  # ProgressEvent
    succeeded = Signal(object)  # the callable's return value
    failed = Signal(str)  # a readable one-line message
    cancelled = Signal()
    done = Signal()  # always, after one of the three above

    def __init__(self, title: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        super().__init__()
        self.title = title
        self.token = CancelToken()
        self.last_event: ProgressEvent | None = None
        self.state = "queued"  # queued | running | done | failed | cancelled
        self.runner = _Runner(title, lambda **kw: fn(*args, **kwargs, **kw), self.token)
        self.runner.progress.connect(self._on_progress)
        self.runner.succeeded.connect(self._on_succeeded)
        self.runner.failed.connect(self._on_failed)
        self.runner.cancelled.connect(self._on_cancelled)
        self.runner.done.connect(self._on_done)

    def cancel(self) -> None:
        self.token.cancel()

    @Slot(object)
    def _on_progress(self, event: ProgressEvent) -> None:
        self.last_event = event
        self.progress.emit(event)

    @Slot(object)
    def _on_succeeded(self, result: object) -> None:
        self.state = "done"
        self.succeeded.emit(result)

    @Slot(str)
    def _on_failed(self, message: str) -> None:
        self.state = "failed"
        self.failed.emit(message)

    @Slot()
    def _on_cancelled(self) -> None:
        self.state = "cancelled"
        self.cancelled.emit()

    @Slot()
    def _on_done(self) -> None:
        self.done.emit()


class WorkerPool(QObject):
    """Starts workers on their own threads and keeps them alive until they finish."""

    started = Signal(object)  # Worker
    finished = Signal(object)  # Worker

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._running: dict[Worker, QThread] = {}

    def start(self, worker: Worker) -> Worker:
        thread = QThread(self)
        thread.setObjectName(worker.title)
        worker.runner.moveToThread(thread)
        thread.started.connect(worker.runner.run)
        worker.state = "running"
        worker.done.connect(self._on_done)  # a bound slot of a GUI-thread object: queued delivery
        self._running[worker] = thread
        thread.start()
        self.started.emit(worker)
        return worker

    @Slot()
    def _on_done(self) -> None:
        worker = self.sender()
        if not isinstance(worker, Worker):
            return
        thread = self._running.pop(worker, None)
        if thread is not None:
            thread.quit()
            thread.wait()
            thread.deleteLater()
        self.finished.emit(worker)

    @property
    def running(self) -> list[Worker]:
        return list(self._running)

    def cancel_all(self) -> None:
        for w in self._running:
            w.cancel()

    def shutdown(self, timeout_ms: int = 10_000) -> None:
        """Cancel everything and wait for the threads (called when the window closes)."""
        self.cancel_all()
        for worker, thread in list(self._running.items()):
            thread.quit()
            if not thread.wait(timeout_ms):
                log.warning("%s did not stop in time", worker.title)
        self._running.clear()
