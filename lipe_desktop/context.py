"""What every window shares: the data dir, the open library, the settings, the worker pool."""

from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtCore import QObject, Signal

from lipe_engine.library import Library

from .settings import AppSettings
from .workers import WorkerPool

log = logging.getLogger(__name__)


class AppContext(QObject):
    """Owned by the main window; ``libraryChanged`` tells views to reload their lists."""

    libraryChanged = Signal()
    settingsChanged = Signal()

    def __init__(self, library: Library, settings: AppSettings, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.library = library
        self.settings = settings
        self.pool = WorkerPool(self)
        self.models: object | None = None  # edit.engine's model holder, created on the first edit

    @classmethod
    def open(cls, data_dir: str | Path | None = None, *, new: bool = False) -> AppContext:
        lib = Library.open(data_dir, new=new)
        return cls(lib, AppSettings.load(lib.data_dir, lib))

    @property
    def data_dir(self) -> Path:
        return Path(self.library.data_dir)

    def save_settings(self, settings: AppSettings) -> None:
        self.settings = settings
        settings.save(self.data_dir, self.library)
        self.settingsChanged.emit()

    def close(self) -> None:
        self.pool.shutdown()
        holder = self.models
        if holder is not None and hasattr(holder, "unload"):
            holder.unload()
        self.library.close()
