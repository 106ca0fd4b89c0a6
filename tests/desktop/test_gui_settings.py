"""Settings: saved as JSON in the data dir; each model location validated with a one-line message."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("PySide6")
pytest.importorskip("pytestqt")

pytestmark = pytest.mark.gui


def test_settings_round_trip_and_unknown_keys(tmp_path: Path) -> None:
    from lipe_desktop.settings import AppSettings

    s = AppSettings(sdxl_model="/x", device="cpu", memory_mode="low")
    s.save(tmp_path)
    (tmp_path / "other.json").write_text("{}")
    loaded = AppSettings.load(tmp_path)
    assert loaded == s
    (tmp_path / "desktop-settings.json").write_text('{"device": "cpu", "from_the_future": 1}')
    assert AppSettings.load(tmp_path).device == "cpu"
    (tmp_path / "desktop-settings.json").write_text("not json")
    assert AppSettings.load(tmp_path) == AppSettings()


def test_dialog_validates_each_location(qtbot, tmp_path: Path, tiny_sdxl_dir: Path) -> None:
    from PySide6.QtWidgets import QDialogButtonBox

    from lipe_desktop.settings import AppSettings
    from lipe_desktop.settings_dialog import SettingsDialog

    dlg = SettingsDialog(AppSettings())
    qtbot.addWidget(dlg)
    ok = dlg.buttons.button(QDialogButtonBox.StandardButton.Ok)
    assert dlg.revalidate() == {} and ok.isEnabled()
    dlg.edits["sdxl_model"].setText(str(tmp_path / "nope"))
    assert "does not exist" in dlg.messages["sdxl_model"].text() and not ok.isEnabled()
    dlg.edits["sdxl_model"].setText(str(tmp_path))
    assert "not an SDXL model" in dlg.messages["sdxl_model"].text()
    dlg.edits["sdxl_model"].setText("stabilityai/not-in-cache-xyz")
    assert "Allow downloads" in dlg.messages["sdxl_model"].text()
    dlg.allow_downloads.setChecked(True)
    assert "sdxl_model" not in dlg.revalidate()
    dlg.allow_downloads.setChecked(False)
    dlg.edits["sdxl_model"].setText(str(tiny_sdxl_dir))
    assert dlg.messages["sdxl_model"].text() == "" and ok.isEnabled()
    txt = tmp_path / "model.txt"
    txt.write_text("x")
    dlg.edits["llm_gguf"].setText(str(txt))
    assert "not a .gguf file" in dlg.messages["llm_gguf"].text()
    dlg.edits["llm_gguf"].setText("")
    dlg.edits["llava_gguf"].setText(str(txt.with_suffix(".gguf")))
    assert "does not exist" in dlg.messages["llava_gguf"].text()
    assert "mmproj" in dlg.messages["llava_mmproj"].text()
    dlg.edits["llava_gguf"].setText("")
    import torch

    if not torch.cuda.is_available():
        dlg.device.setCurrentText("cuda")
        assert "CUDA is not available" in dlg.device_msg.text() and not ok.isEnabled()
        dlg.device.setCurrentText("cpu")
    dlg.memory.setCurrentText("low")
    assert "after every edit" in dlg.memory_help.text()
    s = dlg.result_settings()
    assert s.sdxl_model == str(tiny_sdxl_dir) and s.device == "cpu" and s.memory_mode == "low"


def test_empty_model_falls_back_to_the_shipped_toy_model(tmp_path: Path, monkeypatch) -> None:
    from lipe_desktop.settings import AppSettings

    toy = tmp_path / "toy_model"
    toy.mkdir()
    monkeypatch.setattr("lipe_engine.locations.toy_model_dir", lambda: toy)
    assert AppSettings().model_source() == ""  # not installed (no model_index.json): ask the user
    (toy / "model_index.json").write_text("{}")
    assert AppSettings().model_source() == str(toy)
    assert AppSettings(sdxl_model=" /my/sdxl ").model_source() == "/my/sdxl"


def test_downloads_only_when_allowed_and_offline_failure_is_one_line(tmp_path: Path) -> None:
    from lipe_desktop.bridge import download_model, needs_download
    from lipe_engine.errors import LipeError
    from lipe_engine.progress import CancelToken

    assert not needs_download("stabilityai/not-cached-xyz", allow_downloads=False)
    assert needs_download("stabilityai/not-cached-xyz", allow_downloads=True)
    assert not needs_download(str(tmp_path), allow_downloads=True)  # a local folder is never fetched
    with pytest.raises(LipeError) as err:  # the tests run with HF_HUB_OFFLINE=1: nothing leaves
        download_model("stabilityai/not-cached-xyz", progress=lambda _e: None, cancel=CancelToken())
    assert "could not download 'stabilityai/not-cached-xyz'" in str(err.value)
    assert "\n" not in str(err.value) and "Settings" in str(err.value)
