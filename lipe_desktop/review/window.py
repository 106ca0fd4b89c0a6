"""The morning review: each edited photo's results (changes x seeds) beside the original; keep,
discard or redo them in bulk. Kept results become versions of their photo (with their recipes),
discarded ones' files are deleted, "Redo" queues the photo's edit again with new seeds.

Ticks are remembered across photos, so "Keep ticked" acts on every photo at once; "Tick all of
this photo" and "Untick all" make bulk choices quick.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QIcon, QImage, QPixmap
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMessageBox,
    QPushButton,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from lipe_engine.jobs import enqueue_edit

from ..album.viewer import _Loaded, read_image_async
from ..logs import user_message

THUMB = 192
REDO_SEED_OFFSET = 1000  # redone results use seeds after the first ones, so they differ


def _icon(img: QImage) -> QIcon:
    if img.isNull():
        return QIcon()
    pm = QPixmap.fromImage(img.scaled(THUMB, THUMB, Qt.AspectRatioMode.KeepAspectRatio,
                                      Qt.TransformationMode.SmoothTransformation))
    icon = QIcon(pm)
    icon.addPixmap(pm, QIcon.Mode.Selected)  # no blue tint on the chosen one: its colours matter
    return icon


class _Images:
    """Pictures read off the GUI thread (``album.viewer.read_image_async``), shown when they arrive:
    ``want(path, show)`` calls ``show(icon)`` later; ``forget()`` drops what is still on its way."""

    def __init__(self, parent: QWidget) -> None:
        self.sig = _Loaded(parent)
        self.sig.done.connect(self._arrived)
        self.waiting: dict[str, list[Any]] = {}

    def want(self, path: Path, show: Any) -> None:
        key = str(path)
        first = key not in self.waiting
        self.waiting.setdefault(key, []).append(show)
        if first:
            read_image_async(path, self.sig)

    def forget(self) -> None:
        self.waiting.clear()

    def _arrived(self, path: str, img: QImage, _error: str) -> None:
        icon = _icon(img)
        for show in self.waiting.pop(path, []):
            show(icon)


class ResultsTable(QTableWidget):
    """A photo's results as a grid: one row per target prompt (its change), one column per seed;
    each cell a checkable picture."""

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self.setIconSize(QSize(THUMB, THUMB))
        self.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.verticalHeader().setDefaultSectionSize(THUMB + 12)
        self.horizontalHeader().setDefaultSectionSize(THUMB + 40)
        self.setToolTip("Tick the results to keep (or discard, or redo)")
        self._items: list[QTableWidgetItem] = []

    def clear_results(self) -> None:
        self.clear()
        self.setRowCount(0)
        self.setColumnCount(0)
        self._items = []

    def set_results(self, results: list[Any], placeholder: QIcon) -> list[QTableWidgetItem]:
        """Lay out ``results`` (targets x seeds, in the order they were made); returns their cells."""
        targets = list(dict.fromkeys(r.target_prompt for r in results))
        # column k: each change's k-th result. A random seed is recorded as None: keyed by seed, two
        # random results of one change fell into one cell and the header read "seed –"
        column: dict[int, int] = {}
        made: dict[str, int] = {}
        for r in results:
            column[r.id] = made.get(r.target_prompt, 0)
            made[r.target_prompt] = column[r.id] + 1
        width = max(made.values(), default=0)
        self.setRowCount(len(targets))
        self.setColumnCount(width)
        changes = {r.target_prompt: r.recipe.get("change") or r.target_prompt for r in results}
        self.setVerticalHeaderLabels([changes[t] for t in targets])
        headers = []
        for k in range(width):
            seeds = {r.seed for r in results if column[r.id] == k}
            headers.append(f"seed {seeds.pop()}" if len(seeds) == 1 and None not in seeds else f"result {k + 1}")
        self.setHorizontalHeaderLabels(headers)
        for r in results:
            item = QTableWidgetItem(placeholder, "")
            item.setToolTip(f"{r.target_prompt} ({f'seed {r.seed}' if r.seed is not None else 'random seed'})")
            item.setData(Qt.ItemDataRole.UserRole, r.id)
            item.setFlags(Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsUserCheckable | Qt.ItemFlag.ItemIsSelectable)
            self.setItem(targets.index(r.target_prompt), column[r.id], item)
            self._items.append(item)
        return list(self._items)

    def result_items(self) -> list[QTableWidgetItem]:
        return list(self._items)

    def count(self) -> int:
        return len(self._items)

    def result_item(self, i: int) -> QTableWidgetItem:
        return self._items[i]


class ReviewWindow(QWidget):
    def __init__(self, ctx: Any, parent: Any = None) -> None:
        super().__init__(parent, Qt.WindowType.Window)
        self.ctx = ctx
        self.setWindowTitle("Review edited photos")
        self.resize(1100, 720)
        self.ticked: set[int] = set()  # result ids, across photos
        self.images = _Images(self)
        self._shown = 0  # counts the photos shown, so late pictures of an earlier one are dropped
        self.photo_list = QListWidget(self)
        self.photo_list.setToolTip("Photos with results waiting for review")
        self.original = QLabel(self)
        self.original.setFixedSize(THUMB + 8, THUMB + 8)
        self.original.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.caption = QLabel(self)
        self.caption.setWordWrap(True)
        self.grid = ResultsTable(self)
        self.grid.setToolTip("Tick the results to keep (or discard, or redo)")
        self.keep_btn = QPushButton("Keep ticked", self)
        self.keep_btn.setToolTip("Ticked results of every photo become versions of their photo")
        self.discard_btn = QPushButton("Discard ticked", self)
        self.redo_btn = QPushButton("Redo ticked", self)
        self.redo_btn.setToolTip("Discard them and queue their photos' edits again with other seeds")
        self.tick_photo_btn = QPushButton("Tick all of this photo", self)
        self.untick_btn = QPushButton("Untick all", self)
        self.status = QLabel("", self)
        self.status.setWordWrap(True)
        self._build()
        self.photo_list.currentRowChanged.connect(self._show_photo)
        self.grid.itemChanged.connect(self._on_tick)
        self.keep_btn.clicked.connect(self.keep_ticked)
        self.discard_btn.clicked.connect(self.discard_ticked)
        self.redo_btn.clicked.connect(self.redo_ticked)
        self.tick_photo_btn.clicked.connect(self.tick_photo)
        self.untick_btn.clicked.connect(self.untick_all)
        ctx.libraryChanged.connect(self.reload)
        self.reload()

    def _build(self) -> None:
        right = QWidget(self)
        lay = QVBoxLayout(right)
        top = QHBoxLayout()
        top.addWidget(self.original)
        top.addWidget(self.caption, 1)
        lay.addLayout(top)
        lay.addWidget(self.grid, 1)
        buttons = QHBoxLayout()
        for b in (self.tick_photo_btn, self.untick_btn):
            buttons.addWidget(b)
        buttons.addStretch(1)
        for b in (self.keep_btn, self.discard_btn, self.redo_btn):
            buttons.addWidget(b)
        lay.addLayout(buttons)
        lay.addWidget(self.status)
        split = QSplitter(self)
        split.addWidget(self.photo_list)
        split.addWidget(right)
        split.setStretchFactor(1, 1)
        split.setSizes([260, 840])
        outer = QVBoxLayout(self)
        outer.addWidget(split)

    # --- lists ------------------------------------------------------------------------------------

    def pending_by_photo(self) -> dict[int, list[Any]]:
        out: dict[int, list[Any]] = {}
        for r in self.ctx.library.list_edit_results(status="pending"):
            out.setdefault(r.photo_id, []).append(r)
        return out

    def reload(self) -> None:
        current = self.photo_list.currentItem()
        keep = current.data(Qt.ItemDataRole.UserRole) if current is not None else None
        groups = self.pending_by_photo()
        self.ticked &= {r.id for rs in groups.values() for r in rs}
        self.photo_list.blockSignals(True)
        self.images.forget()  # pictures of items about to go are dropped when they arrive
        self.photo_list.clear()
        for photo_id, results in groups.items():
            photo = self.ctx.library.get_photo(photo_id)
            item = QListWidgetItem(self.placeholder(64), f"{photo.path.name}\n{len(results)} result(s)")
            item.setData(Qt.ItemDataRole.UserRole, photo_id)
            self.photo_list.addItem(item)
            self.images.want(photo.path, item.setIcon)
        self.photo_list.setIconSize(QSize(64, 64))
        self.photo_list.blockSignals(False)
        rows = [self.photo_list.item(i).data(Qt.ItemDataRole.UserRole) for i in range(self.photo_list.count())]
        self.photo_list.setCurrentRow(rows.index(keep) if keep in rows else (0 if rows else -1))
        if not rows:
            self._show_photo(-1)
        self._update_buttons()

    def current_photo_id(self) -> int | None:
        item = self.photo_list.currentItem()
        return item.data(Qt.ItemDataRole.UserRole) if item is not None else None

    def _show_photo(self, _row: int) -> None:
        self.grid.blockSignals(True)
        self.grid.clear_results()
        photo_id = self.current_photo_id()
        self._shown += 1
        shown = self._shown  # a picture arriving after another photo was chosen is not shown
        if photo_id is None:
            self.original.clear()
            self.caption.setText("Nothing to review: queued edits put their results here.")
            self.grid.blockSignals(False)
            return
        photo = self.ctx.library.get_photo(photo_id)
        self.original.clear()
        self.images.want(photo.path, lambda icon, n=shown: self._show_original(n, icon))
        results = self.pending_by_photo().get(photo_id, [])
        source = results[0].source_prompt if results else ""
        self.caption.setText(f"<b>{photo.path.name}</b> (the original, untouched)<br>source: {source}")
        for item, r in zip(self.grid.set_results(results, self.placeholder(THUMB)), results, strict=True):
            item.setCheckState(Qt.CheckState.Checked if r.id in self.ticked else Qt.CheckState.Unchecked)
            self.images.want(r.path, lambda icon, it=item, n=shown: self._show_result(n, it, icon))
        self.grid.blockSignals(False)

    @staticmethod
    def placeholder(size: int) -> QIcon:
        """An empty picture of the final size, so the list lays the items out once."""
        pm = QPixmap(size, size)
        pm.fill(Qt.GlobalColor.transparent)
        return QIcon(pm)

    def _show_original(self, shown: int, icon: QIcon) -> None:
        if shown == self._shown:
            self.original.setPixmap(icon.pixmap(THUMB, THUMB))

    def _show_result(self, shown: int, item: QTableWidgetItem, icon: QIcon) -> None:
        if shown == self._shown:  # else the grid was cleared: the item is gone
            self.grid.blockSignals(True)  # an icon is not a tick
            item.setIcon(icon)
            self.grid.blockSignals(False)

    def _on_tick(self, item: QTableWidgetItem) -> None:
        rid = item.data(Qt.ItemDataRole.UserRole)
        if item.checkState() == Qt.CheckState.Checked:
            self.ticked.add(rid)
        else:
            self.ticked.discard(rid)
        self._update_buttons()

    def _update_buttons(self) -> None:
        n = len(self.ticked)
        for b, word in ((self.keep_btn, "Keep"), (self.discard_btn, "Discard"), (self.redo_btn, "Redo")):
            b.setEnabled(n > 0)
            b.setText(f"{word} ticked ({n})" if n else f"{word} ticked")
        self.tick_photo_btn.setEnabled(self.grid.count() > 0)

    def tick_photo(self) -> None:
        for item in self.grid.result_items():
            item.setCheckState(Qt.CheckState.Checked)

    def untick_all(self) -> None:
        self.ticked.clear()
        self._show_photo(self.photo_list.currentRow())
        self._update_buttons()

    # --- actions ----------------------------------------------------------------------------------

    def _apply(self, what: str, fn: Any) -> int:
        done = 0
        try:
            for rid in sorted(self.ticked):
                fn(rid)
                done += 1
        except Exception as exc:  # noqa: BLE001 - said in the window; what was done stays done
            QMessageBox.warning(self, "Review", user_message(exc))
        self.ticked.clear()
        self.status.setText(f"{done} result(s) {what}.")
        self.ctx.libraryChanged.emit()  # the album shows new versions; this window reloads
        return done

    def keep_ticked(self) -> int:
        return self._apply("kept as versions (Album > Edited versions)", self.ctx.library.keep_edit_result)

    def discard_ticked(self) -> int:
        return self._apply("discarded", self.ctx.library.discard_edit_result)

    def redo_ticked(self) -> Any:
        """Queue each ticked result's photo again toward the same target prompts, with new seeds."""
        lib = self.ctx.library
        picked = [lib.get_edit_result(rid) for rid in sorted(self.ticked)]
        jobs = []
        try:
            for photo_id in dict.fromkeys(r.photo_id for r in picked):
                mine = [r for r in picked if r.photo_id == photo_id]
                targets = list(dict.fromkeys(r.target_prompt for r in mine))
                seeds = [REDO_SEED_OFFSET + i + (mine[0].id % 1000) for i in range(len(mine) // len(targets) or 1)]
                identity = mine[0].identity_id
                if identity is None:
                    raise ValueError(f"the identity of {Path(lib.get_photo(photo_id).path).name}'s edit was deleted")
                jobs.append(enqueue_edit(lib, identity, [], [photo_id], exact_targets=targets,
                                         params={"seeds": seeds}, runner="desktop"))
        except Exception as exc:  # noqa: BLE001
            QMessageBox.warning(self, "Redo", user_message(exc))
            return None
        self._apply("discarded and queued again", lib.discard_edit_result)
        self.status.setText(f"{len(picked)} result(s) queued again in {len(jobs)} job(s): run the queue.")
        return jobs


def open_review(window: Any) -> ReviewWindow:
    existing = getattr(window, "review_window", None)
    if existing is not None and existing.isVisible():
        existing.raise_()
        existing.activateWindow()
        return existing
    win = ReviewWindow(window.ctx, window)
    window.review_window = win
    win.show()
    return win
