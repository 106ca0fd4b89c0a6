"""What the main window does with photos (a mixin of ``MainWindow``): the album's right-click menu
(edit, view, add to an identity, export, remove, delete a version, show in folder) and those actions."""

from __future__ import annotations

from pathlib import Path
from typing import Any, cast

from PySide6.QtCore import QPoint, QUrl
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import QFileDialog, QMenu, QWidget

from . import bridge
from .album.page import EditedVersion
from .logs import user_message
from .workers import Worker


class PhotoActionsMixin:
    """Needs the window's ``ctx``, ``album``, ``identities``, ``open_editor``, ``run_job``, ``show_error``
    and QMainWindow's ``statusBar``."""

    ctx: Any
    album: Any
    identities: Any
    open_editor: Any
    run_job: Any
    show_error: Any
    statusBar: Any

    def show_photo_menu(self, photos: list[Any], pos: QPoint) -> None:
        menu = self.build_photo_menu(photos)
        menu.exec(pos)

    def build_photo_menu(self, photos: list[Any]) -> QMenu:
        menu = QMenu(cast(QWidget, self))
        library_photos = [p for p in photos if getattr(p, "content_hash", None)]
        edit = menu.addAction("Edit pose…", lambda: self.open_editor(photos))
        edit.setEnabled(bool(photos))
        menu.addAction("Open in viewer", lambda: self.album.open_viewer(photos[0]))
        if library_photos:
            sub = menu.addMenu("Add to identity")
            for ident in self.ctx.library.list_identities():
                for role in ("reference", "target"):
                    sub.addAction(f"{ident.name} — {role}", self._adder(ident.id, library_photos, role))
            sub.addSeparator()
            sub.addAction("New identity…", lambda: self.identities.new_identity(library_photos))
        menu.addAction("Export copy…", lambda: self.export_photos(photos))
        if library_photos:
            remove = "Remove from identity…" if self.album.source[0] == "identity" else "Remove from library…"
            menu.addAction(remove, lambda: self.album.remove_photos(library_photos))
        versions = [p for p in photos if isinstance(p, EditedVersion)]
        if versions:  # a version the user does not want (a smear, a wrong pose) could not be deleted
            menu.addAction("Delete version…" if len(versions) == 1 else f"Delete {len(versions)} versions…",
                           lambda: self.delete_versions(versions))
        menu.addAction(
            "Show in folder",
            lambda: QDesktopServices.openUrl(QUrl.fromLocalFile(str(Path(photos[0].path).parent))),
        )
        return menu

    def delete_versions(self, versions: list[Any]) -> int:
        """Delete edited versions (their records and the image and mask files the app wrote) after
        asking; the originals are untouched. Returns how many were deleted."""
        names = ", ".join(Path(v.path).name for v in versions[:3]) + (" …" if len(versions) > 3 else "")
        if not self.album.confirm("Delete versions", f"Delete {len(versions)} edited version(s) ({names})? Their "
                                  "files are deleted; the original photos stay untouched."):
            return 0
        done = 0
        for v in versions:
            try:
                self.ctx.library.delete_edit(v.edit_id)
                done += 1
            except Exception as exc:  # noqa: BLE001 - e.g. deleted meanwhile by `lipe versions`
                self.show_error(user_message(exc))
                break
        self.statusBar().showMessage(f"{done} version(s) deleted; the originals are untouched", 8000)
        self.ctx.libraryChanged.emit()
        return done

    def _adder(self, identity_id: int, photos: list[Any], role: str) -> Any:
        return lambda: self.add_to_identity(identity_id, photos, role)

    def add_to_identity(self, identity_id: int, photos: list[Any], role: str) -> None:
        try:
            n = self.ctx.library.add_identity_photos(identity_id, photos, role=role)
        except Exception as exc:  # noqa: BLE001
            self.show_error(user_message(exc))
            return
        self.statusBar().showMessage(f"{n} photo(s) added as {role}", 5000)
        self.ctx.libraryChanged.emit()

    def _selected_or_say(self, doing: str) -> list[Any]:
        """The album's selected photos; none: said in the status bar (the menu item did nothing visible)."""
        photos = self.album.selected_photos()
        if not photos:
            self.statusBar().showMessage(f"Select photos in the album first, then {doing}", 8000)
        return list(photos)

    def export_selected(self) -> None:
        photos = self._selected_or_say("export them (File > Export selected…, Ctrl+E)")
        if photos:
            self.export_photos(photos)

    def edit_selected(self) -> Any:
        photos = self._selected_or_say("edit their pose (Edit > Edit pose of selected photos…)")
        return self.open_editor(photos) if photos else None

    def export_photos(self, photos: list[Any]) -> None:
        if len(photos) == 1:
            name, _ = QFileDialog.getSaveFileName(cast(QWidget, self), "Export a copy", Path(photos[0].path).name)
            pairs = [(Path(photos[0].path), Path(name))] if name else []
        else:
            folder = QFileDialog.getExistingDirectory(cast(QWidget, self), "Export copies to")
            pairs = [(Path(p.path), Path(folder) / Path(p.path).name) for p in photos] if folder else []
        for src, dest in pairs:
            self.run_job(Worker(f"Exporting {src.name}", bridge.export_copy, src, dest))
