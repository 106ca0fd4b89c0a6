"""Class images on the tiny SDXL model: cached per class and setup, resumable, cancellable, checked prompts."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from lipe_engine.errors import Cancelled, InputError
from lipe_engine.progress import CancelToken
from lipe_engine.prompts import template_prompts
from lipe_engine.training.class_images import class_images_dir, render_class_images

KW = dict(resolution=32, steps=2, seed=3)


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _pixels(path: Path) -> np.ndarray:
    with Image.open(path) as im:
        return np.asarray(im.convert("RGB")).copy()


def test_render_skip_and_resume(tiny_model, tmp_path: Path) -> None:
    prompts = template_prompts("dog", 4)
    folder = class_images_dir(tmp_path, "Dog", tiny_model.model_id, 32, 2, 7.5, 3)
    assert folder.parent.parent == tmp_path / "dog"  # shared by every identity of the class
    items = render_class_images(tiny_model, "dog", prompts[:3], folder, **KW)
    assert [p for _, p in items] == prompts[:3]
    for png, prompt in items:
        assert Image.open(png).size == (32, 32) and png.with_suffix(".txt").read_text() == prompt
    first = _pixels(items[0][0])
    mtimes = [png.stat().st_mtime_ns for png, _ in items]
    # more prompts later: only the new one is rendered
    events = []
    items4 = render_class_images(tiny_model, "dog", prompts, folder, progress=events.append, **KW)
    assert [png.stat().st_mtime_ns for png, _ in items4[:3]] == mtimes
    assert events[1].info["cached"] == 3 and events[-1].step == 4
    # an image lost (or stopped half-written: no .txt yet) is rendered again, identically (fixed seed)
    items[0][0].with_suffix(".txt").unlink()
    render_class_images(tiny_model, "dog", prompts, folder, **KW)
    np.testing.assert_array_equal(_pixels(items[0][0]), first)
    # a changed prompt at the same index replaces that image only
    changed = [prompts[0], "a photo of a dog asleep on a red rug, top view", *prompts[2:]]
    render_class_images(tiny_model, "dog", changed, folder, **KW)
    assert items[1][0].with_suffix(".txt").read_text() == changed[1]
    assert items[1][0].stat().st_mtime_ns != mtimes[1] and items[2][0].stat().st_mtime_ns == mtimes[2]


def test_cancel_keeps_only_complete_pairs(tiny_model, tmp_path: Path) -> None:
    token = CancelToken()

    def stop_after_first(ev) -> None:
        if ev.step >= 1 and "image" in ev.info:
            token.cancel()

    with pytest.raises(Cancelled):
        render_class_images(tiny_model, "cat", template_prompts("cat", 3), tmp_path, progress=stop_after_first,
                            cancel=token, **KW)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["class_00000.png", "class_00000.txt"]


def test_prompts_of_another_class_and_bad_settings_are_refused(tiny_model, tmp_path: Path) -> None:
    with pytest.raises(InputError, match="does not name the class 'cat'"):
        render_class_images(tiny_model, "cat", template_prompts("dog", 2), tmp_path, **KW)
    with pytest.raises(InputError, match="no regularization prompt"):
        render_class_images(tiny_model, "cat", [], tmp_path, **KW)
    with pytest.raises(InputError, match="class word"):
        render_class_images(tiny_model, "", ["a cat"], tmp_path, **KW)
    with pytest.raises(InputError, match="denoising steps"):
        render_class_images(tiny_model, "cat", template_prompts("cat", 1), tmp_path, resolution=32, steps=0)
    assert not any(tmp_path.glob("*.png"))
