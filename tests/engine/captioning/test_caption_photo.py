"""``caption_photo``: one photo described for one identity (the edit window's source prompt)."""

from __future__ import annotations

from pathlib import Path

import pytest

from lipe_engine.captioning.photo import caption_photo
from lipe_engine.errors import Cancelled, InputError
from lipe_engine.progress import CancelToken


class Captioner:
    model_name = "fake-llava"

    def __init__(self) -> None:
        self.requests: list[str] = []

    def describe(self, image, request: str) -> str:
        self.requests.append(request)
        return 'Sure! Here is the caption: "Wide shot, photo, a dog lying on a rug, in a bright room."'


@pytest.fixture()
def library(tmp_path: Path):
    from lipe_engine.library import Library
    from lipe_engine.testing.libraries import make_library

    data, _ = make_library(tmp_path, 2)
    with Library.open(data) as lib:
        ident = lib.create_identity("Rex", "dog")
        yield lib, ident, lib.list_photos(order="path")


def test_the_photo_is_described_stored_and_names_the_identity(library) -> None:
    lib, ident, photos = library
    cap, events = Captioner(), []
    stored = caption_photo(lib, photos[0], ident.id, captioner=cap, progress=events.append)
    assert stored.text == "Wide shot, photo, a sks dog lying on a rug, in a bright room."
    assert lib.get_caption(photos[0], identity=ident.id, fallback_generic=False).text == stored.text
    assert stored.model == "fake-llava" and "dog" in cap.requests[0] and not stored.edited_by_user
    assert events[-1].step == events[-1].total == 1
    assert lib.get_caption(photos[1], identity=ident.id) is None  # only the photo asked for


def test_the_users_caption_is_kept_and_cancel_and_missing_llava_are_clean(library, monkeypatch) -> None:
    lib, ident, photos = library
    lib.set_caption(photos[0], "my words: a sks dog asleep", identity=ident.id, by_user=True)
    cap = Captioner()
    assert caption_photo(lib, photos[0], ident.id, captioner=cap).text == "my words: a sks dog asleep"
    assert cap.requests == []  # not even asked
    token = CancelToken()
    token.cancel()
    with pytest.raises(Cancelled):
        caption_photo(lib, photos[1], ident.id, captioner=cap, cancel=token)
    assert lib.get_caption(photos[1], identity=ident.id) is None
    for var in ("LIPE_LLAVA_GGUF", "LIPE_LLAVA_MMPROJ"):
        monkeypatch.delenv(var, raising=False)
    with pytest.raises(InputError, match="no LLaVA model configured"):
        caption_photo(lib, photos[1], ident.id)
