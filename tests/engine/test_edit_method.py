"""The edit-method seam (lipe_engine/edit_method.py): every method's settings checked against the
one SETTINGS table, the same prelude errors from every method, and the per-step callback."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from lipe_engine.baselines.ledits import LeditsParams, ledits_edit
from lipe_engine.baselines.masactrl import MasaCtrlParams, masactrl_edit
from lipe_engine.edit_method import StepEvent
from lipe_engine.edit_settings import SETTINGS
from lipe_engine.errors import InputError
from lipe_engine.nima import EditParams, edit_image

SRC, TGT, IDENT = "a photo of a sks dog sitting", "a photo of a sks dog standing", "a sks dog"


def photo() -> Image.Image:
    rng = np.random.RandomState(0)
    return Image.fromarray((rng.rand(8, 8, 3) * 255).astype(np.uint8)).resize((64, 48))


@pytest.mark.parametrize("params", [
    LeditsParams(edit_guidance=60.0),  # allowed 0-100 by the baseline before; SETTINGS says 0-50
    LeditsParams(cfg_source=float("nan")),
    LeditsParams(edit_threshold=1.0),
    MasaCtrlParams(cfg_target=51.0),
    MasaCtrlParams(start_layer=-1),
    MasaCtrlParams(steps=5, skip=5),
    EditParams(cfg_target=51.0),
])
def test_every_methods_settings_use_the_one_table(params):
    with pytest.raises(InputError) as err:
        params.validate()
    assert len(str(err.value).splitlines()) == 1


def test_the_tables_ranges_are_the_ones_checked():
    top = SETTINGS["edit_guidance"].high
    LeditsParams(edit_guidance=top).validate()
    assert SETTINGS["cfg_target"].high == top  # the peer's guidance range is the editor's
    MasaCtrlParams(start_step=None, start_layer=None).validate()  # unset stays allowed


def test_every_method_says_the_same_about_a_missing_target(tiny_model):
    messages = set()
    for run in (lambda: edit_image(tiny_model, photo(), SRC, [], IDENT, EditParams(steps=4, skip=1)),
                lambda: masactrl_edit(tiny_model, photo(), SRC, [], MasaCtrlParams(steps=4, skip=1)),
                lambda: ledits_edit(tiny_model, photo(), SRC, [], LeditsParams(steps=4, skip=1))):
        with pytest.raises(InputError) as err:
            run()
        messages.add(str(err.value))
    assert len(messages) == 1 and "no target prompt" in messages.pop()


def test_per_step_callback_of_every_method(tiny_model):
    """Each method calls on_step once per sampled step, in order, with the latents after the step;
    the outputs come back at the photo's own size."""
    for name, run in {
        "nima": lambda cb: edit_image(tiny_model, photo(), SRC, TGT, IDENT, EditParams(steps=5, skip=1),
                                      on_step=cb),
        "masactrl": lambda cb: masactrl_edit(tiny_model, photo(), SRC, TGT, MasaCtrlParams(steps=5, skip=1),
                                             on_step=cb),
        "ledits": lambda cb: ledits_edit(tiny_model, photo(), SRC, TGT, LeditsParams(steps=5, skip=1), on_step=cb),
    }.items():
        events: list[StepEvent] = []
        res = run(events.append)
        assert [e.step for e in events] == [1, 2, 3, 4] and {e.total for e in events} == {4}, name
        assert all(e.latents.ndim == 4 and e.latents.shape[1] == 4 for e in events), name
        assert res.images[0].size == (64, 48), name
