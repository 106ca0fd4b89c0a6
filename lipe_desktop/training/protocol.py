"""The JSON-lines protocol between the training child process and the GUI (no Qt here).

Each stdout line the child prints is one JSON object with a ``type``:
``progress`` (stage, step, total, eta_s, loss, global_step), ``sample`` (path), ``log`` (text),
``done`` (lora, lora_id), ``error`` (message), ``cancelled``. Anything else on stdout is logged.
"""

from __future__ import annotations

import json
from typing import Any

PREFIX = "@lipe "  # lines the GUI reads start with this, so library/warning output cannot confuse it


def encode(kind: str, **fields: Any) -> str:
    return PREFIX + json.dumps({"type": kind, **fields}, default=str)


def decode(line: str) -> dict[str, Any] | None:
    line = line.strip()
    if not line.startswith(PREFIX):
        return None
    try:
        msg = json.loads(line[len(PREFIX) :])
    except ValueError:
        return None
    return msg if isinstance(msg, dict) and "type" in msg else None
