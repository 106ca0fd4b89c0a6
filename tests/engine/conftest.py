"""Fixtures of the engine's tests that run the queue and the CLI on the tiny model."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest


@pytest.fixture()
def tiny_model_library(tmp_path: Path, monkeypatch, tiny_sdxl_dir: Path) -> Callable[[int], Path]:
    """``tiny_model_library(n_photos)``: the data dir of a generated, scanned library whose editing
    model is the tiny SDXL (stored as `--model` would store it), with no model from the environment."""
    from lipe_engine.library import Library
    from lipe_engine.testing.libraries import HELPER_MODEL_VARIABLES, make_library

    for var in HELPER_MODEL_VARIABLES:
        monkeypatch.delenv(var, raising=False)

    def make(n_photos: int) -> Path:
        data, _ = make_library(tmp_path, n_photos)
        with Library.open(data) as lib:
            lib.set_setting("sdxl_model", str(tiny_sdxl_dir))
        return data

    return make
