""""Edit pose…" for several photos (or an identity's): one dialog for all of them.

The user picks the identity (preselected from the photos' links), the changes ("sitting", "facing
left", a whole prompt) and how many results per change; the engine plans each photo
(``lipe_engine.editing.plan``: captions, token, prior, model) and the dialog shows that plan before
anything runs. "Run now" queues the edit and starts the queue; "Queue for tonight" only queues it
(an edit behind its identity's queued training waits for it). Results wait for the morning review
(Edit > Review edited photos…).
"""

from __future__ import annotations

from typing import Any

from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QPlainTextEdit,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
)

from lipe_engine.editing import plan_edit
from lipe_engine.editing.job import default_photos
from lipe_engine.errors import LipeError
from lipe_engine.jobs import enqueue_edit
from lipe_engine.toyworld.photos import is_toy_model

from ..logs import user_message
from .chips import fill_chips
from .engine import suggestions_for

PREVIEW_PHOTOS = 3  # photos whose plan the dialog spells out (the rest are planned the same way)


def linked_identity(lib: Any, photos: list[Any]) -> int | None:
    """The identity most of the photos are confirmed to show (None when none is)."""
    counts: dict[int, int] = {}
    ids = {p.id for p in photos}
    for ident in lib.list_identities():
        n = sum(1 for link in lib.identity_photos(ident.id) if link.photo.id in ids)
        if n:
            counts[ident.id] = n
    return max(counts, key=lambda k: counts[k]) if counts else None


class BatchEditDialog(QDialog):
    def __init__(self, ctx: Any, photos: list[Any], identity_id: int | None = None, parent: Any = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.given = [p for p in photos if getattr(p, "content_hash", None)]  # library photos only
        self.job: Any = None
        self.started = False
        self.setWindowTitle("Edit pose of several photos")
        self.resize(720, 560)
        self.identity = QComboBox(self)
        self.photos_label = QLabel(self)
        self.photos_label.setWordWrap(True)
        self.chips = QGridLayout()
        self.change = QLineEdit(self)
        self.change.setPlaceholderText("another change (e.g. 'jumping') or a whole prompt naming the subject")
        self.add_btn = QPushButton("Add", self)
        self.changes = QListWidget(self)
        self.changes.setToolTip("The changes: each photo gets one result per change and seed (Delete removes one)")
        self.changes.setMaximumHeight(110)
        self.remove_btn = QPushButton("Remove change", self)
        self.seeds = QSpinBox(self)
        self.seeds.setRange(1, 8)
        self.seeds.setToolTip("Results per change (different seeds), all from one inversion of the photo")
        self.preview = QPlainTextEdit(self)
        self.preview.setReadOnly(True)
        self.status = QLabel("", self)
        self.status.setWordWrap(True)
        self.run_btn = QPushButton("Run now", self)
        self.run_btn.setToolTip("Queue the edit and start the queue now")
        self.queue_btn = QPushButton("Queue for tonight", self)
        self.queue_btn.setToolTip("Queue the edit; it runs with the queue (after the identity's training, if queued)")
        self.close_btn = QPushButton("Cancel", self)
        self._build()
        for ident in ctx.library.list_identities():
            self.identity.addItem(f"{ident.name} (a {ident.class_word})", ident.id)
        chosen = identity_id if identity_id is not None else linked_identity(ctx.library, self.given)
        if chosen is not None:
            self.identity.setCurrentIndex(max(0, self.identity.findData(chosen)))
        self.identity.currentIndexChanged.connect(self._on_identity)
        self.add_btn.clicked.connect(self._add_typed)
        self.change.returnPressed.connect(self._add_typed)
        self.remove_btn.clicked.connect(self._remove_change)
        self.seeds.valueChanged.connect(self.refresh_plan)
        self.run_btn.clicked.connect(lambda: self.submit(run_now=True))
        self.queue_btn.clicked.connect(lambda: self.submit(run_now=False))
        self.close_btn.clicked.connect(self.reject)
        self._on_identity()

    def _build(self) -> None:
        lay = QVBoxLayout(self)
        lay.addWidget(QLabel("<b>Identity</b> (names the subject in every prompt; its newest prior is used)", self))
        lay.addWidget(self.identity)
        lay.addWidget(self.photos_label)
        lay.addWidget(QLabel("<b>Changes</b> (a suggestion changes only the pose, view or expression)", self))
        lay.addLayout(self.chips)
        row = QHBoxLayout()
        row.addWidget(self.change, 1)
        row.addWidget(self.add_btn)
        lay.addLayout(row)
        row2 = QHBoxLayout()
        row2.addWidget(self.changes, 1)
        row2.addWidget(self.remove_btn)
        lay.addLayout(row2)
        row3 = QHBoxLayout()
        row3.addWidget(QLabel("Results per change (seeds)", self))
        row3.addWidget(self.seeds)
        row3.addStretch(1)
        lay.addLayout(row3)
        lay.addWidget(QLabel("<b>Plan</b> (what the library decided for each photo)", self))
        lay.addWidget(self.preview, 1)
        lay.addWidget(self.status)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        for b in (self.run_btn, self.queue_btn, self.close_btn):
            buttons.addWidget(b)
        lay.addLayout(buttons)

    # --- inputs -----------------------------------------------------------------------------------

    def identity_id(self) -> int | None:
        return self.identity.currentData()

    def photos(self) -> list[Any]:
        """The photos given, else (an identity chosen alone) the identity's photos to edit."""
        if self.given:
            return self.given
        iid = self.identity_id()
        if iid is None:
            return []

        return default_photos(self.ctx.library, self.ctx.library.get_identity(iid))

    def change_list(self) -> list[str]:
        return [self.changes.item(i).text() for i in range(self.changes.count())]

    def seed_list(self) -> list[int | None]:
        return [None, *range(1, self.seeds.value())]

    def add_change(self, text: str) -> None:
        text = " ".join(text.split())
        if text and text not in self.change_list():
            self.changes.addItem(text)
            self.refresh_plan()

    def _add_typed(self) -> None:
        self.add_change(self.change.text())
        self.change.clear()

    def _remove_change(self) -> None:
        for item in self.changes.selectedItems():
            self.changes.takeItem(self.changes.row(item))
        self.refresh_plan()

    def _on_identity(self, *_a: Any) -> None:
        iid = self.identity_id()
        cls = self.ctx.library.get_identity(iid).class_word if iid is not None else None
        self._fill_chips(suggestions_for(cls, is_toy_model(self.ctx.settings.model_source())))
        photos = self.photos()
        names = ", ".join(p.path.name for p in photos[:6]) + (" …" if len(photos) > 6 else "")
        source = "" if self.given else " (the identity's photos to edit)"
        self.photos_label.setText(f"<b>{len(photos)} photo(s)</b>{source}: {names}")
        self.refresh_plan()

    def _fill_chips(self, suggestions: tuple[str, ...]) -> None:
        fill_chips(self.chips, self, suggestions, 4, lambda t: f"Add the change '{t}'", self.add_change)

    # --- plan and submit ----------------------------------------------------------------------------

    def refresh_plan(self, *_a: Any) -> None:
        """Spell out the engine's plan for the first photos; say why nothing can run yet."""
        photos, changes, iid = self.photos(), self.change_list(), self.identity_id()
        ready = bool(photos and changes and iid is not None)
        self.run_btn.setEnabled(ready)
        self.queue_btn.setEnabled(ready)
        if iid is None:
            self.preview.setPlainText("Create an identity first (Identities tab): it names the subject.")
            return
        if not photos:
            self.preview.setPlainText("No photos: select photos in the album, or add photos to the identity.")
            return
        if not changes:
            self.preview.setPlainText("Add a change: press a suggestion or type one.")
            return
        n = len(photos) * len(changes) * self.seeds.value()
        lines = [f"{len(photos)} photo(s) x {len(changes)} change(s) x {self.seeds.value()} seed(s) = {n} result(s)"]
        for p in photos[:PREVIEW_PHOTOS]:
            try:
                plan = plan_edit(self.ctx.library, p, iid, changes, model=self.ctx.settings.model_source() or None,
                                 describe=False, params={"seeds": tuple(self.seed_list())})
                lines.append(plan.summary())
            except LipeError as exc:
                lines.append(f"{p.path.name}: {exc}")
        if len(photos) > PREVIEW_PHOTOS:
            lines.append(f"… and {len(photos) - PREVIEW_PHOTOS} more photo(s), planned the same way when they run.")
        self.preview.setPlainText("\n".join(lines))

    def submit(self, run_now: bool) -> Any:
        """Queue the edit (one job for all photos); ``run_now`` also starts the queue."""
        iid = self.identity_id()
        if iid is None:
            return None
        try:
            self.job = enqueue_edit(self.ctx.library, iid, self.change_list(), self.photos(),
                                    params={"seeds": self.seed_list()}, model=self.ctx.settings.model_source() or None,
                                    runner="desktop")
        except Exception as exc:  # noqa: BLE001 - a bad input: said here, nothing queued
            self.status.setText(user_message(exc))
            return None
        self.ctx.libraryChanged.emit()
        training = getattr(self.parent(), "training", None)
        if run_now and training is not None:
            training.refresh()
            training.start()
            self.started = True
        elif training is not None:
            training.refresh()
        self.accept()
        return self.job


def open_batch_edit(window: Any, photos: list[Any], identity_id: int | None = None) -> BatchEditDialog:
    """Open the dialog over the main window (non-modal: the album stays usable)."""
    dlg = BatchEditDialog(window.ctx, photos, identity_id, window)
    dlg.finished.connect(lambda _r: _after(window, dlg))
    dlg.show()
    return dlg


def _after(window: Any, dlg: BatchEditDialog) -> None:
    if dlg.job is None:
        return
    n = len(dlg.job.config.get("photos") or [])
    when = "running now" if dlg.started else "queued for tonight"
    wait = dlg.job.config.get("after_job")
    after = f" (after training job {wait})" if wait else ""
    window.statusBar().showMessage(f"Edit of {n} photo(s) {when}{after}: review the results in Edit > "
                                   "Review edited photos…", 10000)
