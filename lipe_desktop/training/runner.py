"""Runs the training queue one job at a time, each in a child process (QProcess) that reports
JSON lines; the GUI stays alive whatever happens in training."""

from __future__ import annotations

import logging
from typing import Any

from PySide6.QtCore import QObject, QProcess, QProcessEnvironment, QTimer, Signal

from lipe_engine.jobs import queue

from ..bridge import download_model, needs_download
from ..context import AppContext
from ..workers import Worker
from . import jobs
from .protocol import decode

log = logging.getLogger(__name__)
KILL_AFTER_MS = 120_000  # a step, a sample render and the checkpoint can take a while on a busy GPU


class TrainingRunner(QObject):
    progress = Signal(int, dict)  # job id, progress message
    sample = Signal(int, str)  # job id, sample image path
    jobFinished = Signal(int, str, str)  # job id, state, message
    runningChanged = Signal(bool)
    problem = Signal(str)  # a readable reason the queue could not start (e.g. a failed download)

    def __init__(self, ctx: AppContext, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.proc: QProcess | None = None
        self.job_id: int | None = None
        self.active = False  # the queue keeps going after each job
        self._buf = b""
        self._last_error = ""
        self._download: Worker | None = None
        self._kill = QTimer(self, singleShot=True, interval=KILL_AFTER_MS)
        self._kill.timeout.connect(self._force_kill)

    @property
    def busy(self) -> bool:
        return self.proc is not None

    def start(self) -> str | None:
        """Start working through the queue; returns a readable reason when it cannot."""
        model = self.ctx.settings.model_source()
        if not model:
            return "No SDXL model is set: open Settings and choose the model to train on."
        if needs_download(model, self.ctx.settings.allow_downloads):
            self._fetch(model)  # the user allowed downloads: fetch first (status bar), then start
            return None
        self.active = True
        self.runningChanged.emit(True)
        if not self.busy:
            self._launch_next()
        return None

    def _fetch(self, model: str) -> None:
        if self._download is not None:
            return
        w = Worker(f"Downloading {model}", download_model, model)
        w.succeeded.connect(lambda _r: self.start())
        w.failed.connect(self.problem.emit)
        w.done.connect(lambda: setattr(self, "_download", None))
        self._download = self.ctx.pool.start(w)

    def stop(self) -> None:
        """Stop after checkpointing the current step (SIGTERM); kill if it does not exit in time."""
        self.active = False
        if self.proc is not None:
            self.proc.terminate()
            self._kill.start()
        else:
            self.runningChanged.emit(False)

    def _launch_next(self) -> None:
        job = queue.next_queued(self.ctx.library)
        if job is None or not self.active:
            self.active = False
            self.runningChanged.emit(False)
            return
        holder = self.ctx.models
        if holder is not None and hasattr(holder, "unload") and self.ctx.settings.memory_mode != "high":
            holder.unload()  # free the edit model's memory for training
        cmd = jobs.child_command(
            self.ctx.data_dir, job.id, self.ctx.settings.model_source(), self.ctx.settings.device
        )
        proc = QProcess(self)
        env = QProcessEnvironment.systemEnvironment()
        env.insert("PYTHONUNBUFFERED", "1")
        proc.setProcessEnvironment(env)
        proc.readyReadStandardOutput.connect(self._read)
        proc.readyReadStandardError.connect(self._read_err)
        proc.finished.connect(self._finished)
        self.proc, self.job_id, self._buf, self._last_error = proc, job.id, b"", ""
        log.info("training job %s: %s", job.id, " ".join(cmd))
        proc.start(cmd[0], cmd[1:])

    def _read(self) -> None:
        if self.proc is None or self.job_id is None:
            return
        self._buf += bytes(self.proc.readAllStandardOutput().data())
        *lines, self._buf = self._buf.split(b"\n")
        for raw in lines:
            msg = decode(raw.decode("utf-8", "replace"))
            if msg is None:
                continue
            kind = msg.get("type")
            if kind == "progress":
                self.progress.emit(self.job_id, msg)
            elif kind == "sample":
                self.sample.emit(self.job_id, str(msg.get("path")))
            elif kind == "error":
                self._last_error = str(msg.get("message", ""))

    def _read_err(self) -> None:
        if self.proc is not None:
            text = bytes(self.proc.readAllStandardError().data()).decode("utf-8", "replace").rstrip()
            if text:
                log.info("training child: %s", text[-4000:])

    def _finished(self, code: int, status: QProcess.ExitStatus) -> None:
        self._kill.stop()
        self._read()
        job_id = self.job_id
        proc, self.proc, self.job_id = self.proc, None, None
        if proc is not None:
            proc.deleteLater()
        if job_id is None:
            return
        lib = self.ctx.library
        job = lib.get_job(job_id)
        if job.state == "queued" or (job.state == "running" and queue.orphaned(job)):  # died without saying so
            why = self._last_error or f"the training process exited unexpectedly (code {code})"
            lib.update_job(job_id, state="failed", message=f"{why}: press Resume to continue")
            job = lib.get_job(job_id)
        self.jobFinished.emit(job_id, job.state, job.message)
        if job.state == "done":
            self.ctx.libraryChanged.emit()
        if self.active:
            self._launch_next()
        else:
            self.runningChanged.emit(False)

    def _force_kill(self) -> None:
        if self.proc is not None:
            log.warning("training child did not stop in time; killing it")
            self.proc.kill()

    def shutdown(self, timeout_ms: int = 15_000) -> None:
        proc = self.proc
        if proc is None:
            return
        self.active = False
        proc.terminate()
        if not proc.waitForFinished(timeout_ms):
            proc.kill()
            proc.waitForFinished(3000)

    def current(self) -> Any:
        return self.job_id
