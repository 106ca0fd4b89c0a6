"""Identities panel: the list of identities | their photos (drop photos here), roles, captions.

Photos are added by dragging them from the album grid onto the photo area, or with right-click
"Add to identity" in the album. Suggestions (from "Suggest similar photos") show with a "?" badge
and can be confirmed or rejected; the user's choices are never overridden by the engine.
"""

from __future__ import annotations

import logging
from dataclasses import asdict
from pathlib import Path
from typing import Any

from PySide6.QtCore import QPoint, Qt, Signal
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMenu,
    QMessageBox,
    QPlainTextEdit,
    QPushButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from lipe_engine.jobs.queue import job_title

from ..album.grid import IdentityDropTarget, PhotoGrid, PhotoListModel, accepts_photos, dropped_photo_refs
from ..album.page import thumbnail_path
from ..album.thumbnails import ThumbnailLoader
from ..context import AppContext
from ..logs import user_message
from ..workers import Worker
from . import tasks
from .dialog import NewIdentityDialog

log = logging.getLogger(__name__)


class DropGrid(PhotoGrid):
    """The identity's photo grid; accepts photos dragged from the album (or files from a file manager)."""

    photosDropped = Signal(list)  # photo ids or file paths

    def __init__(self, model: PhotoListModel, parent: Any = None) -> None:
        super().__init__(model, 120, parent)
        self.setAcceptDrops(True)
        self.setDragDropMode(PhotoGrid.DragDropMode.DragDrop)

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if accepts_photos(event.mimeData()):
            event.acceptProposedAction()
        else:
            super().dragEnterEvent(event)

    def dragMoveEvent(self, event: Any) -> None:
        if accepts_photos(event.mimeData()):
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        refs = dropped_photo_refs(event.mimeData())
        if refs:
            self.photosDropped.emit(refs)
            event.acceptProposedAction()


class IdentityList(IdentityDropTarget, QListWidget):
    """The identities; photos dropped on one are added to it (whichever identity is selected)."""

    photosDropped = Signal(int, list)  # identity id, photo ids or file paths

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self.setAcceptDrops(True)
        self.setDragDropMode(QAbstractItemView.DragDropMode.DropOnly)

    def identity_at(self, pos: Any) -> int | None:
        it = self.itemAt(pos)
        return it.data(Qt.ItemDataRole.UserRole) if it is not None else None


class IdentitiesPanel(QWidget):
    trainRequested = Signal(int)  # identity id
    editRequested = Signal(object)  # a photo (its target photos are what one edits)

    def __init__(self, ctx: AppContext, parent: Any = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.list = IdentityList(self)
        self.list.setWordWrap(True)  # a long name wraps instead of scrolling the narrow list sideways
        self.list.setSpacing(3)  # two- and three-line entries ran into each other
        new_btn = QPushButton("New identity…", self)
        del_btn = QPushButton("Delete", self)
        new_btn.clicked.connect(lambda: self.new_identity([]))
        del_btn.clicked.connect(self.delete_current)
        self.header = QLabel("Create an identity, then drag 3-5 photos of it here.", self)
        self.header.setWordWrap(True)
        self.loader = ThumbnailLoader(lambda item: thumbnail_path(ctx.library, item), 120, parent=self)
        self.model = PhotoListModel(self.loader, self)
        self.grid = DropGrid(self.model, self)
        self.caption = QPlainTextEdit(self)
        self.caption.setPlaceholderText("Select a photo to see and edit its caption")
        self.caption.setMaximumHeight(90)
        self.save_caption_btn = QPushButton("Save caption", self)
        self.caption_btn = QPushButton("Caption", self)
        self.caption_btn.setToolTip("Write editing-oriented captions for the photos (LLaVA from Settings)")
        self.queue_caption_btn = QPushButton("Queue captioning", self)
        self.queue_caption_btn.setToolTip("Describe the photos without a caption with the queue (Training queue "
                                          "tab): tonight, before the trainings and edits queued after it")
        self.suggest_btn = QPushButton("Suggest similar photos", self)
        self.suggest_btn.setToolTip(
            "Find photos that look like this identity's (CLIP from Settings); they show with a '?' badge"
        )
        self.train_btn = QPushButton("Queue training", self)
        self.task_note = QLabel("", self)  # the outcome of the last Caption / Suggest run
        self.task_note.setWordWrap(True)
        left = QVBoxLayout()
        left.addWidget(self.list, 1)
        row = QHBoxLayout()
        row.addWidget(new_btn)
        row.addWidget(del_btn)
        left.addLayout(row)
        lw = QWidget(self)
        lw.setLayout(left)
        actions = QHBoxLayout()
        for b in (self.caption_btn, self.queue_caption_btn, self.suggest_btn, self.train_btn):
            actions.addWidget(b)
        actions.addStretch(1)
        cap_row = QHBoxLayout()
        cap_row.addWidget(self.caption, 1)
        cap_row.addWidget(self.save_caption_btn)
        right = QVBoxLayout()
        right.addWidget(self.header)
        right.addLayout(actions)
        right.addWidget(self.task_note)
        right.addWidget(self.grid, 1)
        right.addLayout(cap_row)
        rw = QWidget(self)
        rw.setLayout(right)
        split = QSplitter(self)
        split.addWidget(lw)
        split.addWidget(rw)
        split.setStretchFactor(1, 1)
        split.setSizes([220, 800])
        QVBoxLayout(self).addWidget(split)
        self.list.currentItemChanged.connect(lambda *_a: self.show_identity())
        self.grid.photosDropped.connect(self.add_photo_ids)
        self.list.photosDropped.connect(lambda iid, refs: self.add_photo_ids(refs, identity_id=iid))
        self.grid.contextRequested.connect(self._photo_menu)
        self.grid.selectionModel().selectionChanged.connect(lambda *_a: self._load_caption())
        self.save_caption_btn.clicked.connect(self.save_caption)
        self.caption_btn.clicked.connect(self.run_caption)
        self.queue_caption_btn.clicked.connect(lambda: self.queue_caption())
        self.suggest_btn.clicked.connect(self.run_suggest)
        self.train_btn.clicked.connect(self._request_training)
        ctx.libraryChanged.connect(self.reload)
        self.reload()

    # --- identities -------------------------------------------------------------------------------

    def reload(self) -> None:
        current = self.current_id()
        self.list.blockSignals(True)
        self.list.clear()
        for ident in self.ctx.library.list_identities():
            n = len(self.ctx.library.identity_photos(ident.id, role="reference"))
            lora = "\nprior trained" if self.ctx.library.latest_lora(ident.id) else ""
            # the class word, not the rare token ("sks dog"): the token is the model's word, not the user's;
            # short lines: the list is narrow and a longer one scrolled sideways
            it = QListWidgetItem(f"{ident.name}\n{ident.class_word} · {n} reference{'' if n == 1 else 's'}{lora}")
            it.setToolTip(f"Prompts name it '{ident.instance_prompt}' (a rare word the prior learns for it)")
            it.setData(Qt.ItemDataRole.UserRole, ident.id)
            self.list.addItem(it)
            if ident.id == current:
                self.list.setCurrentItem(it)
        if self.list.currentItem() is None and self.list.count():
            self.list.setCurrentRow(0)
        self.list.blockSignals(False)
        self.show_identity()

    def _request_training(self) -> None:
        iid = self.current_id()
        if iid is not None:
            self.trainRequested.emit(iid)

    def current_id(self) -> int | None:
        it = self.list.currentItem()
        return it.data(Qt.ItemDataRole.UserRole) if it is not None else None

    def select(self, identity_id: int) -> None:
        for i in range(self.list.count()):
            item = self.list.item(i)
            if item is not None and item.data(Qt.ItemDataRole.UserRole) == identity_id:
                self.list.setCurrentRow(i)

    def show_identity(self) -> None:
        iid = self.current_id()
        for b in (self.caption_btn, self.queue_caption_btn, self.suggest_btn, self.train_btn):
            b.setEnabled(iid is not None)
        if iid is None:
            self.model.set_photos([])
            self.header.setText("Create an identity, then drag 3-5 photos of it here.")
            return
        lib = self.ctx.library
        ident = lib.get_identity(iid)
        links = [link for link in lib.identity_photos(iid, status=None) if link.status != "rejected"]
        badges = {}
        for link in links:
            tag = "ref" if link.role == "reference" else "target"
            badges[link.photo.id] = tag if link.status == "confirmed" else f"{tag}?"
        self.model.set_photos([link.photo for link in links], badges)
        refs = sum(1 for link in links if link.role == "reference" and link.status == "confirmed")
        hint = "" if 3 <= refs <= 5 else " Use 3-5 photos that show it clearly (references)."
        self.header.setText(f"<b>{ident.name}</b>, a {ident.class_word} ({ident.kind}). {refs} reference photo(s).{hint}")
        # the rare word that names it in prompts is for those who write prompts: a tooltip, not the header
        self.header.setToolTip(f"Prompts name {ident.name} “{ident.instance_prompt}”")
        self._load_caption()

    def new_identity(self, photos: list[Any], values: tuple[str, str, str | None] | None = None) -> Any:
        if values is None:
            dlg = NewIdentityDialog(self, len(photos))
            if not dlg.exec():
                return None
            values = dlg.values()
        name, word, kind = values
        try:
            ident = self.ctx.library.create_identity(name, word, kind=kind)
            if photos:
                self.ctx.library.add_identity_photos(ident.id, photos, role="reference")
        except Exception as exc:  # noqa: BLE001
            self._error(exc)
            return None
        self.ctx.libraryChanged.emit()
        self.select(ident.id)
        return ident

    def delete_current(self) -> None:
        iid = self.current_id()
        if iid is None:
            return
        lib = self.ctx.library
        ident = lib.get_identity(iid)
        prior = lib.latest_lora(iid)
        # say what is forgotten: a trained prior (hours of training on a GPU) used to go unmentioned
        goes = "its photo links and captions" + (" and its trained prior" if prior is not None else "")
        kept = "the photos stay in the library" + (
            f"; the prior's files stay on disk ({Path(prior.path).parent})" if prior is not None else "")
        answer = QMessageBox.question(
            self, "Delete identity", f"Delete '{ident.name}'? The app forgets {goes}; {kept}."
        )
        if answer == QMessageBox.StandardButton.Yes:
            self.ctx.library.delete_identity(iid)
            self.ctx.libraryChanged.emit()

    # --- photos -----------------------------------------------------------------------------------

    def add_photo_ids(
        self, ids: list[int | str], role: str = "reference", identity_id: int | None = None
    ) -> None:
        """Add photos (ids or library file paths) to ``identity_id`` or the selected identity."""
        iid = identity_id if identity_id is not None else self.current_id()
        if iid is None:
            return
        try:
            self.ctx.library.add_identity_photos(iid, ids, role=role)
        except Exception as exc:  # noqa: BLE001
            self._error(exc)
            return
        self.ctx.libraryChanged.emit()
        self.select(iid)

    def set_role(self, photos: list[Any], role: str) -> None:
        self.add_photo_ids([p.id for p in photos], role)

    def remove(self, photos: list[Any], reject: bool = False) -> None:
        iid = self.current_id()
        if iid is None:
            return
        if reject:
            self.ctx.library.reject_identity_photos(iid, photos)
        else:
            self.ctx.library.remove_identity_photos(iid, photos)
        self.ctx.libraryChanged.emit()

    def _photo_menu(self, photos: list[Any], pos: QPoint) -> None:
        self.photo_menu(photos).exec(pos)

    def photo_menu(self, photos: list[Any]) -> QMenu:
        m = QMenu(self)
        m.addAction("Edit pose…", lambda: self.editRequested.emit(photos[0]))
        m.addSeparator()
        m.addAction("Use as reference (training)", lambda: self.set_role(photos, "reference"))
        m.addAction("Use as target (to edit)", lambda: self.set_role(photos, "target"))
        m.addAction("Remove from identity", lambda: self.remove(photos))
        m.addAction("Not this identity (reject)", lambda: self.remove(photos, reject=True))
        return m

    # --- captions ---------------------------------------------------------------------------------

    def _selected(self) -> Any:
        photos = self.grid.selected_photos()
        return photos[0] if len(photos) == 1 else None

    def _load_caption(self) -> None:
        photo, iid = self._selected(), self.current_id()
        self.caption.setEnabled(photo is not None)
        self.save_caption_btn.setEnabled(photo is not None)
        if photo is None or iid is None:
            self.caption.setPlainText("")
            return
        cap = self.ctx.library.get_caption(photo, identity=iid)
        self.caption.setPlainText(cap.text if cap else "")

    def save_caption(self) -> None:
        photo, iid = self._selected(), self.current_id()
        if photo is None or iid is None:
            return
        try:
            self.ctx.library.set_caption(
                photo, self.caption.toPlainText(), identity=iid, by_user=True, if_user_edited="overwrite"
            )
        except Exception as exc:  # noqa: BLE001
            self._error(exc)

    # --- background work --------------------------------------------------------------------------

    def _run(self, worker: Worker) -> Worker:
        self.task_note.setText(f"{worker.title}…")
        worker.failed.connect(lambda msg: self.task_note.setText(msg))
        worker.failed.connect(lambda msg: QMessageBox.warning(self, worker.title, msg))
        worker.cancelled.connect(lambda: self.task_note.setText(f"{worker.title}: cancelled."))
        worker.succeeded.connect(lambda r: self.task_note.setText(f"{worker.title}: {r}."))
        worker.succeeded.connect(lambda _r: self.ctx.libraryChanged.emit())
        return self.ctx.pool.start(worker)

    def run_suggest(self) -> Worker | None:
        iid = self.current_id()
        if iid is None:
            return None
        return self._run(
            Worker(
                "Suggesting similar photos",
                tasks.suggest_similar,
                self.ctx.data_dir,
                iid,
                self.ctx.settings.clip_model,
            )
        )

    def run_caption(self) -> Worker | None:
        iid = self.current_id()
        if iid is None:
            return None
        return self._run(
            Worker(
                "Captioning photos", tasks.caption_photos, self.ctx.data_dir, iid, asdict(self.ctx.settings)
            )
        )

    def queue_caption(self) -> Any:
        """A caption job of the identity in the one queue (the engine's ``caption`` kind)."""
        iid = self.current_id()
        if iid is None:
            return None
        try:
            job = tasks.queue_captions(self.ctx.library, iid, asdict(self.ctx.settings))
        except Exception as exc:  # noqa: BLE001 - a bad input: said in one line, nothing queued
            self.task_note.setText(user_message(exc))
            self._error(exc)
            return None
        self.task_note.setText(f"{job_title(job)}: queued (Training queue tab; it runs with the queue).")
        self.ctx.libraryChanged.emit()
        return job

    def _error(self, exc: BaseException) -> None:
        QMessageBox.warning(self, "Identities", user_message(exc))

    def shutdown(self) -> None:
        self.loader.close()
