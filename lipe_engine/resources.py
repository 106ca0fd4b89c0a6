"""The files the app ships (toy model, icons, ...): one place that finds them.

They live in the top-level ``resources/`` folder of a checkout. A wheel carries the same folder as
``lipe_engine/_resources`` (``pyproject.toml`` maps it there), so an installed copy and a checkout
find them the same way. Every caller goes through :func:`resource_path`.
"""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent
# installed wheel first: in a checkout that folder does not exist, the top-level one does
_CANDIDATES = (_PACKAGE / "_resources", _PACKAGE.parent / "resources")


def resources_dir() -> Path:
    """The shipped resources folder (installed wheel or checkout)."""
    for folder in _CANDIDATES:
        if folder.is_dir():
            return folder
    return _CANDIDATES[-1]  # callers check the file they need and say what is missing


def resource_path(*parts: str) -> Path:
    """``resource_path("icons", "lipe-desktop.svg")``: a shipped file or folder (it may be missing)."""
    return resources_dir().joinpath(*parts)
