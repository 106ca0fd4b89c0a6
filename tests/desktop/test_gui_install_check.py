"""The desktop runs `lipe doctor`'s checks at start: an untested package shows in the status bar with its
fix (and in the log); a healthy install shows nothing."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("PySide6")
pytest.importorskip("pytestqt")

pytestmark = pytest.mark.gui


def _open(qtbot, tmp_path: Path):
    from lipe_desktop.context import AppContext
    from lipe_desktop.main_window import MainWindow

    ctx = AppContext.open(tmp_path / "data")
    win = MainWindow(ctx)
    qtbot.addWidget(win)
    win.show()
    return ctx, win


def test_untested_package_is_shown_in_the_status_bar_and_logged(qtbot, tmp_path: Path, monkeypatch) -> None:
    from lipe_desktop import logs
    from lipe_engine import doctor

    real = doctor.installed_version
    monkeypatch.setattr(doctor, "installed_version",
                        lambda name: "5.24.0" if name == "transformers" else real(name))
    log_path = logs.setup_logging(tmp_path / "logdir")
    ctx, win = _open(qtbot, tmp_path)
    try:
        with qtbot.waitSignal(win.install_check.checked, timeout=60_000):
            pass
        label = win.install_check
        assert label.isVisible()
        assert "1 installation problem(s)" in label.text() and "transformers 5.24.0" in label.text()
        assert "pip install" in label.toolTip()
        text = log_path.read_text()
        assert "doctor: error" in text and "transformers 5.24.0" in text
    finally:
        win.close()
        ctx.close()


def test_healthy_install_shows_nothing(qtbot, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv("LIPE_SDXL_MODEL", raising=False)
    ctx, win = _open(qtbot, tmp_path)
    try:
        with qtbot.waitSignal(win.install_check.checked, timeout=60_000) as blocker:
            pass
        problems = [f for f in blocker.args[0] if f.is_problem]
        assert not problems, problems
        assert not win.install_check.isVisible()
    finally:
        win.close()
        ctx.close()
