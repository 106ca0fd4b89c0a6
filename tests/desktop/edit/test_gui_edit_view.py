"""The edit window as a user sees it before and after an edit: the masks leave the photo visible and
say which mask they are; the toy model's limits are said before Edit is pressed; the source prompt is
the photo's caption (or LLaVA's description) and a suggestion changes only its pose."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("PySide6")
pytest.importorskip("pytestqt")

from qt_images import solid_image as _img  # noqa: E402

pytestmark = pytest.mark.gui


def test_mask_is_an_outline_and_a_translucent_fill_over_a_visible_photo(qtbot, show_widget) -> None:
    from lipe_desktop.edit.canvas import NO_MASK, SOURCE_MASK, TARGET_MASK, UNION_MASK, EditCanvas

    c = show_widget(EditCanvas(), 700, 520)
    c.set_before(_img(128, 128, "#208020"))
    src = np.zeros((16, 16), np.float32)
    src[4:12, 4:12] = 1
    tgt = np.zeros((16, 16), np.float32)
    tgt[6:14, 6:14] = 1
    c.set_results([_img(128, 128, "#202080")], src, [tgt], [[src, np.maximum(src, tgt)]], ["lying · seed –"],
                  union_masks=[np.maximum(src, tgt)])
    c.slider_view.set_split(1.0)  # all "before": the green photo
    c.set_mask_mode(SOURCE_MASK)
    ov = c.overlay_image()
    inside, edge, outside = ov.pixelColor(64, 64), ov.pixelColor(32, 64), ov.pixelColor(8, 8)
    assert outside.alpha() == 0  # where the mask is 0 nothing is drawn
    assert 40 <= inside.alpha() <= 120  # translucent fill
    assert edge.alpha() == 255  # the outline
    grab = c.slider_view.grab().toImage()
    r = c.slider_view.image_rect()
    centre = grab.pixelColor(int(r.center().x()), int(r.center().y()))
    corner = grab.pixelColor(int(r.left() + r.width() * 0.05), int(r.top() + r.height() * 0.05))
    assert corner.green() > 110 and corner.red() < 50 and corner.blue() < 50  # the photo, untouched
    assert centre.green() > 80  # the photo still shows under the fill
    assert "subject before" in c.legend_text() and "where the subject is" in c.legend_text()
    c.set_mask_mode(TARGET_MASK)
    assert "subject after" in c.legend_text() and c.overlay_image().pixelColor(100, 100).alpha() > 0
    c.set_mask_mode(UNION_MASK)
    assert "edit area" in c.legend_text()
    c.set_mask_mode(NO_MASK)
    assert c.overlay_image() is None and c.legend_text() == ""


def _loaded(qtbot, *windows) -> None:
    """Each window's photo loads on a pool thread: let it arrive before the window is deleted."""
    for w in windows:
        qtbot.waitUntil(lambda w=w: w.canvas.before is not None, timeout=10_000)


def _toy_photo(folder: Path, name: str = "toy.jpg") -> Path:
    from PIL import Image

    from lipe_engine.toyworld import scene_from_seed

    img, _ = scene_from_seed(3).render()
    path = folder / name
    img.resize((256, 256), Image.Resampling.NEAREST).save(path, quality=90)
    return path


def test_toy_world_photo_detection_on_real_and_toy_photos(tmp_path: Path, dreambooth_dir) -> None:
    from PIL import Image

    from lipe_engine.toyworld import TOY_MODEL_DIR, scene_from_seed
    from lipe_engine.toyworld.photos import is_toy_model, looks_like_toy_photo

    assert looks_like_toy_photo(_toy_photo(tmp_path))
    assert looks_like_toy_photo(scene_from_seed(5).render()[0])  # 64 px as rendered
    real = sorted(Path(dreambooth_dir).glob("*/*.jpg"))[::7][:8]
    assert real and not any(looks_like_toy_photo(p) for p in real)
    for p in real[:4]:  # scaled to a toy-like size, still a camera photo
        small = tmp_path / f"small-{p.parent.name}-{p.name}"
        Image.open(p).convert("RGB").resize((256, 256), Image.Resampling.LANCZOS).save(small, quality=90)
        assert not looks_like_toy_photo(small), small
    assert is_toy_model("") and is_toy_model(str(TOY_MODEL_DIR)) and not is_toy_model(str(tmp_path))


@pytest.fixture()
def ctx(app_context):
    """Two generated photos and a toy-world one ("toy.jpg")."""
    def with_toy_photo(c) -> None:  # type: ignore[no-untyped-def]
        _toy_photo(Path(c.library.list_folders()[0].path))
        c.library.scan()

    return app_context(2, setup=with_toy_photo)


def test_toy_model_on_a_real_photo_is_said_before_edit_with_a_way_to_settings(qtbot, ctx, tmp_path,
                                                                              tiny_sdxl_dir) -> None:
    from PySide6.QtWidgets import QWidget

    from lipe_desktop.edit.window import EditWindow
    from lipe_desktop.settings import toy_model

    if not toy_model():
        pytest.skip("the shipped toy model is not installed")
    opened = []

    class Main(QWidget):  # stands in for the main window's Settings action
        def open_settings(self) -> None:
            opened.append(True)
            ctx.settings.sdxl_model = str(tiny_sdxl_dir)  # the user picked another model

    main = Main()
    qtbot.addWidget(main)
    ctx.settings.sdxl_model = ""  # nothing configured: the shipped toy model
    photos = {Path(p.path).name: p for p in ctx.library.list_photos()}
    real = EditWindow(ctx, photos["photo_000.jpg"], main)  # children of main: closed with it
    toy = EditWindow(ctx, photos["toy.jpg"], main)
    assert not real.toy_notice.isHidden() and "toy" in real.toy_label.text().lower()
    assert "real photos" in real.toy_label.text() and "SDXL" in real.toy_label.toolTip()
    assert "Settings" in real.settings_btn.text() and real.result is None  # before any edit
    real.show()
    qtbot.waitExposed(real)
    label, button = real.toy_label, real.settings_btn
    assert label.fontMetrics().horizontalAdvance(label.text()) <= label.width()  # one line, not cut
    assert label.height() < 2 * label.fontMetrics().height() and button.isVisible()
    assert toy.toy_notice.isHidden()  # a toy-world photo: the toy model is the right one
    assert "sitting" in [real.chips.itemAt(i).widget().text() for i in range(real.chips.count())]
    real.settings_btn.click()
    assert opened and real.toy_notice.isHidden()  # another model now: the notice goes
    ctx.settings.sdxl_model = str(tiny_sdxl_dir)
    other = EditWindow(ctx, photos["photo_001.jpg"], main)
    assert other.toy_notice.isHidden()
    ctx.settings.sdxl_model = ""  # back to the toy model from the main window's Settings
    ctx.settingsChanged.emit()
    assert not other.toy_notice.isHidden() and toy.toy_notice.isHidden()
    _loaded(qtbot, real, toy, other)


def test_source_prompt_is_the_photos_caption_and_suggestions_keep_its_scene(qtbot, ctx, tiny_sdxl_dir) -> None:
    from lipe_desktop.edit.window import EditWindow

    ctx.settings.sdxl_model = str(tiny_sdxl_dir)
    lib = ctx.library
    photos = lib.list_photos(order="path")
    rex = lib.create_identity("Rex", "dog")
    lib.add_identity_photos(rex, photos[:2], role="target")
    lib.set_caption(photos[0], "close-up photo, a sks dog sitting facing left, on green grass", identity=rex.id)
    lib.set_caption(photos[1], "wide photo of a dog lying on the beach")  # generic: names no identity
    ed = EditWindow(ctx, photos[0])
    qtbot.addWidget(ed)
    assert ed.identity_id() == rex.id
    assert ed.source_prompt.text() == "close-up photo, a sks dog sitting facing left, on green grass"
    ed.use_suggestion("lying down")
    assert ed.prompt.text() == "close-up photo, a sks dog lying down facing left, on green grass"
    ed.use_suggestion("facing the camera")
    assert ed.prompt.text() == "close-up photo, a sks dog sitting facing the camera, on green grass"
    ed2 = EditWindow(ctx, photos[1])
    qtbot.addWidget(ed2)
    assert ed2.source_prompt.text() == "wide photo of a sks dog lying on the beach"
    ed2.use_suggestion("jumping")
    assert ed2.prompt.text() == "wide photo of a sks dog jumping on the beach"
    _loaded(qtbot, ed, ed2)
    ed.close()
    ed2.close()


def test_photo_without_caption_is_described_by_llava_in_a_worker(qtbot, ctx, tiny_sdxl_dir, tmp_path) -> None:
    """The real LLaVA path (tiny GGUFs built here, llama-cpp's Llava15 handler), on a worker thread
    with progress; Cancel stops it; without LLaVA the prompt is the subject words."""
    pytest.importorskip("llama_cpp", reason="llama-cpp-python not installed")
    from lipe_desktop.edit.window import EditWindow
    from lipe_engine.testing.gguf_models import build_tiny_llama_gguf, build_tiny_mmproj

    ctx.settings.sdxl_model = str(tiny_sdxl_dir)
    lib = ctx.library
    photo = lib.list_photos(order="path")[0]
    rex = lib.create_identity("Rex", "dog")
    lib.add_identity_photos(rex, [photo], role="target")
    plain = EditWindow(ctx, photo)  # no LLaVA set: the subject words, and a hint
    qtbot.addWidget(plain)
    assert plain.source_prompt.text() == "a photo of a sks dog" and "LLaVA" in plain.source_note.text()
    assert plain.caption_worker is None and not plain.describe_btn.isEnabled()
    ctx.settings.llava_gguf = str(build_tiny_llama_gguf(tmp_path / "tiny-llava.gguf"))
    ctx.settings.llava_mmproj = str(build_tiny_mmproj(tmp_path / "mmproj-tiny.gguf"))
    ed = EditWindow(ctx, photo)
    qtbot.addWidget(ed)
    w = ed.caption_worker
    assert w is not None and ed.cancel_btn.isEnabled()  # started by itself, cancellable
    events = []
    w.progress.connect(events.append)
    with qtbot.waitSignal(w.done, timeout=120_000):
        pass
    assert w.state == "done", ed.source_note.text()
    text = ed.source_prompt.text()
    assert text != "a photo of a sks dog" and text.lower().count("sks dog") == 1
    assert lib.get_caption(photo, identity=rex.id).text == text  # stored: the next window reuses it
    assert "LLaVA" in ed.source_note.text() and not ed.cancel_btn.isEnabled()
    lib.delete_caption(photo, identity=rex.id)
    again = EditWindow(ctx, photo)
    qtbot.addWidget(again)
    with qtbot.waitSignal(again.caption_worker.cancelled, timeout=60_000):
        again.cancel_btn.click()
    qtbot.waitUntil(lambda: again.caption_worker is None, timeout=10_000)
    assert again.source_prompt.text() == "a photo of a sks dog" and "cancelled" in again.source_note.text()
    _loaded(qtbot, plain, ed, again)
    for x in (plain, ed, again):
        x.close()
