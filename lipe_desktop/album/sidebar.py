"""Left pane: "All photos", the library's folders, identities as albums, and edited versions.

Photos dragged from the grid (or files from a file manager) can be dropped on an identity here.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTreeWidget, QTreeWidgetItem

from .grid import IdentityDropTarget

SourceRole = Qt.ItemDataRole.UserRole + 10

ALL = ("all", None)
EDITS = ("edits", None)


class Sidebar(IdentityDropTarget, QTreeWidget):
    """Emits ``sourceChanged((kind, id))`` with kind in all | folder | dir (id: a path) | identity | edits."""

    sourceChanged = Signal(object)
    photosDropped = Signal(int, list)  # identity id, photo ids or file paths
    folderMenuRequested = Signal(int, object)  # library folder id, global position (right click)

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self.setHeaderHidden(True)
        self.setColumnCount(2)
        # names take the width, counts hug the right edge
        self.header().setStretchLastSection(False)
        self.header().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.header().setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        self.setRootIsDecorated(True)
        self.setUniformRowHeights(True)
        self.setMinimumWidth(200)
        self.setAcceptDrops(True)
        self.setDragDropMode(QAbstractItemView.DragDropMode.DropOnly)
        self._folders = QTreeWidgetItem(["Folders", ""])
        self._identities = QTreeWidgetItem(["Identities", ""])
        self._all = QTreeWidgetItem(["All photos", ""])
        self._all.setData(0, SourceRole, ALL)
        self._edits = QTreeWidgetItem(["Edited versions", ""])
        self._edits.setData(0, SourceRole, EDITS)
        for it in (self._all, self._folders, self._identities, self._edits):
            self.addTopLevelItem(it)
        for it in (self._folders, self._identities):
            it.setFlags(it.flags() & ~Qt.ItemFlag.ItemIsSelectable)
        self.currentItemChanged.connect(self._on_current)
        self.resizeColumnToContents(1)
        self.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.customContextMenuRequested.connect(self._on_menu)

    def populate(
        self,
        folders: list[tuple[Any, ...]],
        identities: list[tuple[Any, ...]],
        total: int,
        edits: int,
        subfolders: dict[Any, list[tuple[str, str, int]]] | None = None,
    ) -> None:
        """``folders``/``identities``: (id, label, photo count[, tooltip]); ``subfolders``: folder id ->
        (path relative to it, absolute path, photo count) of the folders inside that hold photos,
        shown as a tree under it. Keeps the current selection."""
        current = self.current_source()
        self.blockSignals(True)
        self._all.setText(1, str(total))
        self._edits.setText(1, str(edits))
        for parent, rows, kind in (
            (self._folders, folders, "folder"),
            (self._identities, identities, "identity"),
        ):
            parent.takeChildren()
            for id_, label, count, *tip in rows:
                child = QTreeWidgetItem([label, str(count)])
                child.setData(0, SourceRole, (kind, id_))
                child.setToolTip(0, tip[0] if tip else label)
                parent.addChild(child)
                if kind == "folder":
                    self._add_subfolders(child, (subfolders or {}).get(id_, []))
            parent.setExpanded(True)
        self.resizeColumnToContents(1)
        self.select_source(current or ALL)
        self.blockSignals(False)  # after selecting: the caller shows the source once (10,000 photos)

    @staticmethod
    def _add_subfolders(root: QTreeWidgetItem, rows: list[tuple[str, str, int]]) -> None:
        items: dict[str, QTreeWidgetItem] = {}
        for rel, path, count in sorted(rows):  # parents sort before their children
            parent = items.get(rel.rpartition("/")[0], root)
            item = QTreeWidgetItem([rel.rpartition("/")[2], str(count)])
            item.setData(0, SourceRole, ("dir", path))
            item.setToolTip(0, path)
            parent.addChild(item)
            items[rel] = item

    def current_source(self) -> tuple[str, int | None] | None:
        it = self.currentItem()
        return it.data(0, SourceRole) if it is not None else None

    def select_source(self, source: tuple[str, int | None]) -> None:
        for it in self._items():
            if it.data(0, SourceRole) == tuple(source):
                self.setCurrentItem(it)
                return
        self.setCurrentItem(self._all)

    def _items(self) -> list[QTreeWidgetItem]:
        out = [self._all, self._edits]
        todo = [self._folders, self._identities]
        while todo:  # every level of the folder tree
            parent = todo.pop()
            kids = [c for i in range(parent.childCount()) if (c := parent.child(i)) is not None]
            out += kids
            todo += kids
        return out

    def _on_current(self, current: QTreeWidgetItem | None, _prev: QTreeWidgetItem | None) -> None:
        if current is not None and current.data(0, SourceRole) is not None:
            self.sourceChanged.emit(tuple(current.data(0, SourceRole)))

    def _on_menu(self, pos: Any) -> None:
        it = self.itemAt(pos)
        src = it.data(0, SourceRole) if it is not None else None
        if src and src[0] == "folder":
            self.folderMenuRequested.emit(int(src[1]), self.viewport().mapToGlobal(pos))

    def folder_item(self, folder_id: int) -> QTreeWidgetItem | None:
        return next((it for it in self._items() if it.data(0, SourceRole) == ("folder", folder_id)), None)

    # --- drops on identities ----------------------------------------------------------------------

    def identity_at(self, pos: Any) -> int | None:
        it = self.itemAt(pos)
        src = it.data(0, SourceRole) if it is not None else None
        return int(src[1]) if src and src[0] == "identity" else None
