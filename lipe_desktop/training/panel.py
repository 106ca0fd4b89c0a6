"""The training queue view: add identities with a preset that fits the machine (steps, class images
and an estimated time shown first), reorder, start/stop, resume in the same row, the whole job's
progress with a steady time left, the latest sample images, and "Unload models".

The view follows the library's queue every second, whoever changes it (another window, ``lipe
queue``); training runs in a background process (``runner``) that outlives the window."""

from __future__ import annotations

import contextlib
import logging
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QIcon, QPixmap
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from lipe_engine import locations
from lipe_engine.jobs import queue

from ..context import AppContext
from ..logs import user_message
from . import jobs
from .presets import PresetChoiceMixin
from .runner import TrainingRunner

if TYPE_CHECKING:
    from lipe_engine.library.records import Job

log = logging.getLogger(__name__)
COLUMNS = ("Job", "Identity", "Settings", "State", "Progress", "Message")  # a training, an edit or captioning


class _Presets(QObject):
    loaded = Signal(dict, float)  # preset name -> one-line explanation; GPU memory in GB (0: none)

    def load(self) -> None:  # runs on a plain thread; the signal is delivered on the GUI thread
        presets, gpu = jobs.presets(), jobs.gpu_memory_gb()
        with contextlib.suppress(RuntimeError):  # the panel was closed first
            self.loaded.emit(presets, gpu)


class TrainingPanel(PresetChoiceMixin, QWidget):
    jobStatus = Signal(str)  # one line about the running job, for the main window's status bar
    machineKnown = Signal(float)  # GPU memory in GB (0: none), once the presets thread has looked

    def __init__(self, ctx: AppContext, parent: Any = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.runner = TrainingRunner(ctx, self)
        self.gpu_gb: float | None = None  # unknown until the presets thread has looked
        self.identity = QComboBox(self)
        self.preset = QComboBox(self)
        self.preset.addItem(jobs.TOY_LABEL, "toy")
        self.preset.setItemData(0, jobs.TOY_HELP, Qt.ItemDataRole.ToolTipRole)
        self.preset.addItem("Paper defaults (large GPU)", None)
        self.preset.setItemData(1, jobs.PAPER_HELP, Qt.ItemDataRole.ToolTipRole)
        # the presets live in the training engine, whose import pulls in torch (~3 s): load them (and
        # look for a GPU) on a thread so the window opens at once
        self._presets = _Presets(self)
        self._presets.loaded.connect(self._fill_presets)
        threading.Thread(target=self._presets.load, name="lipe-presets", daemon=True).start()
        self.preset_help = QLabel("", self)
        self.preset_help.setWordWrap(True)
        self.add_btn = QPushButton("Add to queue", self)
        self.caption_first = QCheckBox("Describe photos without a caption first (LLaVA)", self)
        self._show_captioner()
        self.steps = QSpinBox(self)
        self.steps.setRange(1, 1_000_000)
        self.steps.setToolTip("Training steps (one photo and one class image each)")
        self.class_images = QSpinBox(self)
        self.class_images.setRange(0, 400)
        self.class_images.setToolTip(
            "Images of the class ('a dog ...') that keep the model's idea of the class while it learns "
            "your subject; rendered once per class and reused; 0 trains on your photos only"
        )
        self.estimate = QLabel("", self)
        self.estimate.setWordWrap(True)
        self.notice = QLabel("", self)  # what happened while the app was closed (stays until dismissed by news)
        self.notice.setWordWrap(True)
        self.notice.setStyleSheet("QLabel { background: #e8f0fe; color: #0b3d91; padding: 6px; border-radius: 4px; }")
        self.notice.setVisible(False)
        self.table = QTableWidget(0, len(COLUMNS), self)
        self.table.setHorizontalHeaderLabels(list(COLUMNS))
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        header = self.table.horizontalHeader()
        for c in range(len(COLUMNS) - 1):
            header.setSectionResizeMode(c, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(len(COLUMNS) - 1, QHeaderView.ResizeMode.Stretch)
        self.table.verticalHeader().setVisible(False)
        self.buttons: dict[str, QPushButton] = {}
        row = QHBoxLayout()
        for key, text in (
            ("up", "Move up"),
            ("down", "Move down"),
            ("remove", "Remove"),
            ("start", "Start"),
            ("stop", "Stop"),
            ("resume", "Resume"),
            ("unload", "Unload models"),
        ):
            b = QPushButton(text, self)
            self.buttons[key] = b
            row.addWidget(b)
        row.addStretch(1)
        self.buttons["unload"].setToolTip("Free the memory of models loaded for editing")
        self.buttons["stop"].setToolTip("Stop after saving the current step; Resume continues from there")
        self.bar = QProgressBar(self)
        self.bar.setRange(0, 1000)
        self.bar.setFormat("%p%")
        self.status = QLabel("Queue identities to learn their personalized prior.", self)
        self.status.setWordWrap(True)
        self.samples = QListWidget(self)
        self.samples.setViewMode(QListWidget.ViewMode.IconMode)
        self.samples.setIconSize(QSize(128, 128))
        self.samples.setFixedHeight(170)
        self.samples.setFlow(QListWidget.Flow.LeftToRight)
        self.samples.setWrapping(False)
        add_row = QHBoxLayout()
        add_row.addWidget(QLabel("Identity", self))
        add_row.addWidget(self.identity, 1)
        add_row.addWidget(QLabel("Preset", self))
        add_row.addWidget(self.preset, 1)
        add_row.addWidget(self.add_btn)
        opt_row = QHBoxLayout()
        opt_row.addWidget(QLabel("Steps", self))
        opt_row.addWidget(self.steps)
        opt_row.addSpacing(16)
        opt_row.addWidget(QLabel("Class images", self))
        opt_row.addWidget(self.class_images)
        opt_row.addSpacing(16)
        opt_row.addWidget(self.caption_first)
        opt_row.addStretch(1)
        lay = QVBoxLayout(self)
        lay.addLayout(add_row)
        lay.addLayout(opt_row)
        lay.addWidget(self.preset_help)
        lay.addWidget(self.estimate)
        lay.addWidget(self.notice)
        lay.addWidget(self.table, 1)
        lay.addLayout(row)
        lay.addWidget(self.bar)
        lay.addWidget(self.status)
        self.samples_label = QLabel("Samples (none yet)", self)
        lay.addWidget(self.samples_label)
        lay.addWidget(self.samples)
        self.preset.currentIndexChanged.connect(self._preset_changed)
        self.identity.currentIndexChanged.connect(lambda _i: self._preset_changed())
        self.steps.valueChanged.connect(lambda _v: self._update_estimate())
        self.class_images.valueChanged.connect(lambda _v: self._update_estimate())
        self.add_btn.clicked.connect(lambda: self.add_identity(self.identity.currentData()))
        self.buttons["up"].clicked.connect(lambda: self._move(-1))
        self.buttons["down"].clicked.connect(lambda: self._move(1))
        self.buttons["remove"].clicked.connect(lambda: self.remove_selected())
        self.buttons["start"].clicked.connect(lambda: self.start())
        self.buttons["stop"].clicked.connect(lambda: self.stop())
        self.buttons["resume"].clicked.connect(lambda: self.resume_selected())
        self.buttons["unload"].clicked.connect(lambda: self.unload_models())
        self.table.itemSelectionChanged.connect(self._update_buttons)
        self.runner.problem.connect(self._show_problem)
        self.runner.started.connect(self.refresh)
        # the queue as the library has it, whoever changes it (this window, another, `lipe queue`)
        self._poll = QTimer(self, interval=1000)
        self._poll.timeout.connect(self.poll)
        self._shown: Any = None
        self._was_running: set[int] = set()
        ctx.libraryChanged.connect(self._fill_identities)
        ctx.settingsChanged.connect(self._preset_changed)
        ctx.settingsChanged.connect(self._show_captioner)
        self._fill_identities()
        self._preset_changed()
        self.recover()
        self.refresh()
        self._poll.start()

    def recover(self) -> str:
        """At start: say whether training goes on in the background, and continue jobs whose runner
        is gone (the computer restarted, the runner was killed) from their checkpoints."""
        lib = self.ctx.library
        said = ""
        if self.runner.busy:
            names = ", ".join(self.title_of(j) for j in self.runner.running_jobs()) or "The queue"
            said = f"{names} continues in the background: it kept running while the app was closed."
        else:
            resumed = []
            for job in self.runner.running_jobs():
                if queue.orphaned(job):
                    lib.update_job(job.id, state="failed", message="interrupted: continued by a new run",
                                   log="interrupted (runner gone): continued from its checkpoint")
                    resumed.append(queue.retry(lib, job.id))
            if resumed:
                names = ", ".join(self.title_of(j) for j in resumed)
                said = (f"{names} was interrupted (the computer restarted or the background process "
                        "stopped); it continues from its last checkpoint now.")
                problem = self.runner.start()
                if problem:
                    said += f" It cannot start yet: {problem}"
        if said:
            self.notice.setText(said)
            self.notice.setVisible(True)
            log.info("training: %s", said)
        return said

    def name_of(self, job: Job) -> str:
        return str((job.config or {}).get("identity_name") or f"job {job.id}")

    def title_of(self, job: Job) -> str:
        """The job by its kind: "Training Rex", "Editing 3 photo(s) of Rex (sitting)" (the engine's words)."""
        return queue.job_title(job)

    # --- what to queue ------------------------------------------------------------------------------

    def _fill_identities(self) -> None:
        current = self.identity.currentData()
        self.identity.blockSignals(True)
        self.identity.clear()
        for ident in self.ctx.library.list_identities():
            self.identity.addItem(ident.name, ident.id)
        i = self.identity.findData(current)
        self.identity.setCurrentIndex(max(0, i))
        self.identity.blockSignals(False)
        self.add_btn.setEnabled(self.identity.count() > 0)
        self._update_estimate()

    def add_identity(
        self,
        identity_id: int | None,
        preset: str | None = None,
        overrides: dict[str, Any] | None = None,
        class_images: int | None = None,
    ) -> Any:
        """Queue training of an identity with the preset, steps and class images shown (or these)."""
        if identity_id is None:
            return None
        name = preset or self.preset.currentData()
        if overrides is None:
            default_steps, _ = jobs.preset_steps(name, self._reference_count())
            overrides = {"max_steps": self.steps.value()} if self.steps.value() != default_steps else {}
        try:
            job = queue.enqueue(
                self.ctx.library,
                identity_id,
                preset=name,
                overrides=overrides,
                caption=self.caption_first.isChecked(),
                class_images=self.class_images.value() if class_images is None else class_images,
                runner="desktop",
            )
        except Exception as exc:  # noqa: BLE001
            QMessageBox.warning(self, "Training queue", user_message(exc))
            return None
        self.refresh()
        if self.runner.busy:
            self.status.setText(f"{self.name_of(job)} is queued: training starts after the current job.")
        return job

    def _show_captioner(self) -> None:
        """The LLaVA box is offered only with a LLaVA model set: ticked without one, the job quietly
        trained on the plain prompt (said only in the runner's log)."""
        ready = bool(locations.configured("llava_gguf", self.ctx.settings.llava_gguf))
        self.caption_first.setEnabled(ready)
        self.caption_first.setChecked(ready)
        self.caption_first.setToolTip(
            "Editing-oriented captions, as in the paper" if ready
            else "Set the LLaVA model in Settings to describe photos before training")

    # --- the queue as the library has it -------------------------------------------------------------

    def rows(self) -> list[Job]:
        return jobs.one_row_per_training(queue.listed(self.ctx.library))

    def poll(self) -> None:
        """Every second: the queue's rows, the running job's progress, the runner's end."""
        code = self.runner.reap()
        rows = self.rows()
        shown = [(j.id, j.state, round(j.progress, 3), j.message) for j in rows]
        running = {j.id for j in rows if j.state == "running"}
        if code is not None or running != self._was_running:
            self._runner_changed(code, running)
            self._update_buttons()  # the runner ended: Stop off, Start on (the rows may not have changed)
        if shown != self._shown:
            self.refresh(rows)

    def _runner_changed(self, code: int | None, running: set[int]) -> None:
        lib = self.ctx.library
        for jid in self._was_running - running:
            job = lib.get_job(jid)
            self.status.setText(f"{self.title_of(job)}: {job.state} — {job.message}")
            self.jobStatus.emit(f"{self.title_of(job)}: {job.state}")
            if job.state == "done":
                self.ctx.libraryChanged.emit()
        if code is not None and not self.runner.busy:
            for job in self.runner.running_jobs():  # the runner died without recording an outcome
                if queue.orphaned(job):
                    why = f"the training process stopped unexpectedly (code {code})"
                    lib.update_job(job.id, state="failed", message=f"{why}: press Resume to continue")
                    self.status.setText(f"{self.title_of(job)}: {why}. Press Resume to continue from its checkpoint.")
        self._was_running = running

    def refresh(self, rows: list[Job] | None = None) -> None:
        listed = self.rows() if rows is None else rows
        self._shown = [(j.id, j.state, round(j.progress, 3), j.message) for j in listed]
        selected = self.selected_job_id()
        self.table.blockSignals(True)
        self.table.setRowCount(len(listed))
        for r, j in enumerate(listed):
            cells = (
                str(j.id),
                self.name_of(j),
                queue.describe_settings(j),
                j.state,
                f"{j.progress * 100:.0f}%",
                j.message,
            )
            for c, text in enumerate(cells):
                item = QTableWidgetItem(text)
                item.setData(Qt.ItemDataRole.UserRole, j.id)
                self.table.setItem(r, c, item)
            if j.id == selected:
                self.table.selectRow(r)
        self.table.blockSignals(False)
        self._show_running(listed)
        self._update_buttons()

    def _show_running(self, listed: list[Job]) -> None:
        job = next((j for j in listed if j.state == "running"), None)
        if job is None:  # "0%" under a finished job read as "it did nothing"
            self.bar.setValue(0)
            self.bar.setFormat("nothing running")
            return
        self.bar.setFormat("%p%")
        self.bar.setValue(int(round(job.progress * 1000)))
        line = f"{self.title_of(job)}: {job.progress * 100:.0f}%, {job.message}"
        self.status.setText(line)
        self.jobStatus.emit(line.split(" · ")[0] + (f" · {job.message.split(' · ')[-1]}"
                                                    if " · " in job.message else ""))

    def selected_job_id(self) -> int | None:
        items = self.table.selectedItems()
        return items[0].data(Qt.ItemDataRole.UserRole) if items else None

    def select_job(self, job_id: int) -> None:
        for r in range(self.table.rowCount()):
            item = self.table.item(r, 0)
            if item is not None and item.data(Qt.ItemDataRole.UserRole) == job_id:
                self.table.selectRow(r)

    def _update_buttons(self) -> None:
        jid = self.selected_job_id()
        lib = self.ctx.library
        try:
            job = lib.get_job(jid) if jid is not None else None
        except Exception:  # noqa: BLE001 - removed from another window or `lipe queue`
            job = None
        queued = job is not None and job.state == "queued"
        busy = self.runner.busy
        self.buttons["up"].setEnabled(queued)
        self.buttons["down"].setEnabled(queued)
        self.buttons["remove"].setEnabled(job is not None and job.state != "running")
        self.buttons["resume"].setEnabled(job is not None and job.state in ("cancelled", "failed"))
        self.buttons["start"].setEnabled(not busy and queue.next_queued(lib) is not None)
        self.buttons["stop"].setEnabled(busy or bool(self.runner.running_jobs()))
        shown = job or next(iter(self.runner.running_jobs()), None)  # the running job's samples by default
        if shown is not None:
            self._show_samples(shown)

    def _move(self, delta: int) -> None:
        jid = self.selected_job_id()
        if jid is not None:
            queue.move(self.ctx.library, jid, delta)
            self.refresh()
            self.select_job(jid)

    def remove_selected(self) -> None:
        jid = self.selected_job_id()
        if jid is None:
            return
        lib = self.ctx.library
        job = lib.get_job(jid)
        if job.state == "running":
            return
        folder = (job.config or {}).get("output_dir")
        if job.state in ("cancelled", "failed") and folder and (Path(folder) / "checkpoints").is_dir():
            # a stopped training with its checkpoints: removed at once, it could no longer be resumed
            answer = QMessageBox.question(
                self, "Remove from the queue",
                f"Remove the stopped training of {self.name_of(job)}? It can then no longer be resumed "
                f"from the queue; its checkpoints stay in {folder}.")
            if answer != QMessageBox.StandardButton.Yes:
                return
        for other in lib.list_jobs(kind=queue.KIND):  # the row is the whole training: its earlier runs too
            if other.state != "running" and (other.id == jid or (folder and (other.config or {}).get("output_dir") == folder)):
                lib.delete_job(other.id)
        self.refresh()

    def resume_selected(self) -> Any:
        """Continue the selected stopped or failed training from its last checkpoint, in the same row."""
        jid = self.selected_job_id()
        if jid is None:
            return None
        try:
            job = queue.retry(self.ctx.library, jid)
        except Exception as exc:  # noqa: BLE001 - finished meanwhile (another window, `lipe queue`)
            self._show_problem(user_message(exc))
            return None
        self.refresh()
        self.select_job(job.id)
        problem = self.runner.start()
        if problem:
            self._show_problem(problem)
        else:
            self.status.setText(f"{self.title_of(job)} continues from its last checkpoint.")
        self.refresh()
        return job

    def start(self) -> None:
        problem = self.runner.start()
        if problem:
            self._show_problem(problem)
        self.refresh()

    def stop(self) -> None:
        self.runner.stop()
        self.status.setText("Stopping after the current step is saved; Resume continues from there.")
        self.refresh()

    def _show_problem(self, problem: str) -> None:
        self.status.setText(problem)
        QMessageBox.warning(self, "Training queue", problem)

    def unload_models(self) -> None:
        holder = self.ctx.models
        if holder is not None and hasattr(holder, "unload"):
            holder.unload()
        self.status.setText("Models unloaded; their memory is free.")

    def _show_samples(self, job: Job) -> None:
        """The newest sample images of ``job`` (the trainer writes them every ``sample_every`` steps)."""
        paths = jobs.samples_of(job)[-8:]
        shown = [it.toolTip() for i in range(self.samples.count()) if (it := self.samples.item(i))]
        if shown == [str(p) for p in paths]:
            return
        self.samples.clear()
        for p in paths:
            pm = QPixmap(str(p))
            if not pm.isNull() and pm.width() < 128:  # small training resolutions: show pixels, larger
                pm = pm.scaled(
                    128, 128, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.FastTransformation
                )
            it = QListWidgetItem(QIcon(pm), jobs.sample_label(p))
            it.setToolTip(str(p))
            self.samples.addItem(it)
        self.samples_label.setText(
            f"Samples of job {job.id} (newest {len(paths)})" if paths else "Samples (none yet)"
        )

    def shutdown(self) -> None:
        self._poll.stop()
        self.runner.shutdown()
