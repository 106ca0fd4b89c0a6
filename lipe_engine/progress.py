"""Progress reporting and cancellation shared by every long-running piece of the engine.

Engine code takes a ``ProgressReporter`` and calls ``step()`` once per unit of work; the reporter
checks the cancel flag (raising :class:`Cancelled`) and forwards (stage, step, total, eta) to the
caller's callback. The GUI turns that callback into Qt signals; the CLI prints a line.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from .errors import Cancelled


@dataclass(frozen=True)
class ProgressEvent:
    stage: str
    step: int
    total: int
    eta_s: float | None
    info: dict = field(default_factory=dict)

    @property
    def fraction(self) -> float:
        return self.step / self.total if self.total else 0.0


ProgressCallback = Callable[[ProgressEvent], None]


class CancelToken:
    """Thread-safe cancel flag; the GUI sets it, the worker checks it every step."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def raise_if_cancelled(self) -> None:
        if self._event.is_set():
            raise Cancelled()


class ProgressReporter:
    """Counts steps of one stage, estimates the remaining time, checks cancellation."""

    def __init__(
        self,
        callback: ProgressCallback | None = None,
        cancel: CancelToken | None = None,
    ) -> None:
        self.callback = callback
        self.cancel = cancel or CancelToken()
        self._stage = ""
        self._total = 0
        self._step = 0
        self._t0 = time.perf_counter()

    def start(self, stage: str, total: int) -> None:
        self.cancel.raise_if_cancelled()
        self._stage, self._total, self._step = stage, total, 0
        self._t0 = time.perf_counter()
        self._emit({})

    def step(self, n: int = 1, **info: object) -> None:
        """Advance; raises :class:`Cancelled` if the user asked to stop."""
        self._step += n
        self._emit(dict(info))
        self.cancel.raise_if_cancelled()

    def check(self) -> None:
        self.cancel.raise_if_cancelled()

    def _emit(self, info: dict) -> None:
        if self.callback is None:
            return
        elapsed = time.perf_counter() - self._t0
        eta = None
        if self._step > 0 and self._total:
            eta = elapsed / self._step * (self._total - self._step)
        self.callback(ProgressEvent(self._stage, self._step, self._total, eta, info))


def as_reporter(
    progress: ProgressReporter | ProgressCallback | None, cancel: CancelToken | None = None
) -> ProgressReporter:
    """Accept a reporter, a bare callback, or nothing."""
    if isinstance(progress, ProgressReporter):
        return progress
    return ProgressReporter(progress, cancel)


class PrefixedStages:
    """A progress callback that forwards ``reporter``'s events with ``prefix`` before each stage
    ("photo 2/5: inversion"): a job of several photos says which one its inner steps belong to."""

    def __init__(self, reporter: ProgressReporter) -> None:
        self.reporter, self.prefix = reporter, ""

    def __call__(self, ev: ProgressEvent) -> None:
        if self.reporter.callback is not None:
            self.reporter.callback(replace(ev, stage=f"{self.prefix}{ev.stage}"))
