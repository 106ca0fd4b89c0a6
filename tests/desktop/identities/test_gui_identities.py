"""Identities panel: create an identity, drop photos on it, roles, captions, readable errors."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("PySide6")
pytest.importorskip("pytestqt")


pytestmark = [pytest.mark.gui, pytest.mark.filterwarnings("ignore:Function.*is marked as deprecated")]
SOURCE_ROLE = 0x0100 + 10  # sidebar.SourceRole (Qt.UserRole + 10)


@pytest.fixture()
def window(open_window):
    return open_window(6, warnings=True)


def test_create_identity_drop_photos_roles_and_captions(window, qtbot) -> None:
    from PySide6.QtCore import QPointF, Qt
    from PySide6.QtGui import QDropEvent

    panel = window.identities
    album = window.album
    ident = panel.new_identity([album.model.photo(0)], values=("Rex", "dog", None))
    assert ident is not None and ident.kind == "pet"
    assert panel.current_id() == ident.id and panel.model.rowCount() == 1
    # drag two more photos from the album grid and drop them on the identity's photos
    mime = album.model.mimeData([album.model.index(1), album.model.index(2)])
    ev = QDropEvent(
        QPointF(10, 10),
        Qt.DropAction.CopyAction,
        mime,
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
    )
    panel.grid.dropEvent(ev)
    assert panel.model.rowCount() == 3
    assert "3 reference photo(s)" in panel.header.text()
    # mark one as a target through its context menu
    p = panel.model.photo(2)
    menu = panel.photo_menu([p])
    next(a for a in menu.actions() if a.text().startswith("Use as target")).trigger()
    links = {link.photo.id: link.role for link in window.ctx.library.identity_photos(ident.id)}
    assert links[p.id] == "target"
    # ...and edit it from there
    next(a for a in panel.photo_menu([p]).actions() if a.text() == "Edit pose…").trigger()
    assert window.edit_windows and window.edit_windows[-1].photo.id == p.id
    assert window.edit_windows[-1].identity_id() == ident.id  # its identity is preselected
    window.edit_windows[-1].close()
    # the album sidebar lists the identity as an album with its badges
    album.sidebar.select_source(("identity", ident.id))
    assert album.model.rowCount() == 3
    # edit a caption
    panel.grid.setCurrentIndex(panel.model.index(0))
    assert panel.caption.isEnabled()
    panel.caption.setPlainText("a photo of a sks dog sitting on grass")
    panel.save_caption()
    cap = window.ctx.library.get_caption(panel.model.photo(0), identity=ident.id)
    assert cap.text == "a photo of a sks dog sitting on grass" and cap.edited_by_user
    # editing that photo starts from its caption as the source prompt (what the inversion needs)
    next(a for a in panel.photo_menu([panel.model.photo(0)]).actions() if a.text() == "Edit pose…").trigger()
    assert window.edit_windows[-1].source_prompt.text() == "a photo of a sks dog sitting on grass"
    window.edit_windows[-1].close()


def test_album_menu_adds_to_identity_and_bad_names_are_readable(window) -> None:
    panel = window.identities
    ident = panel.new_identity([], values=("Toy", "robot", "object"))
    photos = [window.album.model.photo(3)]
    menu = window.build_photo_menu(photos)
    sub = next(a.menu() for a in menu.actions() if a.text() == "Add to identity")
    next(a for a in sub.actions() if a.text() == "Toy — target").trigger()
    assert [link.role for link in window.ctx.library.identity_photos(ident.id)] == ["target"]
    assert panel.new_identity([], values=("Bad/name", "dog", None)) is None
    assert window.shown_errors and "identity name" in window.shown_errors[-1]
    assert "Traceback" not in window.shown_errors[-1]


def _drop(widget, mime, pos) -> None:
    """Deliver enter, move and drop the way Qt does during a drag (through the view's viewport)."""
    from PySide6.QtCore import QCoreApplication, QPointF, Qt
    from PySide6.QtGui import QDragEnterEvent, QDragMoveEvent, QDropEvent

    args = (Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    for kind in (QDragEnterEvent, QDragMoveEvent):
        ev = kind(pos, *args)
        QCoreApplication.sendEvent(widget, ev)
        assert ev.isAccepted(), kind.__name__
    ev = QDropEvent(QPointF(pos), *args)
    QCoreApplication.sendEvent(widget, ev)
    assert ev.isAccepted()


def test_drop_photos_on_identity_in_sidebar_and_list_and_from_files(window, qtbot) -> None:
    from PySide6.QtCore import QMimeData, QUrl

    panel, album, lib = window.identities, window.album, window.ctx.library
    rex = panel.new_identity([], values=("Rex", "dog", None))
    toy = panel.new_identity([], values=("Toy", "robot", "object"))
    assert window.tabs.tabBar().changeCurrentOnDrag()  # dragging over "Identities" opens the tab
    # album grid -> the identity "Rex" in the album's sidebar
    album.sidebar.select_source(("folder", lib.list_folders()[0].id))
    item = next(it for it in album.sidebar._items() if it.data(0, SOURCE_ROLE) == ("identity", rex.id))
    pos = album.sidebar.visualItemRect(item).center()
    assert album.sidebar.identity_at(pos) == rex.id
    _drop(album.sidebar.viewport(), album.model.mimeData([album.model.index(0), album.model.index(1)]), pos)
    assert len(lib.identity_photos(rex.id)) == 2
    # album grid -> "Toy" in the identities panel's list
    row = next(i for i in range(panel.list.count()) if panel.list.item(i).data(0x0100) == toy.id)
    pos = panel.list.visualItemRect(panel.list.item(row)).center()
    _drop(panel.list.viewport(), album.model.mimeData([album.model.index(2)]), pos)
    assert [link.photo.id for link in lib.identity_photos(toy.id)] == [album.model.photo(2).id]
    assert panel.current_id() == toy.id and panel.model.rowCount() == 1
    # a file dragged from a file manager: a library photo is added, an outside file is a readable error
    files = QMimeData()
    files.setUrls([QUrl.fromLocalFile(str(album.model.photo(3).path))])
    _drop(panel.grid.viewport(), files, pos)
    assert panel.model.rowCount() == 2
    outside = QMimeData()
    outside.setUrls([QUrl.fromLocalFile("/nowhere/else.jpg")])
    _drop(panel.grid.viewport(), outside, pos)
    assert "not in the library" in window.shown_errors[-1] and "Traceback" not in window.shown_errors[-1]


def test_caption_button_runs_the_engine_captioner_with_settings(window, qtbot, monkeypatch) -> None:
    import functools

    import lipe_engine.captioning as captioning

    panel = window.identities
    ident = panel.new_identity(
        [window.album.model.photo(0), window.album.model.photo(1)], ("Rex", "dog", None)
    )
    # without LLaVA in Settings: one line that says where to set it
    w = panel.run_caption()
    with qtbot.waitSignal(w.done, timeout=30_000):
        pass
    assert w.state == "failed" and "no LLaVA model configured" in window.shown_errors[-1]
    assert "Settings" in window.shown_errors[-1] and "Traceback" not in window.shown_errors[-1]

    class FakeLlava:  # the real captioner needs a multi-GB GGUF; the engine takes any describe()
        model_name = "fake-llava"

        def describe(self, image, request):
            return "A photo of a dog lying on a sofa."

    calls = []
    real = captioning.caption_identity

    def spy(lib, identity_id, **kw):
        calls.append((identity_id, kw["llava"], kw["mmproj"]))
        return functools.partial(real, captioner=FakeLlava())(lib, identity_id, **kw)

    monkeypatch.setattr(captioning, "caption_identity", spy)
    window.ctx.settings.llava_gguf, window.ctx.settings.llava_mmproj = "/m/llava.gguf", "/m/mmproj.gguf"
    w = panel.run_caption()
    with qtbot.waitSignal(w.done, timeout=30_000):
        pass
    assert w.state == "done", window.shown_errors
    assert calls == [(ident.id, "/m/llava.gguf", "/m/mmproj.gguf")]
    assert "2 caption(s) written" in panel.task_note.text()
    panel.grid.setCurrentIndex(panel.model.index(1))
    assert "sks dog lying on a sofa" in panel.caption.toPlainText()  # the engine put the rare token in


def test_suggest_similar_photos_with_clip_and_without(window, qtbot, tmp_path: Path) -> None:
    from lipe_engine.encoders.tiny import build_tiny_clip

    panel, lib = window.identities, window.ctx.library
    ident = panel.new_identity([window.album.model.photo(0)], values=("Rex", "dog", None))
    w = panel.run_suggest()
    with qtbot.waitSignal(w.done, timeout=30_000):
        pass
    assert w.state == "failed"
    assert window.shown_errors and "Settings > CLIP" in window.shown_errors[-1]
    window.ctx.settings.clip_model = str(build_tiny_clip(tmp_path / "clip"))
    w = panel.run_suggest()
    with qtbot.waitSignal(w.done, timeout=60_000):
        pass
    assert w.state == "done", window.shown_errors
    assert "5 similar photo(s) suggested" in panel.task_note.text()
    assert panel.model.rowCount() == 6
    suggested = [p for p in panel.model.photos() if panel.model._badges[p.id] == "ref?"]
    assert len(suggested) == 5
    # the user's answer wins: confirm one, reject another
    next(a for a in panel.photo_menu(suggested[:1]).actions() if a.text().startswith("Use as ref")).trigger()
    next(a for a in panel.photo_menu(suggested[1:2]).actions() if "reject" in a.text()).trigger()
    status = {link.photo.id: link.status for link in lib.identity_photos(ident.id, status=None)}
    assert status[suggested[0].id] == "confirmed" and status[suggested[1].id] == "rejected"
    assert panel.model.rowCount() == 5


def test_queue_captioning_adds_a_caption_job_to_the_one_queue(window, qtbot, tmp_path: Path) -> None:
    """"Queue captioning" puts a caption job in the queue the Training queue tab shows, named by its
    kind; without LLaVA in Settings one line says where to set it and nothing is queued."""
    pytest.importorskip("llama_cpp", reason="llama-cpp-python not installed")
    from PySide6.QtCore import Qt

    from lipe_engine.testing.gguf_models import build_tiny_llama_gguf, build_tiny_mmproj

    panel, lib = window.identities, window.ctx.library
    panel.new_identity([window.album.model.photo(0), window.album.model.photo(1)], ("Rex", "dog", None))
    qtbot.mouseClick(panel.queue_caption_btn, Qt.MouseButton.LeftButton)
    assert "Settings" in window.shown_errors[-1] and len(window.shown_errors[-1].splitlines()) == 1
    assert lib.list_jobs(kind="caption") == []
    window.ctx.settings.llava_gguf = str(build_tiny_llama_gguf(tmp_path / "tiny-llava.gguf"))
    window.ctx.settings.llava_mmproj = str(build_tiny_mmproj(tmp_path / "mmproj-tiny.gguf"))
    qtbot.mouseClick(panel.queue_caption_btn, Qt.MouseButton.LeftButton)
    (job,) = lib.list_jobs(kind="caption")
    assert job.config["llava"] == window.ctx.settings.llava_gguf and len(job.config["photos"]) == 2
    assert panel.task_note.text().startswith("Describing 2 photo(s) of Rex: queued")
    table = window.training.table
    qtbot.waitUntil(lambda: any(table.item(r, 2) is not None and "describe 2 photo(s)" in table.item(r, 2).text()
                                for r in range(table.rowCount())), timeout=5000)
