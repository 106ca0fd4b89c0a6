"""The edit window ("Edit pose…"): the photo's own caption as the source prompt, suggestions that
change only its action, a batch of target prompts x seeds from one inversion, the results as a
grid to pick from, the canvas (masks, before/after, side by side), save and export.

What is edited with what is the engine's plan (``lipe_engine.editing.plan``: source prompt, target
prompts, identity prompt, prior, model and settings), the same planner as ``lipe edit --identity``
and the queue's edit jobs; the window shows it and lets the user change the prompts."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QCloseEvent, QGuiApplication, QImage
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from lipe_engine import locations
from lipe_engine.edit_settings import PREVIEW_FIRST, PREVIEW_HELP
from lipe_engine.editing.plan import EditPlan, plan_edit, plan_prior
from lipe_engine.errors import InputError, LipeError
from lipe_engine.models.edit_defaults import read_edit_defaults

from ..album.viewer import _Loaded, read_image_async
from ..context import AppContext
from ..job_status import describe
from ..logs import user_message
from ..workers import Worker
from .canvas import EditCanvas
from .chips import fill_chips
from .engine import EditRequest, ModelHolder, export_result, run_edit, save_version
from .overlay import pil_to_qimage
from .params import AdvancedParams
from .results import ResultsGrid, TargetPrompts
from .source import TOY_NOTICE, TOY_NOTICE_BUTTON, SourcePromptMixin

if TYPE_CHECKING:
    from lipe_engine.library.records import Photo

log = logging.getLogger(__name__)

class EditWindow(SourcePromptMixin, QWidget):
    _preview_next = False  # the edit being started is a preview (start_edit)

    def __init__(self, ctx: AppContext, photo: Photo, parent: Any = None) -> None:
        super().__init__(parent, Qt.WindowType.Window)
        self.ctx, self.photo = ctx, photo
        self.setWindowTitle(f"Edit pose — {Path(photo.path).name}")
        screen = QGuiApplication.primaryScreen()
        height = min(820, screen.availableGeometry().height() - 40) if screen is not None else 820
        self.resize(1280, max(480, height))
        self.identity = QComboBox(self)
        self.identity_note = QLabel("", self)
        self.identity_note.setWordWrap(True)
        self.toy_notice = QFrame(self)
        self.toy_label = QLabel(TOY_NOTICE, self.toy_notice)
        self.toy_label.setToolTip("The shipped model is a 64-px demo for the toy world's sprites (`lipe demo`); "
                                  "real photos need SDXL: pick it in Settings or from the models found on disk")
        self.settings_btn = QPushButton(TOY_NOTICE_BUTTON, self.toy_notice)
        self.subject = QLineEdit(self)
        self.subject.setToolTip("How the prompts name the subject (the identity's token and class word)")
        self.source_prompt = QLineEdit(self)
        self.source_prompt.setToolTip("Describes the photo as it is (the photo is inverted with it)")
        self.source_note = QLabel("", self)
        self.source_note.setWordWrap(True)
        self.describe_btn = QPushButton("Describe with LLaVA", self)
        self.describe_btn.setToolTip("Caption this photo with the LLaVA model from Settings")
        self.targets = TargetPrompts(self)
        self.prompt = self.targets.line  # the target prompt being written
        self.chips = QGridLayout()
        self.advanced = AdvancedParams(self)
        self.run_btn = QPushButton("Edit", self)
        # the quick look first (edit_settings.PREVIEW_FIRST: Return runs it), the full edit on request
        self.preview_btn = QPushButton("Preview", self)
        self.preview_btn.setToolTip(PREVIEW_HELP[0].upper() + PREVIEW_HELP[1:])
        self.preview_btn.setDefault(PREVIEW_FIRST)
        self.preview_btn.clicked.connect(lambda: self.start_edit(preview=True))
        self.cancel_btn = QPushButton("Cancel", self)
        self.progress = QProgressBar(self)
        self.status = QLabel("Choose a prompt and press Edit.", self)
        self.status.setWordWrap(True)
        self.save_btn = QPushButton("Save as new version", self)
        self.save_btn.setToolTip("Save the ticked results (or the one shown) as new versions of the photo")
        self.export_btn = QPushButton("Export…", self)
        self.canvas = EditCanvas(self)
        self.grid = ResultsGrid(self)
        try:
            self.advanced.show_model_defaults(read_edit_defaults(ctx.settings.model_source()))
        except LipeError as exc:  # the edit itself reports it again when run
            self.status.setText(str(exc))
        self._build()
        self._fill_identities()
        self.run_btn.clicked.connect(self.start_edit)
        self.cancel_btn.clicked.connect(self.cancel_work)
        self.save_btn.clicked.connect(lambda: self.save_version())  # clicked(bool) must not reach `indexes`
        self.export_btn.clicked.connect(lambda: self.export())
        self.settings_btn.clicked.connect(self.open_settings)
        self.describe_btn.clicked.connect(lambda: self.describe_photo())
        self.identity.currentIndexChanged.connect(self._on_identity)
        self.subject.textChanged.connect(self._on_subject)
        self.targets.changed.connect(self._on_targets)
        self.advanced.count.valueChanged.connect(self._on_targets)
        self.grid.currentRowChanged.connect(self._on_grid_row)
        self.canvas.resultChanged.connect(self._on_canvas_result)
        ctx.settingsChanged.connect(self._on_settings)
        self.worker: Worker | None = None
        self.caption_worker: Worker | None = None
        self.result: Any = None
        self.request: EditRequest | None = None
        self.saved_edit: Any = None
        self.saved_edits: list[Any] = []
        self._auto_source = ""  # the source prompt the window made up (replaced when a caption arrives)
        self.discard_ok = False  # the main window already asked about unsaved results
        # questions to the user: (title, text) -> yes; tests answer them themselves
        self.confirm = lambda title, text: (
            QMessageBox.question(self, title, text) == QMessageBox.StandardButton.Yes
        )
        self._set_running(False)
        self._sig = _Loaded(self)
        self._sig.done.connect(self._on_photo)
        read_image_async(Path(photo.path), self._sig)
        self._on_identity()
        self.refresh_model_notice()

    def _build(self) -> None:
        notice = QHBoxLayout(self.toy_notice)
        notice.setContentsMargins(8, 6, 8, 6)
        notice.addWidget(self.toy_label, 1)
        notice.addWidget(self.settings_btn)
        self.toy_notice.setStyleSheet("QFrame { background: #fff3cd; color: #5c4400; border-radius: 4px; }")
        left = QVBoxLayout()
        left.addWidget(self.toy_notice)
        left.addWidget(QLabel("<b>Identity</b>", self))
        left.addWidget(self.identity)
        left.addWidget(self.identity_note)
        left.addWidget(QLabel("Subject words", self))
        left.addWidget(self.subject)
        src_row = QHBoxLayout()
        src_row.addWidget(QLabel("<b>Source prompt</b> (the photo as it is)", self), 1)
        src_row.addWidget(self.describe_btn)
        left.addLayout(src_row)
        left.addWidget(self.source_prompt)
        left.addWidget(self.source_note)
        left.addWidget(QLabel("<b>Target prompts</b> (a suggestion changes the pose in the source prompt)", self))
        left.addLayout(self.chips)
        left.addWidget(self.targets)
        count_row = QHBoxLayout()
        count_row.addWidget(QLabel("Results per prompt (seeds)", self))
        count_row.addWidget(self.advanced.count)  # outside the collapsed Advanced box: always at hand
        self.advanced.count.setVisible(True)
        left.addLayout(count_row)
        left.addWidget(self.advanced)
        row = QHBoxLayout()
        row.addWidget(self.preview_btn)
        row.addWidget(self.run_btn)
        row.addWidget(self.cancel_btn)
        left.addLayout(row)
        left.addWidget(self.progress)
        left.addWidget(self.status)
        row2 = QHBoxLayout()
        row2.addWidget(self.save_btn)
        row2.addWidget(self.export_btn)
        left.addLayout(row2)
        left.addStretch(1)  # everything at hand at the top; the Advanced box grows into the rest
        inner = QWidget(self)
        inner.setLayout(left)
        # the controls scroll instead of making the window taller than a laptop's screen
        panel = QScrollArea(self)
        panel.setWidget(inner)
        panel.setWidgetResizable(True)
        panel.setFrameShape(QFrame.Shape.NoFrame)
        panel.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        panel.setMinimumWidth(380)
        panel.setMaximumWidth(480)
        right = QSplitter(Qt.Orientation.Vertical, self)
        right.addWidget(self.canvas)
        right.addWidget(self.grid)
        self.grid.setVisible(False)  # until a batch has results
        right.setStretchFactor(0, 1)
        right.setSizes([600, 190])
        split = QSplitter(self)
        split.addWidget(panel)
        split.addWidget(right)
        split.setStretchFactor(1, 1)
        lay = QVBoxLayout(self)
        lay.addWidget(split)

    def _on_settings(self) -> None:
        """Settings saved (from this window's notice or the main window): model notice, LLaVA button."""
        self.refresh_model_notice()
        self._set_running(False)

    def _fill_chips(self, suggestions: tuple[str, ...]) -> None:
        if getattr(self, "_chip_texts", None) == suggestions:
            return
        self._chip_texts = suggestions
        fill_chips(self.chips, self, suggestions, 3, lambda t: f"The source prompt with '{t}' in place of its pose",
                   self.use_suggestion)

    # --- identity and prompts ---------------------------------------------------------------------

    def _fill_identities(self) -> None:
        lib = self.ctx.library
        self.identity.addItem("(no identity: base model)", None)
        linked = set()
        for ident in lib.list_identities():
            if any(link.photo.id == self.photo.id for link in lib.identity_photos(ident.id, status=None)):
                linked.add(ident.id)
            self.identity.addItem(ident.name, ident.id)
            self.identity.setItemData(self.identity.count() - 1, f"named “{ident.instance_prompt}” in prompts",
                                      Qt.ItemDataRole.ToolTipRole)
        for i in range(self.identity.count()):
            if self.identity.itemData(i) in linked:
                self.identity.setCurrentIndex(i)
                break

    def identity_id(self) -> int | None:
        return self.identity.currentData()

    def _on_identity(self, *_a: Any) -> None:
        iid = self.identity_id()
        if iid is None:
            self.subject.setText(self.subject.text() or "subject")
        else:
            self.subject.setText(self.ctx.library.get_identity(iid).instance_prompt)
            try:  # the engine's choice of prior, as the CLI and the queue make it
                self.identity_note.setText(plan_prior(self.ctx.library, iid).summary())
            except LipeError as exc:
                self.identity_note.setText(user_message(exc))
        self.refresh_model_notice()
        self._fill_source_prompt()

    def _on_targets(self, *_a: Any) -> None:
        if self.worker is None and self.caption_worker is None:
            n, k = len(self.targets.prompts()), self.advanced.count.value()
            if n:
                self.status.setText(f"{n} prompt(s) x {k} seed(s) = {n * k} result(s) from one inversion.")

    # --- running ----------------------------------------------------------------------------------

    def plan(self) -> EditPlan:
        """The engine's plan of the edit as the window stands (``plan_edit``, as the CLI and the
        queue plan theirs): the prompts as typed, the identity's prior, the model and its settings."""
        s = self.ctx.settings
        if not s.model_source().strip():
            raise InputError("no SDXL model is set", "open Settings and choose the SDXL model folder or file")
        base, version = self._photo_and_version()
        if self.identity_id() is None and not self.subject.text().strip():  # (the engine's line names CLI flags)
            raise InputError("nothing names the subject", "choose an identity, or type the subject words")
        return plan_edit(self.ctx.library, base, self.identity_id(), [], exact_targets=self.targets.prompts(),
                         source_prompt=self.source_prompt.text(), subject=self.subject.text().strip() or None,
                         version=version, describe=False, model=s.model_source(), params=self.advanced.values())

    def build_request(self) -> EditRequest:
        s = self.ctx.settings
        return EditRequest.from_plan(
            self.plan(),
            allow_downloads=s.allow_downloads,
            device=s.device,
            precision=s.precision,
            cache_dir=locations.inversion_cache_dir(),  # the one inversion cache, shared with `lipe edit`
            preview=self._preview_next,
        )

    def holder(self) -> ModelHolder:
        if not isinstance(self.ctx.models, ModelHolder):
            self.ctx.models = ModelHolder()
        return self.ctx.models

    def start_edit(self, *_clicked: Any, preview: bool = False) -> Worker | None:
        """Run the edit (``preview``: on the preview schedule, a quarter of the UNet work)."""
        self._preview_next = preview
        if self.worker is not None:
            return None
        if not self.toy_notice.isHidden() and not self.confirm(
            "Edit with the toy model?",
            "The toy demo model only knows its own 64-pixel sprite world: on this photo the result will be "
            "a smear, not an edit. Real photos need the SDXL model (Settings) on a GPU.\n\nRun it anyway?",
        ):
            self.status.setText("Not run: choose the SDXL model in Settings to edit real photos.")
            return None
        if not self.targets.prompts():
            self.status.setText("Type a target prompt or press a suggestion first.")
            return None
        try:
            request = self.build_request()
        except LipeError as exc:  # a bad input: said at once, in one line, nothing runs
            self._on_failed(user_message(exc))
            return None
        if self.caption_worker is not None:
            self.caption_worker.cancel()  # the user chose to edit with the prompt as it is
        self.request = request
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

    def cancel_work(self) -> None:
        for w in (self.worker, self.caption_worker):
            if w is not None:
                w.cancel()
                self.status.setText("Cancelling…")

    cancel_edit = cancel_work

    def _set_running(self, running: bool) -> None:
        busy = running or self.worker is not None or self.caption_worker is not None
        self.run_btn.setEnabled(self.worker is None)
        self.preview_btn.setEnabled(self.worker is None)
        self.cancel_btn.setEnabled(busy)
        self.describe_btn.setEnabled(not busy and self.llava_configured())
        done = self.result is not None and self.worker is None
        self.save_btn.setEnabled(done)
        self.export_btn.setEnabled(done)

    def _on_progress(self, ev: Any) -> None:
        if ev.total:
            self.progress.setRange(0, ev.total)
            self.progress.setValue(min(ev.step, ev.total))
        batch = ""
        if self.worker is not None and self.request is not None:
            n = len(self.request.target_prompts) * len(self.request.params.get("seeds") or [None])
            batch = f"{n} result(s): "
        self.status.setText(batch + describe(ev))

    def result_labels(self, res: Any) -> list[str]:
        """Each result named by what changed: the target prompt's words that the source lacks, and the seed."""
        src = set(self.source_prompt.text().lower().replace(",", " ").split())
        out = []
        for p, s in zip(res.prompts, res.seeds, strict=False):
            new = [w for w in p.replace(",", " ").split() if w.lower() not in src]
            what = " ".join(new) if new else p[-32:]
            out.append(f"{what} · seed {s}" if s is not None else what)  # no "seed –" for a seedless run
        return out

    def _on_result(self, res: Any) -> None:
        self.result = res
        self.saved_edit, self.saved_edits = None, []
        afters = [pil_to_qimage(im) for im in res.images]
        labels = self.result_labels(res)
        self.canvas.set_results(afters, res.source_mask, res.target_masks, res.mask_history, labels,
                                union_masks=getattr(res, "union_masks", None))
        self.grid.set_results(afters, labels)
        self.grid.setVisible(True)
        self.status.setText(
            f"Done: {len(afters)} result(s). Click one to compare it with the photo; tick those to save."
        )
        preview = self.request is not None and self.request.preview
        self.run_btn.setText("Refine (full edit)" if preview else "Edit")
        if preview:
            self.status.setText(f"Preview ({res.params.steps - res.params.skip} steps): {len(afters)} result(s). "
                                "Refine runs the full edit of the same prompts.")

    def _on_grid_row(self, row: int) -> None:
        if 0 <= row < len(self.canvas.afters) and row != self.canvas.current_index():
            self.canvas.result_box.setCurrentIndex(row)

    def _on_canvas_result(self, index: int) -> None:
        if 0 <= index < self.grid.count() and self.grid.currentRow() != index:
            self.grid.setCurrentRow(index)

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

    def save_version(self, indexes: list[int] | None = None) -> Any:
        """Save the ticked results (else the one shown) as new versions; returns the last one saved."""
        if self.result is None or self.request is None:
            return None
        picked = indexes if indexes is not None else (self.grid.checked() or [self.canvas.current_index()])
        saved = []
        try:
            # an edit of an edited version is recorded as another version of the original photo
            base = self._base_photo()
            for index in picked:
                saved.append(save_version(self.ctx.library, base, self.result, index, self.request))
        except Exception as exc:  # noqa: BLE001
            self.status.setText(user_message(exc))
            QMessageBox.warning(self, "Save failed", user_message(exc))
            return None
        finally:
            if saved:
                self.ctx.libraryChanged.emit()
        self.saved_edits += saved
        self.saved_edit = saved[-1]
        names = ", ".join(Path(e.output_path).name for e in saved)
        self.status.setText(f"Saved {len(saved)} new version(s): {names} (the original is untouched).")
        return self.saved_edit

    def _base_photo(self) -> Any:
        """The library photo (an edited version's original)."""
        base = self.photo
        if getattr(base, "content_hash", None) is None and getattr(base, "photo_id", None):
            base = self.ctx.library.get_photo(base.photo_id)
        return base

    def export(self, path: str | None = None) -> Path | None:
        if self.result is None or self.request is None:
            return None
        if path is None:
            default = f"{Path(self.photo.path).stem}-edit.png"
            path, _ = QFileDialog.getSaveFileName(
                self, "Export the edited photo", default, "Images (*.png *.jpg)"
            )
        if not path:
            return None
        dest = Path(path)
        try:  # an honest file: XMP (made by a generative model), the recipe, the original's date and profile
            export_result(self.ctx.library, self._base_photo(), self.result, self.canvas.current_index(),
                          self.request, dest)
        except Exception as exc:  # noqa: BLE001
            self.status.setText(user_message(exc))
            return None
        self.status.setText(f"Exported {dest.name}.")
        return dest

    def has_unsaved_results(self) -> bool:
        """Results nobody saved or agreed to discard (closing this window asked already)."""
        return self.result is not None and not self.saved_edits and not self.discard_ok

    def closeEvent(self, event: QCloseEvent) -> None:
        if self.has_unsaved_results() and not self.discard_ok and not self.confirm(
            "Discard the results?",
            f"{len(self.result.images)} edit result(s) of {Path(self.photo.path).name} are not saved. "
            "Close and discard them? (Save as new version keeps them.)",
        ):
            event.ignore()
            return
        self.discard_ok = self.result is not None  # the user said so: quitting the app does not ask again
        for w in (self.worker, self.caption_worker):
            if w is not None:
                w.cancel()
        super().closeEvent(event)
