"""First-run welcome dialog: lists models found on disk, preselects the toy model, downloads nothing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("PySide6")
pytest.importorskip("pytestqt")

from PySide6.QtCore import QTimer  # noqa: E402
from PySide6.QtWidgets import QApplication, QDialog  # noqa: E402

from lipe_desktop import first_run  # noqa: E402
from lipe_desktop.first_run import (  # noqa: E402
    SDXL_BASE_ID,
    FirstRunDialog,
    ModelOption,
    discovered_options,
    maybe_show_first_run,
)
from lipe_desktop.settings import AppSettings  # noqa: E402

pytestmark = pytest.mark.gui


@pytest.fixture(autouse=True)
def _no_downloads(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any attempt to fetch from the Hugging Face hub fails the test."""
    import huggingface_hub

    def boom(*_a, **_k):
        raise AssertionError("the first-run dialog must not download anything")

    for name in ("hf_hub_download", "snapshot_download"):
        monkeypatch.setattr(huggingface_hub, name, boom)
    monkeypatch.delenv("LIPE_NO_FIRST_RUN", raising=False)


@pytest.fixture
def toy_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    import lipe_engine.toyworld as toyworld

    d = tmp_path / "toy_model"
    d.mkdir()
    (d / "model_index.json").write_text(json.dumps({"_class_name": "StableDiffusionXLPipeline"}))
    monkeypatch.setattr(toyworld, "TOY_MODEL_DIR", d)
    return d


def _sdxl_folder(folder: Path) -> Path:
    """Just enough of a diffusers SDXL folder for discovery (configs + weight file names)."""
    index = {"_class_name": "StableDiffusionXLPipeline"}
    for part in ("unet", "vae", "text_encoder", "text_encoder_2"):
        index[part] = ["diffusers", "X"]
        (folder / part).mkdir(parents=True)
        (folder / part / "diffusion_pytorch_model.safetensors").write_bytes(b"\0" * 16)
    (folder / "unet" / "config.json").write_text(json.dumps({"in_channels": 4}))
    (folder / "model_index.json").write_text(json.dumps(index))
    return folder


def _gguf(path: Path, arch: str, name: str | None = None) -> None:
    import gguf
    import numpy as np

    path.parent.mkdir(parents=True, exist_ok=True)
    w = gguf.GGUFWriter(str(path), arch)
    if name:
        w.add_name(name)
    w.add_tensor("t", np.zeros(4, dtype=np.float32))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


@pytest.fixture
def machine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A home folder with an HF cache repo, a ComfyUI checkpoint folder and a LLaVA GGUF pair."""
    from lipe_engine.models import discovery

    home = tmp_path / "home"
    cache = home / ".cache" / "huggingface" / "hub"
    repo = cache / "models--stabilityai--stable-diffusion-xl-base-1.0"
    _sdxl_folder(repo / "snapshots" / "abc123")
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text("abc123")
    _sdxl_folder(home / "ComfyUI" / "models" / "diffusers" / "my-sdxl")
    sd15 = home / "models" / "sd15"
    sd15.mkdir(parents=True)
    (sd15 / "model_index.json").write_text(json.dumps({"_class_name": "StableDiffusionPipeline",
                                                       "text_encoder": ["transformers", "X"]}))
    llava = home / ".cache" / "lm-studio" / "models" / "llava"
    _gguf(llava / "llava-v1.6-mistral-7b.Q4_K_M.gguf", "llama", "llava-v1.6-mistral-7b")
    _gguf(llava / "mmproj-model-f16.gguf", "clip")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("LIPE_MODEL_DIRS", raising=False)
    monkeypatch.setattr(discovery, "hf_hub_cache", lambda: cache)
    return home


def _accept_with(monkeypatch: pytest.MonkeyPatch, pick=None) -> list[FirstRunDialog]:
    """Replace the modal exec: optionally pick a row by label, then press Start."""
    shown: list[FirstRunDialog] = []

    def fake_exec(self: FirstRunDialog) -> int:
        shown.append(self)
        if pick is not None:
            rows = [self.models.item(i).text() for i in range(self.models.count())]
            self.models.setCurrentRow(next(i for i, t in enumerate(rows) if pick in t))
        return QDialog.DialogCode.Accepted

    monkeypatch.setattr(FirstRunDialog, "exec", fake_exec)
    return shown


def test_toy_model_is_preselected_and_start_keeps_default(qtbot, tmp_path, toy_dir, monkeypatch) -> None:
    settings = AppSettings()
    shown = _accept_with(monkeypatch)
    changed = maybe_show_first_run(None, settings, tmp_path, options=[first_run.toy_option(),
                                                                      first_run.download_option()])
    assert len(shown) == 1
    dialog = shown[0]
    qtbot.addWidget(dialog)
    assert dialog.selected_model().kind == "toy" and dialog.start.isEnabled()
    assert not changed and settings.sdxl_model == "" and not settings.allow_downloads
    assert json.loads((tmp_path / "first-run.json").read_text())["choice"] == "toy"
    # Second start: no dialog.
    assert not maybe_show_first_run(None, settings, tmp_path)
    assert len(shown) == 1


def test_lists_models_found_on_disk_and_saves_the_choice(qtbot, tmp_path, toy_dir, machine, monkeypatch) -> None:
    options = discovered_options()
    labels = {o.label: o for o in options}
    assert labels["stabilityai/stable-diffusion-xl-base-1.0"].value == SDXL_BASE_ID  # HF cache: by repo id
    assert labels["my-sdxl"].value.endswith("my-sdxl") and labels["my-sdxl"].available
    assert not labels["sd15"].available, "an SD 1.5 model is listed but cannot be chosen"
    [llava] = [o for o in options if o.field == "llava_gguf"]
    assert llava.companion.endswith("mmproj-model-f16.gguf")

    data = tmp_path / "data"
    data.mkdir()
    settings = AppSettings()
    shown = _accept_with(monkeypatch, pick="my-sdxl")
    assert maybe_show_first_run(None, settings, data)  # discovery runs inside, as in the app
    qtbot.addWidget(shown[0])
    rows = [shown[0].models.item(i).text() for i in range(shown[0].models.count())]
    assert rows[0].startswith("Toy world model") and "sd15 (unavailable)" in rows
    assert not any("about 7 GB" in r for r in rows), "SDXL base is cached: no download offered"
    assert "Found 2 usable SDXL model(s)" in shown[0].summary.text()
    saved = AppSettings.load(data)
    assert saved.sdxl_model.endswith("my-sdxl") and not saved.allow_downloads
    assert saved.llava_gguf.endswith("Q4_K_M.gguf") and saved.llava_mmproj.endswith("mmproj-model-f16.gguf")


def test_download_only_after_an_explicit_choice(qtbot, tmp_path, toy_dir, monkeypatch) -> None:
    toy = first_run.toy_option()
    missing_toy = ModelOption("toy", toy.label, "", available=False)
    dialog = FirstRunDialog([missing_toy, first_run.download_option()])
    qtbot.addWidget(dialog)
    # With no local model the dialog selects nothing, rather than a 7 GB download.
    assert dialog.selected_model() is None and not dialog.start.isEnabled()
    dialog.models.setCurrentRow(1)
    assert dialog.start.isEnabled()
    settings = AppSettings()
    assert dialog.apply_to(settings)
    assert settings.sdxl_model == SDXL_BASE_ID and settings.allow_downloads


def test_real_modal_skip_leaves_settings_and_is_not_shown_again(qtbot, tmp_path, toy_dir) -> None:
    settings = AppSettings()
    seen: list[str] = []

    def press_skip() -> None:
        dialog = QApplication.activeModalWidget()
        if dialog is None:  # not shown yet: try again shortly
            QTimer.singleShot(20, press_skip)
            return
        seen.append(dialog.windowTitle())
        dialog.skip.click()

    QTimer.singleShot(0, press_skip)
    assert not maybe_show_first_run(None, settings, tmp_path, options=[first_run.toy_option()])
    assert seen == ["Welcome to LIPE Desktop"]
    assert settings == AppSettings() and not (tmp_path / "desktop-settings.json").exists()
    assert json.loads((tmp_path / "first-run.json").read_text())["choice"] == "skipped"
    assert not first_run.needs_first_run(settings, tmp_path)


def test_not_shown_when_configured_or_suppressed(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(FirstRunDialog, "exec", lambda self: pytest.fail("dialog shown"))
    assert not maybe_show_first_run(None, AppSettings(sdxl_model="/models/sdxl"), tmp_path)
    monkeypatch.setenv("LIPE_NO_FIRST_RUN", "1")
    assert not maybe_show_first_run(None, AppSettings(), tmp_path)
    assert not (tmp_path / "first-run.json").exists()


def test_toy_option_follows_the_engines_default_model(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr("lipe_engine.locations.toy_model_dir", lambda: tmp_path / "not_trained_yet")
    opt = first_run.toy_option()
    assert not opt.available and "not_trained_yet" in opt.detail
    (tmp_path / "not_trained_yet").mkdir()
    (tmp_path / "not_trained_yet" / "model_index.json").write_text("{}")
    opt = first_run.toy_option()
    assert opt.available and opt.value == "" and "ready now" in opt.label


def test_run_at_start_tells_the_app_when_settings_changed(qtbot, tmp_path, toy_dir, monkeypatch) -> None:
    from PySide6.QtCore import QObject, Signal

    class Ctx(QObject):  # the two things of lipe_desktop.context.AppContext it uses
        settingsChanged = Signal()

        def __init__(self) -> None:
            super().__init__()
            self.settings, self.data_dir = AppSettings(), tmp_path

    ctx = Ctx()
    _accept_with(monkeypatch, pick="about 7 GB")
    monkeypatch.setattr(first_run, "discovered_options", lambda: [])
    with qtbot.waitSignal(ctx.settingsChanged, timeout=1000):
        assert first_run.run_at_start(ctx)
    assert ctx.settings.sdxl_model == SDXL_BASE_ID and ctx.settings.allow_downloads
    assert AppSettings.load(tmp_path).sdxl_model == SDXL_BASE_ID
    assert not first_run.run_at_start(ctx)  # second start: nothing
