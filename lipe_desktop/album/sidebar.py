"""Left pane: "All photos", the library's folders, identities as albums, and edited versions."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QTreeWidget, QTreeWidgetItem

SourceRole = Qt.ItemDataRole.UserRole + 10

ALL = ("all", None)
EDITS = ("edits", None)


class Sidebar(QTreeWidget):
    """Emits ``sourceChanged((kind, id))`` with kind in all | folder | identity | edits."""

    sourceChanged = Signal(object)

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self.setHeaderHidden(True)
        self.setColumnCount(2)
        self.setRootIsDecorated(True)
        self.setUniformRowHeights(True)
        self.setMinimumWidth(200)
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

    def populate(
        self,
        folders: list[tuple[int, str, int]],
        identities: list[tuple[int, str, int]],
        total: int,
        edits: int,
    ) -> None:
        """``folders``/``identities``: (id, label, photo count); keeps the current selection."""
        current = self.current_source()
        self.blockSignals(True)
        self._all.setText(1, str(total))
        self._edits.setText(1, str(edits))
        for parent, rows, kind in (
            (self._folders, folders, "folder"),
            (self._identities, identities, "identity"),
        ):
            parent.takeChildren()
            for id_, label, count in rows:
                child = QTreeWidgetItem([label, str(count)])
                child.setData(0, SourceRole, (kind, id_))
                child.setToolTip(0, label)
                parent.addChild(child)
            parent.setExpanded(True)
        self.resizeColumnToContents(1)
        self.blockSignals(False)
        self.select_source(current or ALL)

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
        for parent in (self._folders, self._identities):
            out += [c for i in range(parent.childCount()) if (c := parent.child(i)) is not None]
        return out

    def _on_current(self, current: QTreeWidgetItem | None, _prev: QTreeWidgetItem | None) -> None:
        if current is not None and current.data(0, SourceRole) is not None:
            self.sourceChanged.emit(tuple(current.data(0, SourceRole)))
