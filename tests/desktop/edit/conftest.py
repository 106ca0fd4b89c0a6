"""The edit tests' widget fixture: a widget of the edit window alone, shown at a given size."""

from __future__ import annotations

from typing import Any

import pytest


@pytest.fixture
def show_widget(qtbot):
    """``show_widget(widget, width, height)``: the widget, owned by the test, resized and shown."""
    def show(widget: Any, width: int, height: int) -> Any:
        qtbot.addWidget(widget)
        widget.resize(width, height)
        widget.show()
        return widget

    return show
