"""One place knows where models are: flag > library setting > environment > shipped default, everywhere.

`lipe edit` and `lipe eval` without --model use the configured SDXL model (they used to fall back to
the toy model), the desktop writes its choice where they find it, and nothing in the engine reads a
file of the desktop app.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from lipe_engine import locations
from lipe_engine.cli import main
from lipe_engine.library import Library

ROOT = Path(__file__).resolve().parents[2]


class Loaded(Exception):
    """Raised by the stand-in loader: the test only needs to know which model a command asked for."""


@pytest.fixture
def asked(monkeypatch) -> list[str]:
    seen: list[str] = []

    def fake_load_sdxl(source, **_kw):  # type: ignore[no-untyped-def]
        seen.append(str(source))
        raise Loaded(source)

    monkeypatch.setattr("lipe_engine.models.loader.load_sdxl", fake_load_sdxl)
    monkeypatch.delenv("LIPE_SDXL_MODEL", raising=False)
    return seen


@pytest.fixture
def data(tmp_path: Path) -> Path:
    folder = tmp_path / "data"
    Library.open(folder).close()
    return folder


def _edit(data: Path, tmp_path: Path, *extra: str) -> None:
    photo = tmp_path / "photo.png"
    if not photo.exists():
        Image.new("RGB", (64, 64), (120, 90, 60)).save(photo)
    with pytest.raises(Loaded):
        main(["edit", str(photo), "--prompt-source", "a photo of a sks dog", "--prompt-target",
              "a photo of a sks dog jumping", "--identity-prompt", "a sks dog", "--out",
              str(tmp_path / "out.png"), "--data-dir", str(data), *extra])


def test_order_is_flag_then_setting_then_environment_then_shipped(data: Path, monkeypatch) -> None:
    monkeypatch.delenv("LIPE_CLIP_MODEL", raising=False)
    with Library.open(data) as lib:
        assert locations.resolve("clip_model", None, lib) == "openai/clip-vit-large-patch14"
        monkeypatch.setenv("LIPE_CLIP_MODEL", "/env/clip")
        assert locations.resolve("clip_model", None, lib) == "/env/clip"
        locations.store_model_choices(lib, {"clip_model": " /setting/clip "})
        assert lib.get_setting("clip_model") == "/setting/clip"
        assert locations.resolve("clip_model", None, lib) == "/setting/clip"
        assert locations.resolve("clip_model", "/flag/clip", lib) == "/flag/clip"
        locations.store_model_choices(lib, {"clip_model": ""})  # cleared: the environment again
        assert lib.get_setting("clip_model") is None and locations.resolve("clip_model", None, lib) == "/env/clip"
        with pytest.raises(KeyError, match="unknown model key"):
            locations.resolve("sdxl", None, lib)


def test_the_old_embedding_model_key_moves_to_the_one_clip_key(data: Path, monkeypatch) -> None:
    """`lipe library suggest` read `embedding_model`, the desktop `clip_model`: one key now, value kept."""
    for var in ("LIPE_CLIP_MODEL", "LIPE_EMBEDDING_MODEL"):
        monkeypatch.delenv(var, raising=False)
    with Library.open(data) as lib:
        lib.set_setting("embedding_model", "/old/clip")
        assert locations.resolve("clip_model", None, lib) == "/old/clip"
        assert lib.get_setting("clip_model") == "/old/clip" and lib.get_setting("embedding_model") is None
        # where both were set, the desktop's clip_model wins and the old value stays unread
        lib.set_setting("embedding_model", "/older/clip")
        assert locations.resolve("clip_model", None, lib) == "/old/clip"
        with pytest.raises(KeyError, match="unknown model key"):
            locations.resolve("embedding_model", None, lib)
        lib.set_setting("clip_model", None)
        lib.set_setting("embedding_model", None)
        monkeypatch.setenv("LIPE_EMBEDDING_MODEL", "/env/old")  # the old variable, read when the new one is unset
        assert locations.resolve("clip_model", None, lib) == "/env/old"
        monkeypatch.setenv("LIPE_CLIP_MODEL", "/env/new")
        assert locations.resolve("clip_model", None, lib) == "/env/new"


def test_lipe_edit_without_model_uses_the_configured_one(asked: list[str], data: Path, tmp_path: Path,
                                                         monkeypatch) -> None:
    _edit(data, tmp_path)
    assert asked[-1] == str(locations.toy_model_dir())  # nothing configured: the shipped toy model
    monkeypatch.setenv("LIPE_SDXL_MODEL", "/env/sdxl")
    _edit(data, tmp_path)
    assert asked[-1] == "/env/sdxl"
    with Library.open(data) as lib:
        lib.set_setting("sdxl_model", "/setting/sdxl")
    _edit(data, tmp_path)
    assert asked[-1] == "/setting/sdxl"  # the library setting before the environment
    _edit(data, tmp_path, "--model", "/flag/sdxl")
    assert asked[-1] == "/flag/sdxl"  # the flag before everything


def test_lipe_edit_does_not_create_a_library_to_read_a_setting(asked: list[str], tmp_path: Path,
                                                               monkeypatch) -> None:
    monkeypatch.setenv("LIPE_SDXL_MODEL", "/env/sdxl")
    _edit(tmp_path / "none", tmp_path)
    assert asked[-1] == "/env/sdxl" and not (tmp_path / "none").exists()


def test_lipe_eval_without_model_uses_the_configured_one(asked: list[str], data: Path, tmp_path: Path,
                                                         monkeypatch) -> None:
    class CallsTheFactories:
        def __init__(self, dataset, config, model_factory, scorer_factory, progress=None):  # type: ignore[no-untyped-def]
            self.model_factory = model_factory

        def run(self):  # type: ignore[no-untyped-def]
            self.model_factory()

    monkeypatch.setattr("lipe_engine.evaluation.runner.Evaluation", CallsTheFactories)
    with Library.open(data) as lib:
        lib.set_setting("sdxl_model", "/setting/sdxl")
    monkeypatch.setenv("LIPE_SDXL_MODEL", "/env/sdxl")
    args = ["eval", str(tmp_path / "dataset"), "--out", str(tmp_path / "eval"), "--data-dir", str(data)]
    with pytest.raises(Loaded):
        main(args)
    assert asked[-1] == "/setting/sdxl"
    with pytest.raises(Loaded):
        main([*args, "--model", "/flag/sdxl"])
    assert asked[-1] == "/flag/sdxl"


def test_desktop_writes_its_model_choice_where_the_cli_finds_it(qapp, asked: list[str], data: Path,
                                                                tmp_path: Path, monkeypatch) -> None:
    pytest.importorskip("PySide6")
    from lipe_desktop.context import AppContext
    from lipe_desktop.settings import AppSettings

    # a choice made before the library existed (first run) lives in the desktop's JSON: moved over
    AppSettings(sdxl_model="/first-run/sdxl", device="cpu").save(data)
    ctx = AppContext.open(data)
    try:
        assert ctx.settings.model_source() == "/first-run/sdxl" and ctx.settings.device == "cpu"
        assert ctx.library.get_setting("sdxl_model") == "/first-run/sdxl"
        chosen = AppSettings(**{**ctx.settings.__dict__, "sdxl_model": "/desktop/sdxl"})
        ctx.save_settings(chosen)
        assert ctx.library.get_setting("sdxl_model") == "/desktop/sdxl"
    finally:
        ctx.close()
    assert "sdxl_model" not in (data / "desktop-settings.json").read_text()  # one home for the choice
    _edit(data, tmp_path)
    assert asked[-1] == "/desktop/sdxl"
    ctx = AppContext.open(data)
    try:
        assert ctx.settings.sdxl_model == "/desktop/sdxl" and ctx.settings.device == "cpu"
        # set by `lipe` (a library setting): the desktop uses it too
        ctx.library.set_setting("sdxl_model", "/cli/sdxl")
    finally:
        ctx.close()
    ctx = AppContext.open(data)
    try:
        assert ctx.settings.model_source() == "/cli/sdxl"
    finally:
        ctx.close()


def test_the_engine_reads_no_desktop_file_and_imports_nothing_above_it() -> None:
    for path in (ROOT / "lipe_engine").rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        assert "desktop-settings" not in text or path.name == "locations.py", path
        assert "import lipe_desktop" not in text and "from lipe_desktop" not in text, path
    training = (ROOT / "lipe_engine" / "training").rglob("*.py")
    assert not [p for p in training if "toyworld" in p.read_text(encoding="utf-8")]


def test_doctor_uses_the_same_place(data: Path, monkeypatch) -> None:
    from lipe_engine.doctor import check_models

    monkeypatch.setenv("LIPE_SDXL_MODEL", "/env/sdxl")
    with Library.open(data) as lib:
        lib.set_setting("sdxl_model", str(locations.toy_model_dir()))
        findings = check_models(lib)
    assert any(f.severity == "ok" and str(locations.toy_model_dir()) in f.what for f in findings), findings
