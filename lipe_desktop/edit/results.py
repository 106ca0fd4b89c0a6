"""The edit window's batch widgets: the queue of target prompts, and the grid of results (one per
target prompt x seed, all from one inversion) with a check box each to pick those to save."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QIcon, QImage, QPixmap
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QLineEdit,
    QListView,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

THUMB = 128


class TargetPrompts(QWidget):
    """A line for the target prompt and a list of queued ones; ``prompts()`` is what one edit runs."""

    changed = Signal()

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self.line = QLineEdit(self)
        self.line.setPlaceholderText("The source prompt with the new pose (or pick one above)")
        self.add_btn = QPushButton("Queue", self)
        self.add_btn.setToolTip("Keep this target prompt for the batch and write another")
        self.queue = QListWidget(self)
        self.queue.setToolTip("Target prompts of the next edit (double-click to change one)")
        self.queue.setMaximumHeight(96)
        self.remove_btn = QPushButton("Remove", self)
        self.remove_btn.setToolTip("Take the selected prompt out of the batch")
        row = QHBoxLayout()
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.line, 1)
        row.addWidget(self.add_btn)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addLayout(row)
        lay.addWidget(self.queue)
        lay.addWidget(self.remove_btn, 0, Qt.AlignmentFlag.AlignRight)
        self.add_btn.clicked.connect(self.queue_line)
        self.line.returnPressed.connect(self.queue_line)
        self.remove_btn.clicked.connect(self.remove_selected)
        self.line.textChanged.connect(lambda _t: self.changed.emit())
        self._sync()

    def queued(self) -> list[str]:
        return [self.queue.item(i).text() for i in range(self.queue.count())]

    def queue_line(self) -> bool:
        text = " ".join(self.line.text().split())
        if not text or text in self.queued():
            return False
        item = QListWidgetItem(text)
        item.setFlags(item.flags() | Qt.ItemFlag.ItemIsEditable)
        self.queue.addItem(item)
        self.line.clear()
        self._sync()
        return True

    def remove_selected(self) -> None:
        for item in self.queue.selectedItems():
            self.queue.takeItem(self.queue.row(item))
        self._sync()

    def prompts(self) -> list[str]:
        """The queued prompts, then the line's when it is not queued already (no empty ones)."""
        out = [" ".join(p.split()) for p in self.queued() if p.strip()]
        line = " ".join(self.line.text().split())
        if line and line not in out:
            out.append(line)
        return out

    def _sync(self) -> None:
        self.queue.setVisible(self.queue.count() > 0)
        self.remove_btn.setVisible(self.queue.count() > 0)
        self.changed.emit()


class ResultsGrid(QListWidget):
    """Thumbnails of a batch's results; the current one is shown large, checked ones are saved."""

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self.setViewMode(QListView.ViewMode.IconMode)
        self.setFlow(QListView.Flow.LeftToRight)
        self.setWrapping(True)
        self.setResizeMode(QListView.ResizeMode.Adjust)
        self.setMovement(QListView.Movement.Static)
        self.setIconSize(QSize(THUMB, THUMB))
        self.setGridSize(QSize(THUMB + 56, THUMB + 40))
        self.setWordWrap(True)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setToolTip("Results of the batch: click one to compare it with the photo, tick those to save")
        self.setMinimumHeight(THUMB + 52)

    def set_results(self, images: list[QImage], labels: list[str]) -> None:
        self.clear()
        for img, label in zip(images, labels, strict=False):
            thumb = img.scaled(THUMB, THUMB, Qt.AspectRatioMode.KeepAspectRatio,
                               Qt.TransformationMode.SmoothTransformation)
            pm = QPixmap.fromImage(thumb)
            icon = QIcon(pm)
            icon.addPixmap(pm, QIcon.Mode.Selected)  # no blue tint on the chosen one: its colours matter
            item = QListWidgetItem(icon, label)
            item.setToolTip(label + ("\nseed –: the photo's own inverted noise, nothing new mixed in"
                                     if label.endswith("–") else ""))
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(Qt.CheckState.Unchecked)
            self.addItem(item)
        if self.count():
            self.setCurrentRow(0)

    def checked(self) -> list[int]:
        return [i for i in range(self.count()) if self.item(i).checkState() == Qt.CheckState.Checked]

    def set_checked(self, index: int, on: bool = True) -> None:
        self.item(index).setCheckState(Qt.CheckState.Checked if on else Qt.CheckState.Unchecked)
