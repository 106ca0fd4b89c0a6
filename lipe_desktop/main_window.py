"""The main window: Album | Identities | Training tabs, menus, status bar with job progress."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from PySide6.QtCore import QUrl
from PySide6.QtGui import QAction, QCloseEvent, QDesktopServices, QIcon, QKeySequence
from PySide6.QtWidgets import (
    QFileDialog,
    QLabel,
    QMainWindow,
    QMenu,
    QMessageBox,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from lipe_engine import __version__
from lipe_engine.library.scan import PHOTO_EXTENSIONS
from lipe_engine.resources import resource_path
from lipe_engine.toyworld.photos import is_toy_model

from . import bridge
from .album.page import AlbumPage, LooseFile
from .context import AppContext
from .edit.batch_dialog import open_batch_edit
from .edit.window import EditWindow
from .identities import IdentitiesPanel
from .install_check import InstallCheckLabel
from .job_status import JobStatus
from .logs import log_file, user_message
from .machine_banner import MachineBanner
from .photo_actions import PhotoActionsMixin
from .review.window import open_review
from .settings_dialog import SettingsDialog
from .training import TrainingPanel
from .window_state import WindowLifecycleMixin
from .workers import Worker

log = logging.getLogger(__name__)
ICON = resource_path("icons", "lipe-desktop.svg")


def opened_files(paths: Sequence[str | Path]) -> tuple[list[Path], list[str]]:
    """The photo files among ``paths`` (a folder stands for the photos in it) and one line per
    path that cannot be opened."""
    files: list[Path] = []
    problems: list[str] = []
    for raw in paths:
        p = Path(raw).expanduser()
        if p.is_dir():
            found = sorted(f for f in p.iterdir() if f.is_file() and f.suffix.lower() in PHOTO_EXTENSIONS)
            if not found:
                problems.append(f"'{raw}' has no photos: open JPEG, PNG, WebP or HEIC files")
            files += [f.resolve() for f in found]
        elif not p.is_file():
            problems.append(f"'{raw}' does not exist: check the path")
        elif p.suffix.lower() not in PHOTO_EXTENSIONS:
            problems.append(f"'{raw}' is not a photo this app reads: open JPEG, PNG, WebP or HEIC files")
        else:
            files.append(p.resolve())
    return list(dict.fromkeys(files)), problems


class MainWindow(WindowLifecycleMixin, PhotoActionsMixin, QMainWindow):
    def __init__(self, ctx: AppContext) -> None:
        super().__init__()
        self.ctx = ctx
        self.setWindowTitle("LIPE Desktop")
        if ICON.is_file():
            self.setWindowIcon(QIcon(str(ICON)))
        self.resize(*self._start_size())
        self.album = AlbumPage(ctx, self)
        self.tabs = QTabWidget(self)
        self.tabs.addTab(self.album, "Album")
        self.identities = IdentitiesPanel(ctx, self)
        self.tabs.addTab(self.identities, "Identities")
        self.training = TrainingPanel(ctx, self)
        self.tabs.addTab(self.training, "Training queue")
        self.identities.trainRequested.connect(self._queue_training)
        self.identities.editRequested.connect(lambda p: self.open_editor([p]))
        self.banner = MachineBanner(self)  # no GPU / toy model: said at start, with a toy album to try
        central = QWidget(self)
        column = QVBoxLayout(central)
        column.setContentsMargins(6, 6, 6, 0)
        column.addWidget(self.banner)
        column.addWidget(self.tabs, 1)
        self.setCentralWidget(central)
        self.gpu_gb: float | None = None
        self.banner.tryToyRequested.connect(lambda: self.add_toy_album())
        self.banner.settingsRequested.connect(lambda: self.open_settings())
        ctx.settingsChanged.connect(self._show_machine)
        self.training.machineKnown.connect(self._on_machine)
        self._show_machine()
        self.count_label = QLabel(self)
        self.jobs = JobStatus(ctx.pool, self)
        self.statusBar().addWidget(self.count_label)
        self.statusBar().addPermanentWidget(self.jobs)
        self.training_label = QLabel(self)  # the training queue runs outside the worker pool
        self.statusBar().addPermanentWidget(self.training_label)
        self.training.jobStatus.connect(self.training_label.setText)
        self.install_check = InstallCheckLabel(self)  # `lipe doctor`'s checks: problems shown, all logged
        self.statusBar().addPermanentWidget(self.install_check)
        self.install_check.start(ctx.pool, ctx.data_dir)
        self.album.countChanged.connect(self.count_label.setText)
        self.album.contextRequested.connect(self.show_photo_menu)
        self.album.addFolderRequested.connect(lambda: self.add_folder())
        self.album.tryToyRequested.connect(lambda: self.add_toy_album())
        self.album.rescanRequested.connect(lambda fid: self.scan([fid]))
        self.album.viewer.editRequested.connect(lambda p: self.open_editor([p]))
        self.album.sidebar.photosDropped.connect(
            lambda iid, refs: self.add_to_identity(iid, refs, "reference")
        )
        # dragging photos over a tab opens it, so they can be dropped on the Identities panel too
        self.tabs.tabBar().setChangeCurrentOnDrag(True)
        self.tabs.tabBar().setAcceptDrops(True)
        ctx.libraryChanged.connect(self.album.reload)
        self.edit_windows: list[Any] = []
        self._build_menus()
        self.album.reload()

    def _queue_training(self, identity_id: int) -> None:
        self.training.add_identity(identity_id)
        self.tabs.setCurrentWidget(self.training)

    def _build_menus(self) -> None:
        m = self.menuBar().addMenu("&File")
        self._action(m, "Add folder…", lambda: self.add_folder(), QKeySequence.StandardKey.Open)
        self._action(m, "Rescan library", lambda: self.scan(None), QKeySequence("F5"))
        self._action(m, "Export selected…", self.export_selected, QKeySequence("Ctrl+E"))
        m.addSeparator()
        self._action(m, "Settings…", lambda: self.open_settings(), QKeySequence("Ctrl+,"))  # Preferences: none on Linux
        m.addSeparator()
        self._action(m, "Quit", self.close, QKeySequence.StandardKey.Quit)
        e = self.menuBar().addMenu("&Edit")
        self._action(e, "Find…", self.album_search, QKeySequence.StandardKey.Find)
        e.addAction(self.album.remove_action)  # Delete, while the album has the focus
        e.addSeparator()
        self._action(e, "Edit pose of selected photos…", self.edit_selected)
        self._action(e, "Edit pose of an identity's photos…", self.open_identity_edit)
        self._action(e, "Review edited photos…", self.open_review)
        h = self.menuBar().addMenu("&Help")
        self._action(h, "Try it on toy photos", lambda: self.add_toy_album())
        self._action(h, "Open log folder", self.open_logs)
        self._action(h, "About LIPE Desktop", self.about)

    def _action(self, menu: QMenu, text: str, slot: Any, shortcut: Any = None) -> QAction:
        a = QAction(text, self)
        if shortcut is not None:
            a.setShortcut(shortcut)
        a.triggered.connect(slot)
        menu.addAction(a)
        return a

    # --- errors and jobs --------------------------------------------------------------------------

    def show_error(self, message: str, title: str = "LIPE Desktop") -> None:
        self.statusBar().showMessage(message, 10_000)
        QMessageBox.warning(self, title, message)

    def run_job(self, worker: Worker, on_success: Any = None, quiet: bool = False) -> Worker:
        worker.failed.connect(self.show_error)
        worker.cancelled.connect(lambda: self.statusBar().showMessage(f"{worker.title}: cancelled", 5000))
        if on_success is not None:
            worker.succeeded.connect(on_success)
        if not quiet:
            worker.succeeded.connect(
                lambda r: self.statusBar().showMessage(f"{worker.title}: {bridge.summary_of(r)}", 8000)
            )
        return self.ctx.pool.start(worker)

    # --- what this machine can do ----------------------------------------------------------------

    def _on_machine(self, gpu_gb: float) -> None:
        self.gpu_gb = gpu_gb
        self._show_machine()

    def _show_machine(self) -> None:
        self.banner.show_for(is_toy_model(self.ctx.settings.model_source()), self.gpu_gb)

    def _toy_album_folder(self) -> Any:
        """The toy album already in the library (its folder still on disk with photos), if any."""
        from lipe_engine.locations import DataLayout

        base = DataLayout(self.ctx.data_dir).toy_album
        for f in self.ctx.library.list_folders():
            p = Path(f.path)
            if p.parent == base.parent and p.name.startswith(base.name) and p.is_dir() and not f.missing:
                return f
        return None

    def add_toy_album(self) -> Worker | None:
        """"Try it on toy photos": a folder of toy-world photos and an identity of their dog, shown.
        Pressed again, the album already made is shown (not a second copy with a second "Rex")."""
        existing = self._toy_album_folder()
        if existing is not None:
            self.tabs.setCurrentWidget(self.album)
            self.album.sidebar.select_source(("folder", existing.id))
            self.statusBar().showMessage(
                f"The toy photos are already in your library ({Path(existing.path).name}): shown", 8000)
            return None
        w = Worker("Making toy photos", bridge.add_toy_album, self.ctx.data_dir)

        def shown(_r: object) -> None:
            self.ctx.libraryChanged.emit()
            folders = self.ctx.library.list_folders()
            if folders:
                self.album.sidebar.select_source(("folder", max(f.id for f in folders)))  # the new one
            self.tabs.setCurrentWidget(self.album)

        return self.run_job(w, on_success=shown)

    # --- album actions ----------------------------------------------------------------------------

    def add_folder(self, path: str | None = None) -> None:
        path = path or QFileDialog.getExistingDirectory(self, "Add a photo folder")
        if not path:
            return
        try:
            folder = self.ctx.library.add_folder(path)
        except Exception as exc:  # noqa: BLE001
            self.show_error(user_message(exc))
            return

        def show_it(_r: object) -> None:  # the photos just added, not the top of "All photos"
            self.tabs.setCurrentWidget(self.album)
            self.album.sidebar.select_source(("folder", folder.id))

        self.scan([folder.id]).succeeded.connect(show_it)

    def album_search(self) -> None:
        """Ctrl+F: the album's search field, focused, its text selected."""
        self.tabs.setCurrentWidget(self.album)
        self.album.focus_search()

    def open_paths(self, paths: Sequence[str | Path]) -> None:
        """``lipe-desktop FILE...`` (a file manager's "Open with"): show those photos in the viewer.

        A photo whose folder is not in the library is shown at once; the user is asked whether to
        add that folder (then it is scanned and the photos are shown as library photos)."""
        files, problems = opened_files(paths)
        for problem in problems:
            self.statusBar().showMessage(problem, 10_000)
            log.warning("open: %s", problem)
        if not files:
            if problems:
                self.show_error(problems[0])
            return
        lib = self.ctx.library
        roots = [Path(f.path) for f in lib.list_folders()]
        outside = sorted({p.parent for p in files if not any(r == p or r in p.parents for r in roots)})
        inside_ids = sorted({f.id for f in lib.list_folders() for p in files if Path(f.path) in p.parents})
        self.album.show_in_viewer(self._records_or_loose(files))  # at once, before any question or scan
        self.tabs.setCurrentWidget(self.album)
        added: list[int] = []
        if outside:
            names = "\n".join(f"  {d}" for d in outside[:8]) + ("\n  …" if len(outside) > 8 else "")
            question = (
                f"{'This folder is' if len(outside) == 1 else 'These folders are'} not in your library:\n"
                f"{names}\n\nAdd {'it' if len(outside) == 1 else 'them'} to the library? The photos are only "
                "read, never changed."
            )
            if self.album.confirm("Open photos", question):
                for d in outside:
                    try:
                        added.append(lib.add_folder(d).id)
                    except Exception as exc:  # noqa: BLE001 - e.g. a folder inside a library folder
                        self.show_error(user_message(exc))
        unknown = [p for p in files if not self._in_library(p)]
        ids = sorted(set(added) | {i for i in inside_ids if unknown})
        if ids:  # new folders, or photos a library folder got since its last scan
            self.scan(ids).succeeded.connect(
                lambda _r: self.album.show_in_viewer(self._records_or_loose(files))
            )

    def _in_library(self, path: Path) -> bool:
        try:
            self.ctx.library.get_photo(path)
        except Exception:  # noqa: BLE001 - LibraryError: not recorded (yet)
            return False
        return True

    def _records_or_loose(self, files: list[Path]) -> list[Any]:
        out: list[Any] = []
        for i, p in enumerate(files):
            try:
                out.append(self.ctx.library.get_photo(p))
            except Exception:  # noqa: BLE001 - not in the library: shown as a loose file
                out.append(LooseFile(-1_000_000 - i, p))
        return out

    def scan(self, folder_ids: list[int] | None) -> Worker:
        w = Worker("Scanning photos", bridge.scan_library, self.ctx.data_dir, folder_ids)
        return self.run_job(w, on_success=lambda _r: self.ctx.libraryChanged.emit())

    def open_editor(self, photos: list[Any]) -> Any:
        """One photo: the edit window; several: one dialog that edits them all (edit/batch_dialog.py)."""
        if not photos:
            return None
        if len([p for p in photos if getattr(p, "content_hash", None)]) > 1:
            return open_batch_edit(self, photos)
        if isinstance(photos[0], LooseFile):
            self.show_error(f"'{photos[0].path.name}' is not in the library: add its folder to edit it")
            return None

        win = EditWindow(self.ctx, photos[0], self)
        self.edit_windows.append(win)
        win.destroyed.connect(
            lambda *_a, w=win: self.edit_windows.remove(w) if w in self.edit_windows else None
        )
        win.show()
        return win

    def open_identity_edit(self) -> Any:
        source = self.album.source
        return open_batch_edit(self, [], source[1] if source[0] == "identity" else None)

    def open_review(self) -> Any:
        return open_review(self)

    # --- dialogs ----------------------------------------------------------------------------------

    def open_settings(self) -> Any:
        dlg = SettingsDialog(self.ctx.settings, self)
        if dlg.exec():
            self.ctx.save_settings(dlg.result_settings())
        return dlg

    def open_logs(self) -> None:
        f = log_file()
        QDesktopServices.openUrl(QUrl.fromLocalFile(str(f.parent if f else self.ctx.data_dir)))

    def about_text(self) -> str:
        guide = "docs/user-guide.md"
        return (
            f"<h3>LIPE Desktop {__version__}</h3>"
            "<p>Learns what one subject looks like from 3-5 of your photos (its personalized identity prior), "
            "then changes its pose, expression or view in another photo from a few words, keeping who it is "
            "and the background. Everything runs on this computer; nothing is uploaded.</p>"
            "<p><b>How to start:</b> add a folder of photos; in Identities create an identity and drop 3-5 "
            "photos of it; queue its training; then right-click another photo of it: Edit pose… "
            "Without a GPU, try it first with Help ▸ Try it on toy photos.</p>"
            f"<p>Help: the user guide ({guide} in the source, or the project's documentation). "
            f"Log file: {log_file() or 'none'}<br>Data folder: {self.ctx.data_dir}</p>"
        )

    def about(self) -> None:
        QMessageBox.about(self, "About LIPE Desktop", self.about_text())

    def closeEvent(self, event: QCloseEvent) -> None:
        if getattr(self, "_closed", False):  # closed before (a second close after the library closed)
            super().closeEvent(event)
            return
        if not self._may_close():
            event.ignore()
            return
        self._closed = True
        self._remember_size()
        for w in list(self.edit_windows):
            w.close()
        self.training.shutdown()
        self.identities.shutdown()
        self.album.shutdown()
        self.ctx.pool.shutdown()
        super().closeEvent(event)
