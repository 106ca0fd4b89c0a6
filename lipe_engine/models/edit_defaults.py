"""Edit settings a model ships with: ``lipe_edit_defaults.json`` next to its weights.

The ``EditParams`` defaults (the paper's 100 steps; the rest this project's choices for SDXL at
1024 px, see ``EditParams``) suit SDXL photos. A model that sees
other photos (the 64 px toy model) needs others, e.g. attention recorded on a finer grid, and a
user who picks it in the app or CLI should get them without knowing. The file holds a JSON object
of ``EditParams`` fields; whatever the user sets explicitly wins over it. This module only reads
the file (no torch import, so the GUI can show the values); ``lipe_engine.nima.defaults`` checks them.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..errors import InputError

EDIT_DEFAULTS_FILE = "lipe_edit_defaults.json"


def _not_a_number(word: str) -> float:
    raise ValueError(f"{word}, which no edit setting can take")


def defaults_path(source: str | Path | None) -> Path | None:
    """The defaults file of the model folder ``source``; None for files, hub ids and folders without one."""
    if not source or not str(source).strip():
        return None
    path = Path(str(source).strip()).expanduser() / EDIT_DEFAULTS_FILE
    return path if path.is_file() else None


def read_edit_defaults(source: str | Path | None) -> dict[str, Any]:
    """The JSON object in the model's defaults file ({} when it has none)."""
    path = defaults_path(source)
    if path is None:
        return {}
    try:
        values = json.loads(path.read_text(encoding="utf-8"), parse_constant=_not_a_number)
    except ValueError as exc:
        if isinstance(exc, (json.JSONDecodeError, UnicodeDecodeError)):
            raise InputError(f"'{path}' is not readable JSON ({exc})",
                             "fix it or delete it to use the paper's settings") from exc
        raise InputError(f"'{path}' holds {exc}", "give finite numbers, or delete the file to use the paper's "
                         "settings") from exc
    except OSError as exc:
        raise InputError(f"'{path}' is not readable JSON ({exc})",
                         "fix it or delete it to use the default settings") from exc
    if not isinstance(values, dict):
        raise InputError(f"'{path}' does not hold a JSON object", "fix it or delete it to use the default settings")
    return values
