"""Suggestion chips: a grid of small buttons, one per suggested phrase, refilled as suggestions change."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from PySide6.QtWidgets import QGridLayout, QPushButton, QWidget


def fill_chips(grid: QGridLayout, parent: QWidget, texts: Sequence[str], columns: int,
               tooltip: Callable[[str], str], on_click: Callable[[str], object]) -> None:
    """Replace the grid's buttons with one per text; a click calls ``on_click(text)``."""
    while grid.count():
        item = grid.takeAt(0)
        old = item.widget() if item is not None else None
        if old is not None:
            old.hide()  # deleted on the next event-loop turn; never left showing meanwhile
            old.setParent(None)
            old.deleteLater()
    for i, text in enumerate(texts):
        b = QPushButton(text, parent)
        b.setToolTip(tooltip(text))
        b.clicked.connect(lambda _c=False, t=text: on_click(t))
        grid.addWidget(b, i // columns, i % columns)
