"""The installation check at start: the engine's ``lipe doctor`` checks, run off the GUI thread; every
finding goes to the log, problems to a status-bar label whose click lists them with their fixes."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QLabel, QMessageBox, QWidget

from lipe_engine import doctor
from lipe_engine.library import Library

from .workers import Worker

log = logging.getLogger(__name__)
_LOG_LEVEL = {"ok": logging.INFO, "info": logging.INFO, "warning": logging.WARNING, "error": logging.ERROR}


def installation_findings(data_dir: Path, progress: Any = None, cancel: Any = None) -> list[doctor.Finding]:
    """Doctor's checks except Qt's (this process has Qt running already). Its own library connection:
    SQLite connections stay on the thread that made them."""
    with Library.open(data_dir) as lib:
        return doctor.run_checks(lib, data_dir, qt=False)


class InstallCheckLabel(QLabel):
    """Hidden while all is well; "⚠ N problem(s): <first>" otherwise, click for the whole list."""

    checked = Signal(list)  # the findings, once the check has run

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.problems: list[doctor.Finding] = []
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        self.setObjectName("installCheck")
        self.hide()

    def start(self, pool: Any, data_dir: Path) -> Worker:
        worker = Worker("Checking the installation", installation_findings, data_dir)
        worker.succeeded.connect(self.show_findings)
        worker.failed.connect(lambda message: log.warning("installation check failed: %s", message))
        return pool.start(worker)

    def show_findings(self, findings: list[doctor.Finding]) -> None:
        for f in findings:
            log.log(_LOG_LEVEL.get(f.severity, logging.INFO), "doctor: %s", f.line())
        self.problems = [f for f in findings if f.is_problem]
        if self.problems:
            first = self.problems[0]
            mark = "⛔" if any(f.severity == "error" for f in self.problems) else "⚠"
            self.setText(f"{mark} {len(self.problems)} installation problem(s): {first.what}")
            self.setToolTip("\n".join(f.line() for f in self.problems) + "\n\nClick for details.")
            self.show()
        else:
            self.hide()
        self.checked.emit(findings)

    def mousePressEvent(self, event: Any) -> None:  # noqa: N802 - Qt's name
        if self.problems:
            QMessageBox.warning(self, "Installation problems",
                                "\n\n".join(f"{f.what}:\n{f.fix}" if f.fix else f.what for f in self.problems)
                                + "\n\nRun `lipe doctor` in a terminal for the full report.")
        super().mousePressEvent(event)
