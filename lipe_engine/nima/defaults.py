"""The edit settings for a model: ``EditParams``' defaults, overridden by those the model ships with
(``lipe_edit_defaults.json``, see :mod:`lipe_engine.models.edit_defaults`), overridden by the user's."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from ..errors import InputError
from ..models.edit_defaults import defaults_path, read_edit_defaults
from .editor import EditParams


def model_edit_defaults(source: str | Path | None) -> dict[str, Any]:
    """The model's shipped ``EditParams`` overrides, checked: unknown names and bad values are
    reported as the file's, before any edit starts."""
    values = read_edit_defaults(source)
    if not values:
        return {}
    path = defaults_path(source)
    known = {f.name for f in dataclasses.fields(EditParams)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise InputError(f"'{path}' names unknown edit settings {unknown}", "use EditParams names or delete the file")
    try:
        EditParams(**values).validate()
    except (InputError, TypeError) as exc:
        raise InputError(f"'{path}' holds a bad edit setting ({exc})", "fix it or delete the file") from exc
    return values


def edit_params_for(source: str | Path | None, **explicit: Any) -> EditParams:
    """``EditParams`` for the model ``source``: ``explicit`` values (None means not given) over the
    model's shipped settings over ``EditParams``' defaults."""
    given = {k: v for k, v in explicit.items() if v is not None}
    params = EditParams(**{**model_edit_defaults(source), **given})
    params.validate()  # a bad value fails here, before the caller loads a model
    return params
