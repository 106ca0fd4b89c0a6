"""The album page: sidebar (folders, identities, edits) | search + thumbnail grid / viewer."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMenu,
    QMessageBox,
    QPushButton,
    QSlider,
    QSplitter,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from lipe_engine.library.removals import remove_photos, what_goes_with

from ..context import AppContext
from ..review.versions import grouped_versions
from .grid import PhotoDelegate, PhotoGrid, PhotoListModel
from .sidebar import ALL, Sidebar
from .thumbnails import ThumbnailLoader
from .viewer import PhotoViewer

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class EditedVersion:
    """An edit shown in the grid like a photo (``id`` is negative so it never clashes)."""

    id: int
    path: Path
    edit_id: int
    photo_id: int
    width: int = 0
    height: int = 0
    taken_at: str | None = None


@dataclass(frozen=True)
class LooseFile:
    """A photo opened from outside the library (``lipe-desktop FILE``): shown, not recorded."""

    id: int
    path: Path
    taken_at: str | None = None


def thumbnail_path(library: Any, item: Any) -> Path:
    """Runs on a loader thread: library photos go through the engine's thumbnail cache."""
    if getattr(item, "content_hash", None):
        return Path(library.thumbnails.get(item))
    return Path(item.path)


def subfolder_counts(roots: list[Any], photos: list[Any]) -> dict[int, list[tuple[str, str, int]]]:
    """Per library folder: (relative path, absolute path, photos in it and below) of each folder
    inside it that holds photos, for the sidebar's tree (nothing when all photos sit at the root)."""
    per_dir: dict[tuple[int, str], int] = {}
    for p in photos:  # string work only: 10,000 photos live in a handful of folders
        key = (p.folder_id, os.path.dirname(str(p.path)))
        per_dir[key] = per_dir.get(key, 0) + 1
    root_of = {f.id: Path(f.path) for f in roots}
    counts: dict[tuple[int, str], int] = {}
    for (fid, folder), n in per_dir.items():
        root = root_of.get(fid)
        if root is None:
            continue
        try:
            parts = Path(folder).relative_to(root).parts
        except ValueError:
            continue
        for k in range(1, len(parts) + 1):
            key = (fid, "/".join(parts[:k]))
            counts[key] = counts.get(key, 0) + n
    out: dict[int, list[tuple[str, str, int]]] = {}
    for (fid, rel), n in counts.items():
        out.setdefault(fid, []).append((rel, str(root_of[fid].joinpath(*rel.split("/"))), n))
    return out


class AlbumPage(QWidget):
    contextRequested = Signal(list, object)  # photos, global pos
    countChanged = Signal(str)
    addFolderRequested = Signal()
    tryToyRequested = Signal()
    rescanRequested = Signal(int)  # folder id

    def __init__(self, ctx: AppContext, parent: Any = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        size = ctx.settings.thumb_size
        self.loader = ThumbnailLoader(lambda item: thumbnail_path(ctx.library, item), size, parent=self)
        self.model = PhotoListModel(self.loader, self)
        self.grid = PhotoGrid(self.model, size, self)
        self.viewer = PhotoViewer(self)
        self.sidebar = Sidebar(self)
        self.search = QLineEdit(self)
        self.search.setPlaceholderText("Search file names, folders, dates (2024-06)…")
        self.search.setClearButtonEnabled(True)
        self.zoom = QSlider(Qt.Orientation.Horizontal, self)
        self.zoom.setRange(96, 256)
        self.zoom.setValue(size)
        self.zoom.setFixedWidth(140)
        self.zoom.setToolTip("Thumbnail size")
        self.count = QLabel(self)
        self._filter_timer = QTimer(self, singleShot=True, interval=150)
        self._filter_timer.timeout.connect(lambda: self.model.set_filter(self.search.text()))
        self.search.textChanged.connect(lambda _t: self._filter_timer.start())
        self.model.modelReset.connect(self._update_count)
        self.zoom.valueChanged.connect(self._set_tile)

        top = QHBoxLayout()
        top.addWidget(self.search, 1)
        top.addWidget(QLabel("Size", self))
        top.addWidget(self.zoom)
        top.addWidget(self.count)
        grid_page = QWidget(self)
        gl = QVBoxLayout(grid_page)
        gl.setContentsMargins(0, 0, 0, 0)
        gl.addLayout(top)
        # an empty library says how to start, instead of an empty grid
        self.empty_hint = QWidget(grid_page)
        hint = QVBoxLayout(self.empty_hint)
        hint_text = QLabel(
            "<h3>No photos yet</h3>Add a folder of your photos (File ▸ Add folder…, Ctrl+O): they are only "
            "read, never changed. Or try the method first on a ready-made album of toy photos.",
            self.empty_hint,
        )
        hint_text.setWordWrap(True)
        hint.addWidget(hint_text)
        hint_row = QHBoxLayout()
        self.add_folder_btn = QPushButton("Add a folder…", self.empty_hint)
        self.try_toy_btn = QPushButton("Try it on toy photos", self.empty_hint)
        hint_row.addWidget(self.add_folder_btn)
        hint_row.addWidget(self.try_toy_btn)
        hint_row.addStretch(1)
        hint.addLayout(hint_row)
        hint.addStretch(1)
        self.add_folder_btn.clicked.connect(lambda: self.addFolderRequested.emit())
        self.try_toy_btn.clicked.connect(lambda: self.tryToyRequested.emit())
        self.empty_hint.setVisible(False)
        gl.addWidget(self.empty_hint)
        gl.addWidget(self.grid, 1)
        self.stack = QStackedWidget(self)
        self.stack.addWidget(grid_page)
        self.stack.addWidget(self.viewer)
        split = QSplitter(self)
        split.addWidget(self.sidebar)
        split.addWidget(self.stack)
        split.setStretchFactor(1, 1)
        split.setSizes([220, 900])
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(split)

        self.sidebar.sourceChanged.connect(self.show_source)
        self.grid.activatedPhoto.connect(self.open_viewer)
        self.grid.contextRequested.connect(self.contextRequested.emit)
        self.viewer.closed.connect(lambda: self.stack.setCurrentIndex(0))
        self.source: tuple[str, int | None] = ALL
        self._photos: list[Any] = []
        # Delete works while the album has the focus (not in the other tabs' lists and text fields)
        self.remove_action = QAction("Remove from library…", self)
        self.remove_action.setShortcut(QKeySequence(QKeySequence.StandardKey.Delete))
        self.remove_action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        self.remove_action.triggered.connect(lambda: self.remove_photos(self.selected_photos()))
        self.addAction(self.remove_action)
        # a question to the user: (title, text) -> yes; tests answer it themselves
        self.confirm = lambda title, text: (
            QMessageBox.question(self, title, text) == QMessageBox.StandardButton.Yes
        )
        self.inform = lambda title, text: QMessageBox.information(self, title, text)
        self.sidebar.folderMenuRequested.connect(lambda fid, pos: self.folder_menu(fid).exec(pos))

    # --- contents ---------------------------------------------------------------------------------

    def reload(self) -> None:
        """Re-read the sidebar lists and the current source from the library."""
        lib = self.ctx.library
        roots = lib.list_folders()
        # a folder that is gone (deleted, renamed, a drive not connected): its photos are hidden and
        # the folder says so, with "Remove folder from library" on its right-click menu
        gone = {f.id for f in roots if f.missing or not Path(f.path).is_dir()}
        self._photos = [p for p in lib.list_photos() if p.folder_id not in gone]  # once per reload
        folders = [self._folder_row(f, f.id in gone) for f in roots]
        subfolders = subfolder_counts(roots, self._photos)
        idents = [
            (i.id, i.name if i.class_word in i.name else f"{i.name} ({i.class_word})",
             len(lib.identity_photos(i.id, status=None)))
            for i in lib.list_identities()
        ]
        self.sidebar.populate(folders, idents, lib.count_photos(), len(lib.list_edits()), subfolders)
        self.show_source(self.sidebar.current_source() or ALL)

    def _folder_row(self, f: Any, gone: bool) -> tuple[Any, ...]:
        lib = self.ctx.library
        name = Path(f.path).name or str(f.path)
        issues = lib.scan_issues(f.id)
        if gone:
            return (f.id, f"{name} (folder not found)", 0,
                    f"{f.path} is gone (deleted, renamed or on a drive not connected): its photos are hidden. "
                    "Right-click: Remove folder from library.")
        skipped = f"; {len(issues)} file(s) skipped: right-click to see why" if issues else ""
        return (f.id, name + (f" ({len(issues)} skipped)" if issues else ""), lib.count_photos(f.id),
                f"{f.path}{skipped}")

    def folder_menu(self, folder_id: int) -> QMenu:
        """The right-click menu of a library folder: why files were skipped, rescan, remove."""
        menu = QMenu(self)
        issues = self.ctx.library.scan_issues(folder_id)
        show = menu.addAction(f"Show skipped files ({len(issues)})…", lambda: self.show_skipped(folder_id))
        show.setEnabled(bool(issues))
        menu.addAction("Rescan folder", lambda: self.rescanRequested.emit(folder_id))
        menu.addSeparator()
        menu.addAction("Remove folder from library…", lambda: self.remove_folder(folder_id))
        return menu

    def show_skipped(self, folder_id: int) -> str:
        issues = self.ctx.library.scan_issues(folder_id)
        lines = [f"{Path(path).name}: {reason}" for path, reason in issues[:40]]
        more = f"\n… and {len(issues) - 40} more" if len(issues) > 40 else ""
        text = ("These files were not added (the files themselves are left as they are):\n\n"
                + "\n".join(lines) + more) if issues else "No file of this folder was skipped."
        self.inform("Skipped files", text)
        return text

    def remove_folder(self, folder_id: int) -> bool:
        """Forget a folder and its photos' records after asking; the files on disk stay."""
        lib = self.ctx.library
        folder = lib.get_folder(folder_id)
        n = lib.count_photos(folder_id)
        if not self.confirm("Remove folder", f"Remove “{folder.path}” and its {n} photo(s) from the library? "
                            "Captions, identity links and edit records of those photos go too; the files on "
                            "disk stay untouched."):
            return False
        lib.remove_folder(folder_id)
        self.ctx.libraryChanged.emit()
        return True

    def show_source(self, source: tuple[str, int | None]) -> None:
        lib = self.ctx.library
        kind, id_ = source
        self.source = (kind, id_)
        badges: dict[int, str] = {}
        items: list[Any]
        if kind == "folder" and id_ is not None:
            items = [p for p in self._photos if p.folder_id == id_]
        elif kind == "dir" and id_ is not None:
            prefix = os.path.join(str(id_), "")
            items = [p for p in self._photos if str(p.path).startswith(prefix)]
        elif kind == "identity" and id_ is not None:
            links = lib.identity_photos(id_, status=None)
            items = [link.photo for link in links if link.status != "rejected"]
            for link in links:
                tag = "ref" if link.role == "reference" else "target"
                badges[link.photo.id] = tag if link.status == "confirmed" else f"{tag}?"
        elif kind == "edits":  # versions grouped under their original

            items, badges = grouped_versions(lib, EditedVersion)
        else:
            items = self._photos
        self.model.set_photos(items, badges)
        self.remove_action.setText("Remove from identity…" if kind == "identity" else "Remove from library…")
        self.stack.setCurrentIndex(0)

    def selected_photos(self) -> list[Any]:
        return self.grid.selected_photos()

    def open_viewer(self, photo: Any) -> None:
        photos = self.model.photos()
        idx = next((i for i, p in enumerate(photos) if p.id == photo.id), 0)
        self.viewer.show_photos(photos, idx)
        self.stack.setCurrentIndex(1)

    def show_in_viewer(self, photos: list[Any]) -> None:
        """Show these photos (library records or ``LooseFile``s) in the viewer, the first one open."""
        if photos:
            self.viewer.show_photos(list(photos), 0)
            self.stack.setCurrentIndex(1)

    def focus_search(self) -> None:
        self.stack.setCurrentIndex(0)
        self.search.setFocus(Qt.FocusReason.ShortcutFocusReason)
        self.search.selectAll()

    # --- removing ---------------------------------------------------------------------------------

    def removal_text(self, photos: list[Any]) -> str:
        """What Delete does here, for the menu and the question (the files on disk always stay)."""
        n = len(photos)
        what = f"{n} photo{'s' if n != 1 else ''}"
        kind, id_ = self.source
        if kind == "identity" and id_ is not None:
            name = self.ctx.library.get_identity(int(id_)).name
            return f"Remove {what} from the identity “{name}”? They stay in the library and on disk."
        counts = what_goes_with(self.ctx.library, photos)
        going = ", ".join(f"{count} {label}" for label, count in counts.items() if count)
        also = f" Their records go too ({going})." if going else ""
        return (
            f"Remove {what} from the library? The files stay on disk, untouched, and a rescan does not "
            f"add them back.{also}"
        )

    def remove_photos(self, photos: list[Any]) -> int:
        """Delete: after asking, take the photos out of the identity shown, else out of the library.

        Only records change: originals on disk are never deleted or written."""
        photos = [p for p in photos if getattr(p, "content_hash", None)]  # library photos only
        if not photos:
            return 0
        if not self.confirm("LIPE Desktop", self.removal_text(photos)):
            return 0
        kind, id_ = self.source
        lib = self.ctx.library
        if kind == "identity" and id_ is not None:
            n = lib.remove_identity_photos(int(id_), photos)
        else:
            n = remove_photos(lib, photos)
        self.ctx.libraryChanged.emit()
        return n

    def _set_tile(self, size: int) -> None:
        self.loader.set_size(size)
        delegate = self.grid.itemDelegate()
        if isinstance(delegate, PhotoDelegate):
            delegate.tile = size
        self.ctx.settings.thumb_size = size
        self.grid.doItemsLayout()

    def _update_count(self) -> None:
        shown, total = self.model.rowCount(), self.model.total()
        empty = not self._photos and self.source == ALL
        self.empty_hint.setVisible(empty)
        self.grid.setVisible(not empty)
        text = f"{shown} photos" if shown == total else f"{shown} of {total} photos"
        self.count.setText(text)
        self.countChanged.emit(text)

    def shutdown(self) -> None:
        self.loader.close()
