"""The LLaVA captioner end to end on a tiny model built here, and ``caption_identity`` on a real library.

No LLaVA weights can be downloaded, so this file writes its own: the language model is the tiny llama
GGUF of ``test_llm_tiny_gguf``, and :func:`build_tiny_mmproj` writes a LLaVA-1.5-style projector (a
one-block CLIP vision tower on 28 px images + the two-layer MLP projector, random weights) that the
real llama-cpp-python ``Llava15ChatHandler`` / mtmd loader accepts, encodes an image with, and feeds
to the model. Captions are random words, which is fine: the post-processor must still name the
subject by its token. A recording fake handler checks the exact messages (one fresh turn per photo).
"""

from __future__ import annotations

import base64
import io
import re
from pathlib import Path

import pytest
from PIL import Image

from lipe_engine.captioning import caption_identity
from lipe_engine.captioning.llava import (
    LlavaCaptioner,
    check_pair,
    choose_handler,
    gguf_metadata,
    image_data_uri,
)
from lipe_engine.errors import InputError, LipeError, ModelLoadError
from lipe_engine.testing.gguf_models import build_fake_mmproj, build_tiny_llama_gguf, build_tiny_mmproj

ALL = ["llava15", "llava16", "mtmd", "moondream", "nanollava", "minicpmv26", "qwen25vl"]


@pytest.fixture(scope="module")
def ggufs(tmp_path_factory) -> tuple[Path, Path]:
    pytest.importorskip("llama_cpp", reason="llama-cpp-python not installed")

    d = tmp_path_factory.mktemp("llava")
    return build_tiny_llama_gguf(d / "tiny-llava.gguf"), build_tiny_mmproj(d / "mmproj-tiny.gguf")


class FakeHandler:
    """Stands in for Llava15ChatHandler.__call__: records what llama-cpp hands it."""

    def __init__(self) -> None:
        self.calls: list[list[dict]] = []
        self.llama = None

    def __call__(self, *, llama, messages, **kwargs):
        self.llama = llama
        self.calls.append(messages)
        n = len(self.calls)
        text = f'Sure! Here is the caption: "Medium shot, photo, facing the camera, a dog number {n}, sitting."'
        return {"id": "x", "object": "chat.completion", "created": 0, "model": "fake",
                "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
                "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}}


@pytest.fixture()
def fake_handler(monkeypatch) -> FakeHandler:
    handler = FakeHandler()
    monkeypatch.setattr("lipe_engine.captioning.llava.make_handler", lambda *a, **k: handler)
    return handler


def test_handler_is_picked_from_the_files_or_the_setting(tmp_path: Path) -> None:
    llava15 = gguf_metadata(build_fake_mmproj(tmp_path / "a.gguf"))
    llava16 = gguf_metadata(build_fake_mmproj(tmp_path / "b.gguf", pinpoints=True))
    other = gguf_metadata(build_fake_mmproj(tmp_path / "c.gguf", projector="idefics3"))
    model = {"general.name": "llava v1.5 7b"}
    assert choose_handler(model, llava15, ALL) == "llava15"
    assert choose_handler(model, llava16, ALL) == "llava16"
    assert choose_handler({"general.name": "x", "tokenizer.chat_template": "{{x}}"}, other, ALL) == "mtmd"
    assert choose_handler({"general.name": "moondream2"}, llava15, ALL) == "moondream"
    assert choose_handler(model, llava15, ALL, wanted="Llava-1.6") == "llava16"
    assert choose_handler(model, llava16, ["llava15"]) == "llava15"  # older llama-cpp-python
    with pytest.raises(InputError, match="chat handler 'qwen25vl' is not offered"):
        choose_handler(model, llava15, ["llava15"], wanted="qwen25vl")


def test_missing_wrong_or_swapped_files_give_one_line_errors(ggufs, tmp_path: Path) -> None:
    model, mmproj = ggufs
    not_gguf = tmp_path / "notes.gguf"
    not_gguf.write_text("hello")
    cases = [
        ((None, mmproj), "no LLaVA model configured"),
        ((model, ""), "no LLaVA projector"),
        ((tmp_path / "gone.gguf", mmproj), "does not exist"),
        ((not_gguf, mmproj), "is not a GGUF file"),
        ((mmproj, model), "is a projector (mmproj), not the language model"),
        ((model, model), "is not a multimodal projector"),
    ]
    for args, text in cases:
        with pytest.raises(LipeError, match=text.replace("(", r"\(").replace(")", r"\)")) as err:
            check_pair(*args)
        assert "\n" not in str(err.value) and str(err.value).endswith(".")


def test_photos_are_sent_as_downscaled_jpeg_data_uris() -> None:
    uri = image_data_uri(Image.new("RGB", (2000, 1000), (10, 200, 30)), max_side=672)
    head, data = uri.split(",", 1)
    assert head == "data:image/jpeg;base64"
    with Image.open(io.BytesIO(base64.b64decode(data))) as im:
        assert im.format == "JPEG" and im.size == (672, 336)
    small = image_data_uri(Image.new("L", (50, 40)))  # never upscaled, grey becomes RGB
    with Image.open(io.BytesIO(base64.b64decode(small.split(",", 1)[1]))) as im:
        assert im.size == (50, 40) and im.mode == "RGB"


def test_one_fresh_single_turn_per_photo_and_the_model_is_closed(ggufs, fake_handler) -> None:
    model, mmproj = ggufs
    with LlavaCaptioner(model, mmproj, n_gpu_layers=0, n_ctx=256) as cap:
        assert cap.handler_name == "llava15"
        a = cap.describe(Image.new("RGB", (900, 600)), "describe it")
        b = cap.describe(Image.new("RGB", (64, 64)), "describe it")
    assert "dog number 1" in a and "dog number 2" in b
    assert len(fake_handler.calls) == 2
    for messages in fake_handler.calls:
        assert len(messages) == 1 and messages[0]["role"] == "user"  # no history between photos
        image_part, text_part = messages[0]["content"]
        assert image_part["image_url"]["url"].startswith("data:image/jpeg;base64,")
        assert text_part == {"type": "text", "text": "describe it"}
    llama = fake_handler.llama
    assert getattr(llama, "_ctx", None) is None or getattr(llama._ctx, "ctx", None) is None  # memory freed


def test_the_real_handler_rejects_a_projector_without_a_vision_tower(ggufs, tmp_path: Path) -> None:
    model, _ = ggufs
    empty = build_fake_mmproj(tmp_path / "mmproj-empty.gguf")
    with LlavaCaptioner(model, empty, n_gpu_layers=0, n_ctx=256) as cap, pytest.raises(ModelLoadError) as err:
        cap.describe(Image.new("RGB", (64, 64)), "describe it")
    assert "\n" not in str(err.value)


def test_real_llava_handler_captions_the_identity_end_to_end(library, ggufs) -> None:
    """No fake: Llava15ChatHandler + mtmd encode each photo with the tiny projector, the tiny LLM answers."""
    lib, ident = library
    model, mmproj = ggufs
    n = caption_identity(lib, ident.id, llava=model, mmproj=mmproj, n_gpu_layers=0)
    assert n == 3
    for link in lib.identity_photos(ident.id, role="reference"):
        cap = lib.get_caption(link.photo, identity=ident.id)
        assert cap is not None and "llava15" in cap.model
        assert len(re.findall(r"\bsks dog\b", cap.text)) == 1 and len(cap.text.split()) <= 72


@pytest.fixture()
def library(tmp_path: Path):
    from lipe_engine.library import Library
    from lipe_engine.testing.libraries import make_library

    data, _folder = make_library(tmp_path, 4)
    with Library.open(data) as lib:
        ident = lib.create_identity("Rex", "dog")
        lib.add_identity_photos(ident, lib.list_photos()[:3], role="reference")
        yield lib, ident


def test_caption_identity_stores_captions_and_keeps_user_edits(library, ggufs, fake_handler) -> None:
    lib, ident = library
    model, mmproj = ggufs
    photos = [link.photo for link in lib.identity_photos(ident.id, role="reference")]
    lib.set_caption(photos[0], "my own words about sks dog", identity=ident.id, by_user=True)
    events = []
    n = caption_identity(lib, ident.id, llava=model, mmproj=mmproj, progress=events.append, n_gpu_layers=0)
    assert n == 2 and len(fake_handler.calls) == 2  # the edited photo was not even sent
    assert lib.get_caption(photos[0], identity=ident.id).text == "my own words about sks dog"
    cap = lib.get_caption(photos[1], identity=ident.id)
    assert cap.text.startswith("Medium shot, photo, facing the camera, a sks dog number")
    assert not cap.edited_by_user and "tiny-llava.gguf" in cap.model and "perspective" in cap.prompt
    assert events[-1].step == events[-1].total == 3  # model load + 2 photos
    # only_missing: nothing left; overwrite_user_edits: the user's caption is replaced on request only
    assert caption_identity(lib, ident.id, llava=model, mmproj=mmproj, only_missing=True, n_gpu_layers=0) == 0
    assert caption_identity(lib, ident.id, llava=model, mmproj=mmproj, only_missing=True,
                            overwrite_user_edits=True, n_gpu_layers=0) == 1
    assert "sks dog number" in lib.get_caption(photos[0], identity=ident.id).text


def test_caption_identity_bad_inputs(library, ggufs, fake_handler, monkeypatch) -> None:
    lib, ident = library
    model, mmproj = ggufs
    for var in ("LIPE_LLAVA_GGUF", "LIPE_LLAVA_MMPROJ"):
        monkeypatch.delenv(var, raising=False)
    with pytest.raises(InputError, match="no LLaVA model configured"):
        caption_identity(lib, ident.id)
    lib.set_setting("llava_gguf", str(model))
    lib.set_setting("llava_mmproj", str(mmproj))  # settings are used when no path is passed
    empty = lib.create_identity("Nobody", "cat")
    with pytest.raises(InputError, match="has no reference photo"):
        caption_identity(lib, empty.id)
    broken = lib.identity_photos(ident.id, role="reference")[2].photo.path
    broken.write_bytes(b"not a jpeg")
    with pytest.raises(InputError, match="is not an image"):
        caption_identity(lib, ident.id, n_gpu_layers=0)
    assert fake_handler.calls == []  # failed before any model call
