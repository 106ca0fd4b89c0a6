"""Where the app keeps its own files: one app name for data, cache and logs.

Every folder the app writes outside a user's photo folders comes from :func:`user_dir`, so the
data folder, the cache and the logs all carry the same name (``lipe-desktop``, like the desktop
entry and the package) in the platform's usual places (platformdirs): on Linux
``~/.local/share/lipe-desktop``, ``~/.cache/lipe-desktop`` and ``~/.local/state/lipe-desktop/log``.
An environment variable overrides each one (tests, portable setups).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

import platformdirs

APP_NAME = "lipe-desktop"
# Before the folders shared one name the data folder was called "LIPE"; a library found there is
# used as it is (never moved behind the user's back: the GUI and the CLI may both have it open).
LEGACY_DATA_NAME = "LIPE"

Kind = Literal["data", "cache", "log"]
ENV_VARS: dict[str, str] = {"data": "LIPE_DATA_DIR", "cache": "LIPE_CACHE_DIR", "log": "LIPE_LOG_DIR"}


def user_dir(kind: Kind) -> Path:
    """The app's ``data``, ``cache`` or ``log`` folder (not created here)."""
    if kind not in ENV_VARS:
        raise ValueError(f"unknown folder kind {kind!r}: use one of {', '.join(ENV_VARS)}")
    env = os.environ.get(ENV_VARS[kind], "").strip()
    if env:
        return Path(env).expanduser()
    if kind == "cache":
        return Path(platformdirs.user_cache_dir(APP_NAME, appauthor=False))
    if kind == "log":
        return Path(platformdirs.user_log_dir(APP_NAME, appauthor=False))
    data = Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))
    legacy = Path(platformdirs.user_data_dir(LEGACY_DATA_NAME, appauthor=False))
    if not data.exists() and legacy.is_dir() and any(legacy.iterdir()):
        return legacy
    return data
