"""The training queue view: add identities with a memory preset, reorder, start/stop, resume,
progress with step/loss/ETA, the latest sample images, and "Unload models"."""

from __future__ import annotations

import contextlib
import logging
import threading
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

from lipe_engine.jobs import queue
from lipe_engine.progress import ProgressEvent

from ..context import AppContext
from ..job_status import describe
from ..logs import user_message
from . import jobs
from .runner import TrainingRunner

if TYPE_CHECKING:
    from lipe_engine.library.records import Job

log = logging.getLogger(__name__)
COLUMNS = ("Job", "Identity", "Preset", "State", "Progress", "Message")


class _Presets(QObject):
    loaded = Signal(dict)  # preset name -> one-line explanation

    def load(self) -> None:  # runs on a plain thread; the signal is delivered on the GUI thread
        presets = jobs.presets()
        with contextlib.suppress(RuntimeError):  # the panel was closed first
            self.loaded.emit(presets)


class TrainingPanel(QWidget):
    jobStatus = Signal(str)  # one line about the running job, for the main window's status bar

    def __init__(self, ctx: AppContext, parent: Any = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.runner = TrainingRunner(ctx, self)
        self.identity = QComboBox(self)
        self.preset = QComboBox(self)
        self.preset.addItem("Paper defaults (large GPU)", None)
        # the presets live in the training engine, whose import pulls in torch (~3 s): load them on a
        # thread so the window opens at once
        self._presets = _Presets(self)
        self._presets.loaded.connect(self._fill_presets)
        threading.Thread(target=self._presets.load, name="lipe-presets", daemon=True).start()
        self.preset_help = QLabel("", self)
        self.preset_help.setWordWrap(True)
        self.add_btn = QPushButton("Add to queue", self)
        self.caption_first = QCheckBox("Caption photos without a caption first (LLaVA)", self)
        self.caption_first.setChecked(bool(ctx.settings.llava_gguf))
        self.caption_first.setToolTip(
            "Editing-oriented captions, as in the paper; skipped if LLaVA is not set"
        )
        self.class_images = QSpinBox(self)
        self.class_images.setRange(0, 400)
        self.class_images.setValue(70)  # the paper's (= lipe_engine.jobs.pipeline.DEFAULT_CLASS_IMAGES, not
        # imported: it would load torch into the GUI at start)
        self.class_images.setToolTip(
            "Images of the class ('a dog ...') from regularization prompts (LLM from Settings, else templates), "
            "rendered once per class and reused; 0 trains on your photos only"
        )
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
        self.bar = QProgressBar(self)
        self.status = QLabel("Queue identities to learn their personalized prior.", self)
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
        opt_row.addWidget(self.caption_first)
        opt_row.addSpacing(16)
        opt_row.addWidget(QLabel("Class images (prior preservation)", self))
        opt_row.addWidget(self.class_images)
        opt_row.addStretch(1)
        lay = QVBoxLayout(self)
        lay.addLayout(add_row)
        lay.addLayout(opt_row)
        lay.addWidget(self.preset_help)
        lay.addWidget(self.table, 1)
        lay.addLayout(row)
        lay.addWidget(self.bar)
        lay.addWidget(self.status)
        self.samples_label = QLabel("Samples (none yet)", self)
        lay.addWidget(self.samples_label)
        lay.addWidget(self.samples)
        self.preset.currentIndexChanged.connect(self._preset_help)
        self.add_btn.clicked.connect(lambda: self.add_identity(self.identity.currentData()))
        self.buttons["up"].clicked.connect(lambda: self._move(-1))
        self.buttons["down"].clicked.connect(lambda: self._move(1))
        self.buttons["remove"].clicked.connect(self.remove_selected)
        self.buttons["start"].clicked.connect(self.start)
        self.buttons["stop"].clicked.connect(self.runner.stop)
        self.buttons["resume"].clicked.connect(self.resume_selected)
        self.buttons["unload"].clicked.connect(self.unload_models)
        self.table.itemSelectionChanged.connect(self._update_buttons)
        self.runner.progress.connect(self._on_progress)
        self.runner.jobFinished.connect(self._on_finished)
        self.runner.problem.connect(self._show_problem)
        self.runner.runningChanged.connect(lambda _r: self.refresh())
        self._poll = QTimer(self, interval=2000)
        self._poll.timeout.connect(self.refresh)
        self._last_stage = ""
        ctx.libraryChanged.connect(self._fill_identities)
        n = queue.fail_interrupted(ctx.library, "interrupted (the app closed or crashed): press Resume")
        if n:
            self.status.setText(
                f"{n} training job(s) were interrupted last time: select one and press Resume."
            )
        self._fill_identities()
        self._preset_help()
        self.refresh()

    # --- queue ------------------------------------------------------------------------------------

    def _fill_identities(self) -> None:
        current = self.identity.currentData()
        self.identity.clear()
        for ident in self.ctx.library.list_identities():
            self.identity.addItem(f"{ident.name} ({ident.instance_prompt})", ident.id)
        i = self.identity.findData(current)
        self.identity.setCurrentIndex(max(0, i))
        self.add_btn.setEnabled(self.identity.count() > 0)

    def _fill_presets(self, presets: dict[str, str]) -> None:
        for name, text in presets.items():
            self.preset.addItem(f"{name.upper().replace('GB', ' GB')} GPU", name)
            self.preset.setItemData(self.preset.count() - 1, text, Qt.ItemDataRole.ToolTipRole)
        self._preset_help()

    def _preset_help(self, *_a: Any) -> None:
        tip = self.preset.currentData(Qt.ItemDataRole.ToolTipRole)
        self.preset_help.setText(
            tip
            or "The paper's settings: rank 32, UNet and text encoders, 1000 epochs "
            "(needs a large GPU; pick a preset for smaller ones)."
        )

    def add_identity(
        self,
        identity_id: int | None,
        preset: str | None = None,
        overrides: dict[str, Any] | None = None,
        class_images: int | None = None,
    ) -> Any:
        if identity_id is None:
            return None
        try:
            job = queue.enqueue(
                self.ctx.library,
                identity_id,
                preset=preset or self.preset.currentData(),
                overrides=overrides,
                caption=self.caption_first.isChecked(),
                class_images=self.class_images.value() if class_images is None else class_images,
                runner="desktop",
            )
        except Exception as exc:  # noqa: BLE001
            QMessageBox.warning(self, "Training queue", user_message(exc))
            return None
        self.refresh()
        return job

    def refresh(self) -> None:
        lib = self.ctx.library
        names = {i.id: i.name for i in lib.list_identities()}
        selected = self.selected_job_id()
        listed = queue.listed(lib)
        self.table.setRowCount(len(listed))
        for r, j in enumerate(listed):
            cells = (
                str(j.id),
                names.get(j.identity_id or -1, "?"),
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
        running = self.runner.busy or self.runner.active
        if running and not self._poll.isActive():
            self._poll.start()
        elif not running:
            self._poll.stop()
        self._update_buttons()

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
        job = self.ctx.library.get_job(jid) if jid is not None else None
        queued = job is not None and job.state == "queued"
        self.buttons["up"].setEnabled(queued)
        self.buttons["down"].setEnabled(queued)
        self.buttons["remove"].setEnabled(job is not None and job.state != "running")
        self.buttons["resume"].setEnabled(job is not None and job.state in ("cancelled", "failed"))
        self.buttons["start"].setEnabled(
            not self.runner.active and queue.next_queued(self.ctx.library) is not None
        )
        self.buttons["stop"].setEnabled(self.runner.busy or self.runner.active)
        shown = job
        if shown is None and self.runner.job_id is not None:
            shown = self.ctx.library.get_job(self.runner.job_id)  # the running job's samples by default
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
        if jid is not None and self.ctx.library.get_job(jid).state != "running":
            self.ctx.library.delete_job(jid)
            self.refresh()

    def resume_selected(self) -> Any:
        jid = self.selected_job_id()
        if jid is None:
            return None
        job = queue.retry(self.ctx.library, jid)
        self.status.setText(f"Job {job.id} continues job {jid} from its last checkpoint.")
        self.refresh()
        return job

    def start(self) -> None:
        problem = self.runner.start()
        if problem:
            self._show_problem(problem)
        self.refresh()

    def _show_problem(self, problem: str) -> None:
        self.status.setText(problem)
        QMessageBox.warning(self, "Training queue", problem)

    def unload_models(self) -> None:
        holder = self.ctx.models
        if holder is not None and hasattr(holder, "unload"):
            holder.unload()
        self.status.setText("Models unloaded; their memory is free.")

    # --- progress ---------------------------------------------------------------------------------

    def _on_progress(self, job_id: int, msg: dict) -> None:
        ev = ProgressEvent(
            str(msg.get("stage", "")),
            int(msg.get("step") or 0),
            int(msg.get("total") or 0),
            msg.get("eta_s"),
            {"loss": msg.get("loss")},
        )
        if ev.total:
            self.bar.setRange(0, ev.total)
            self.bar.setValue(min(ev.step, ev.total))
        self.status.setText(f"Job {job_id}: {describe(ev)}")
        self.jobStatus.emit(f"Training job {job_id}: {describe(ev)}")
        if ev.stage != self._last_stage:
            self._last_stage = ev.stage
            self.refresh()

    def _on_finished(self, job_id: int, state: str, message: str) -> None:
        self.status.setText(f"Job {job_id} {state}: {message}")
        self.jobStatus.emit(f"Training job {job_id} {state}")
        self.refresh()
        self.select_job(job_id)

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
