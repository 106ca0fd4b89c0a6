"""When the library cannot be opened at start: the reason, and what the user can do about it.

A refused library (its file deleted where a library lived, damaged, newer than this app, a folder
that cannot be written) used to end the app with an error box. The user is now offered a way on:
start a new library in that folder (only where the file is missing: the old backups, thumbnails and
edits stay, so `lipe library restore` still works), open or start a library in another folder, or quit.
"""

from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtWidgets import QFileDialog, QMessageBox, QWidget

from lipe_engine.errors import LipeError
from lipe_engine.library import MissingLibraryError

from .context import AppContext

log = logging.getLogger(__name__)

NEW_HERE = "Start a new library here"
OTHER_FOLDER = "Use another folder…"
QUIT = "Quit"


def refusal_box(exc: LipeError, parent: QWidget | None = None) -> QMessageBox:
    """The question shown for a refused library: its one-line reason and the ways on."""
    box = QMessageBox(QMessageBox.Icon.Critical, "LIPE Desktop", "The photo library cannot be opened.", parent=parent)
    box.setInformativeText(str(exc))
    box.setObjectName("libraryRefused")
    if isinstance(exc, MissingLibraryError):
        new = box.addButton(NEW_HERE, QMessageBox.ButtonRole.AcceptRole)
        new.setToolTip("An empty library in the same folder; the old backups and thumbnails stay, so the old "
                       "library can still be restored later (`lipe library restore`)")
    box.addButton(OTHER_FOLDER, QMessageBox.ButtonRole.ActionRole)
    box.setDefaultButton(box.addButton(QUIT, QMessageBox.ButtonRole.RejectRole))
    return box


def open_or_ask(data_dir: str | Path | None, parent: QWidget | None = None) -> AppContext | None:
    """The library in ``data_dir`` (None: the default folder); when it is refused, ask what to do
    until a library opens or the user quits (None)."""
    try:
        return AppContext.open(data_dir)
    except LipeError as exc:
        error: LipeError = exc
    while True:
        log.warning("library refused: %s", error)
        box = refusal_box(error, parent)
        box.exec()
        clicked = box.clickedButton()
        choice = clicked.text() if clicked is not None else QUIT
        try:
            if choice == NEW_HERE:
                log.info("starting a new library in %s (the missing one's traces stay)", data_dir or "the default folder")
                return AppContext.open(data_dir, new=True)
            if choice == OTHER_FOLDER:
                folder = QFileDialog.getExistingDirectory(parent, "Open or start a library in this folder")
                if folder:
                    data_dir = folder
                    return AppContext.open(folder)
                continue
            return None
        except LipeError as exc:
            error = exc
