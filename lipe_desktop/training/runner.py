"""Starts, finds and stops the background training runner (``child``): a process of its own session,
so closing the app never stops training by accident, and a window opened later reconnects to it.

Progress is not piped to this window: the runner writes it into the job rows (the whole job's
fraction and a steady time left), and the training view reads the library every second, whoever
added or runs the jobs.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from typing import Any

from PySide6.QtCore import QObject, Signal

from lipe_engine import locations
from lipe_engine.jobs import queue

from ..bridge import download_model, needs_download
from ..context import AppContext
from ..workers import Worker
from . import jobs
from .child import RUNNER_KEY, STOP_KEY, live_runner, runner_record

log = logging.getLogger(__name__)


class TrainingRunner(QObject):
    problem = Signal(str)  # a readable reason the queue could not start (e.g. a failed download)
    started = Signal()

    def __init__(self, ctx: AppContext, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.proc: subprocess.Popen[bytes] | None = None  # the runner this window started
        self.exit_code: int | None = None
        self._download: Worker | None = None

    @property
    def info(self) -> dict[str, Any] | None:
        """The live runner of this library (started by this window, an earlier one, or another)."""
        self.reap()
        return live_runner(self.ctx.library)

    @property
    def busy(self) -> bool:
        return self.info is not None

    def reap(self) -> int | None:
        """The exit code of the runner this window started, once it has ended (else None)."""
        if self.proc is not None and self.proc.poll() is not None:
            self.exit_code, self.proc = self.proc.returncode, None
            return self.exit_code
        return None

    def running_jobs(self) -> list[Any]:
        """Running jobs of every kind the queue runs (trainings and edits): Stop and recovery are the same."""
        return [j for j in self.ctx.library.list_jobs(states=["running"]) if j.kind in queue.KINDS]

    def start(self) -> str | None:
        """Work through the queue in the background; returns a readable reason when it cannot."""
        model = self.ctx.settings.model_source()
        if not model:
            return "No SDXL model is set: open Settings and choose the model to train on."
        if needs_download(model, self.ctx.settings.allow_downloads):
            self._fetch(model)  # the user allowed downloads: fetch first (status bar), then start
            return None
        if self.busy:
            self.ctx.library.set_setting(STOP_KEY, None)  # a Stop not yet taken: keep going instead
            return None
        if queue.next_queued(self.ctx.library) is None:
            return None
        self._spawn(model)
        return None

    def _spawn(self, model: str) -> None:
        holder = self.ctx.models
        if holder is not None and hasattr(holder, "unload") and self.ctx.settings.memory_mode != "high":
            holder.unload()  # free the edit model's memory for training
        log_path = locations.DataLayout(self.ctx.data_dir).training_log
        cmd = jobs.runner_command(self.ctx.data_dir, model, self.ctx.settings.device, log_path)
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        detach: dict[str, Any] = (
            {"creationflags": subprocess.CREATE_NEW_PROCESS_GROUP | subprocess.DETACHED_PROCESS}  # type: ignore[attr-defined]
            if sys.platform == "win32"
            else {"start_new_session": True}  # not in the app's session: closing it does not end training
        )
        log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(log_path, "ab") as out:
            self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                         env=env, **detach)
        self.exit_code = None
        lib = self.ctx.library
        lib.set_setting(STOP_KEY, None)
        lib.set_setting(RUNNER_KEY, runner_record(self.proc.pid, log_path))  # found at once, before it starts up
        log.info("training runner pid %s: %s", self.proc.pid, " ".join(cmd))
        self.started.emit()

    def _fetch(self, model: str) -> None:
        if self._download is not None:
            return
        w = Worker(f"Downloading {model}", download_model, model)
        w.succeeded.connect(lambda _r: self.start())
        w.failed.connect(self.problem.emit)
        w.done.connect(lambda: setattr(self, "_download", None))
        self._download = self.ctx.pool.start(w)

    def stop(self) -> None:
        """Stop after the current checkpoint: the running job is cancelled (it saves its step and can
        be resumed) and the runner takes no further job. Returns at once; the runner exits by itself."""
        lib = self.ctx.library
        lib.set_setting(STOP_KEY, "1")
        rec = self.info
        for job in self.running_jobs():
            worker = (job.result or {}).get("worker") if isinstance(job.result, dict) else None
            if rec is None or (isinstance(worker, dict) and worker.get("pid") == rec["pid"]):
                try:
                    queue.cancel_job(lib, job.id)
                except Exception as exc:  # noqa: BLE001 - it finished meanwhile
                    log.info("stop: job %s: %s", job.id, exc)

    def shutdown(self) -> None:
        """The window closes: the runner goes on (the app asked the user before); nothing waits."""
        self.reap()
