"""The edit window ("Edit pose…"): target prompt with suggestions, identity chooser, Advanced
parameters, live progress, the canvas (masks, before/after, side by side), save and export."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QCloseEvent, QImage
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from lipe_engine.errors import LipeError
from lipe_engine.models.edit_defaults import read_edit_defaults

from ..album.viewer import _Loaded, read_image_async
from ..context import AppContext
from ..job_status import describe
from ..logs import user_message
from ..workers import Worker
from .canvas import EditCanvas
from .engine import PROMPT_SUGGESTIONS, EditRequest, ModelHolder, run_edit, save_version
from .overlay import pil_to_qimage
from .params import AdvancedParams

log = logging.getLogger(__name__)


class EditWindow(QWidget):
    def __init__(self, ctx: AppContext, photo: Any, parent: Any = None) -> None:
        super().__init__(parent, Qt.WindowType.Window)
        self.ctx, self.photo = ctx, photo
        self.setWindowTitle(f"Edit pose — {Path(photo.path).name}")
        self.resize(1200, 760)
        self.identity = QComboBox(self)
        self.identity_note = QLabel("", self)
        self.identity_note.setWordWrap(True)
        self.subject = QLineEdit(self)
        self.subject.setToolTip("How the prompts name the subject (the identity's token and class word)")
        self.prompt = QLineEdit(self)
        self.prompt.setPlaceholderText("What should change, e.g. 'a photo of a sks dog sitting'")
        self.source_prompt = QLineEdit(self)
        self.source_prompt.setToolTip("Describes the photo as it is (used to invert it)")
        self.advanced = AdvancedParams(self)
        self.run_btn = QPushButton("Edit", self)
        self.cancel_btn = QPushButton("Cancel", self)
        self.progress = QProgressBar(self)
        self.status = QLabel("Choose a prompt and press Edit.", self)
        self.status.setWordWrap(True)
        self.save_btn = QPushButton("Save as new version", self)
        self.export_btn = QPushButton("Export…", self)
        self.canvas = EditCanvas(self)
        try:
            self.advanced.show_model_defaults(read_edit_defaults(ctx.settings.model_source()))
        except LipeError as exc:  # the edit itself reports it again when run
            self.status.setText(str(exc))
        self._build()
        self._fill_identities()
        self.run_btn.clicked.connect(self.start_edit)
        self.cancel_btn.clicked.connect(self.cancel_edit)
        self.save_btn.clicked.connect(self.save_version)
        self.export_btn.clicked.connect(lambda: self.export())
        self.identity.currentIndexChanged.connect(self._on_identity)
        self.subject.textChanged.connect(self._on_subject)
        self.worker: Worker | None = None
        self.result: Any = None
        self.request: EditRequest | None = None
        self.saved_edit: Any = None
        self._set_running(False)
        self._sig = _Loaded(self)
        self._sig.done.connect(self._on_photo)
        read_image_async(Path(photo.path), self._sig)
        self._on_identity()

    def _build(self) -> None:
        chips = QGridLayout()
        for i, text in enumerate(PROMPT_SUGGESTIONS):
            b = QPushButton(text, self)
            b.setFlat(False)
            b.clicked.connect(lambda _c=False, t=text: self.use_suggestion(t))
            chips.addWidget(b, i // 2, i % 2)
        left = QVBoxLayout()
        left.addWidget(QLabel("<b>Identity</b>", self))
        left.addWidget(self.identity)
        left.addWidget(self.identity_note)
        left.addWidget(QLabel("Subject words", self))
        left.addWidget(self.subject)
        left.addWidget(QLabel("<b>Target prompt</b>", self))
        left.addWidget(self.prompt)
        left.addLayout(chips)
        left.addWidget(QLabel("Source prompt", self))
        left.addWidget(self.source_prompt)
        left.addWidget(self.advanced)
        left.addStretch(1)
        row = QHBoxLayout()
        row.addWidget(self.run_btn)
        row.addWidget(self.cancel_btn)
        left.addLayout(row)
        left.addWidget(self.progress)
        left.addWidget(self.status)
        row2 = QHBoxLayout()
        row2.addWidget(self.save_btn)
        row2.addWidget(self.export_btn)
        left.addLayout(row2)
        panel = QWidget(self)
        panel.setLayout(left)
        panel.setMinimumWidth(330)
        panel.setMaximumWidth(420)
        split = QSplitter(self)
        split.addWidget(panel)
        split.addWidget(self.canvas)
        split.setStretchFactor(1, 1)
        lay = QVBoxLayout(self)
        lay.addWidget(split)

    # --- identity and prompts ---------------------------------------------------------------------

    def _fill_identities(self) -> None:
        lib = self.ctx.library
        self.identity.addItem("(no identity: base model)", None)
        linked = set()
        for ident in lib.list_identities():
            if any(link.photo.id == self.photo.id for link in lib.identity_photos(ident.id, status=None)):
                linked.add(ident.id)
            self.identity.addItem(f"{ident.name} ({ident.instance_prompt})", ident.id)
        for i in range(self.identity.count()):
            if self.identity.itemData(i) in linked:
                self.identity.setCurrentIndex(i)
                break

    def identity_id(self) -> int | None:
        return self.identity.currentData()

    def _on_identity(self, *_a: Any) -> None:
        iid = self.identity_id()
        if iid is None:
            self.identity_note.setText("Edits use the base SDXL model without a personalized prior.")
            self.subject.setText(self.subject.text() or "subject")
            return
        ident = self.ctx.library.get_identity(iid)
        lora = self.ctx.library.latest_lora(iid)
        self.identity_note.setText(
            "Personalized prior trained."
            if lora
            else "No prior trained yet: queue training in the Training tab "
            "(edits use the base model until then)."
        )
        self.subject.setText(ident.instance_prompt)
        caption = self._caption(iid)
        if caption:  # the photo's caption describes it best for the inversion (the paper's source prompt)
            self.source_prompt.setText(caption)

    def _caption(self, identity_id: int) -> str | None:
        if not getattr(self.photo, "content_hash", None):
            return None  # an edited version has no caption of its own
        try:
            cap = self.ctx.library.get_caption(self.photo, identity=identity_id)
        except LipeError:
            return None
        return cap.text if cap else None

    def _on_subject(self, text: str) -> None:
        self.source_prompt.setText(f"a photo of a {text.strip()}")

    def use_suggestion(self, suggestion: str) -> None:
        self.prompt.setText(f"a photo of a {self.subject.text().strip()} {suggestion}")

    # --- running ----------------------------------------------------------------------------------

    def build_request(self) -> EditRequest:
        s = self.ctx.settings
        iid = self.identity_id()
        lora = self.ctx.library.latest_lora(iid) if iid is not None else None
        return EditRequest(
            photo_path=Path(self.photo.path),
            model=s.model_source(),
            allow_downloads=s.allow_downloads,
            source_prompt=self.source_prompt.text().strip(),
            target_prompts=[self.prompt.text().strip()],
            identity_prompt=self.subject.text().strip(),
            params=self.advanced.values(),
            lora_path=str(lora.path) if lora else None,
            device=s.device,
            precision=s.precision,
            cache_dir=self.ctx.data_dir / "inversions",
        )

    def holder(self) -> ModelHolder:
        if not isinstance(self.ctx.models, ModelHolder):
            self.ctx.models = ModelHolder()
        return self.ctx.models

    def start_edit(self) -> Worker | None:
        if self.worker is not None:
            return None
        self.request = self.build_request()
        w = Worker("Editing photo", run_edit, self.holder(), self.request)
        w.progress.connect(self._on_progress)
        w.succeeded.connect(self._on_result)
        w.failed.connect(self._on_failed)
        w.cancelled.connect(self._on_cancelled)
        w.done.connect(self._on_done)
        self.worker = w
        self._set_running(True)
        self.status.setText("Starting…")
        self.progress.setRange(0, 0)
        self.ctx.pool.start(w)
        return w

    def cancel_edit(self) -> None:
        if self.worker is not None:
            self.worker.cancel()
            self.status.setText("Cancelling…")

    def _set_running(self, running: bool) -> None:
        self.run_btn.setEnabled(not running)
        self.cancel_btn.setEnabled(running)
        done = self.result is not None and not running
        self.save_btn.setEnabled(done)
        self.export_btn.setEnabled(done)

    def _on_progress(self, ev: Any) -> None:
        if ev.total:
            self.progress.setRange(0, ev.total)
            self.progress.setValue(min(ev.step, ev.total))
        self.status.setText(describe(ev))

    def _on_result(self, res: Any) -> None:
        self.result = res
        self.saved_edit = None
        afters = [pil_to_qimage(im) for im in res.images]
        labels = [
            f"{p[-40:]} (seed {s if s is not None else '-'})"
            for p, s in zip(res.prompts, res.seeds, strict=False)
        ]
        self.canvas.set_results(afters, res.source_mask, res.target_masks, res.mask_history, labels)
        self.status.setText(f"Done: {len(afters)} output(s). Drag the slider to compare.")

    def _on_failed(self, message: str) -> None:
        self.status.setText(message)
        QMessageBox.warning(self, "Edit failed", message)

    def _on_cancelled(self) -> None:
        self.status.setText("Cancelled.")

    def _on_done(self) -> None:
        self.worker = None
        if self.ctx.settings.memory_mode == "low":
            self.holder().unload()  # "low" memory mode: nothing stays loaded between edits
        self.progress.setRange(0, 1)
        self.progress.setValue(1 if self.result is not None else 0)
        self._set_running(False)

    def _on_photo(self, path: str, img: QImage, error: str) -> None:
        if img.isNull():
            self.status.setText(f"{Path(path).name} cannot be shown ({error}).")
            return
        if self.result is None:
            self.canvas.set_before(img)
        else:
            self.canvas.before = img
            self.canvas._show()

    # --- outputs ----------------------------------------------------------------------------------

    def save_version(self) -> Any:
        if self.result is None or self.request is None:
            return None
        iid = self.identity_id()
        lora = self.ctx.library.latest_lora(iid) if iid is not None else None
        try:
            # an edit of an edited version is recorded as another version of the original photo
            base = self.photo
            if getattr(base, "content_hash", None) is None and getattr(base, "photo_id", None):
                base = self.ctx.library.get_photo(base.photo_id)
            edit = save_version(
                self.ctx.library,
                base,
                self.result,
                self.canvas.current_index(),
                self.request,
                iid,
                lora.id if lora else None,
            )
        except Exception as exc:  # noqa: BLE001
            self.status.setText(user_message(exc))
            QMessageBox.warning(self, "Save failed", user_message(exc))
            return None
        self.saved_edit = edit
        self.status.setText(
            f"Saved as a new version: {Path(edit.output_path).name} (the original is untouched)."
        )
        self.ctx.libraryChanged.emit()
        return edit

    def export(self, path: str | None = None) -> Path | None:
        if self.result is None:
            return None
        if path is None:
            default = f"{Path(self.photo.path).stem}-edit.png"
            path, _ = QFileDialog.getSaveFileName(
                self, "Export the edited photo", default, "Images (*.png *.jpg)"
            )
        if not path:
            return None
        dest = Path(path)
        try:
            img = self.result.images[self.canvas.current_index()]
            (img.convert("RGB") if dest.suffix.lower() in (".jpg", ".jpeg") else img).save(dest)
        except Exception as exc:  # noqa: BLE001
            self.status.setText(user_message(exc))
            return None
        self.status.setText(f"Exported {dest.name}.")
        return dest

    def closeEvent(self, event: QCloseEvent) -> None:
        if self.worker is not None:
            self.worker.cancel()
        super().closeEvent(event)
