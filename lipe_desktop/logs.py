"""Logging to ``lipe-desktop.log`` in the platform's log folder and turning exceptions into readable messages.

The folder is the engine's one answer for it (``lipe_engine.app_dirs.user_dir("log")``: on Linux
``~/.local/state/lipe-desktop/log``, ``$LIPE_LOG_DIR`` overrides).
"""

from __future__ import annotations

import contextlib
import logging
import logging.handlers
from pathlib import Path

from lipe_engine.app_dirs import user_dir
from lipe_engine.errors import Cancelled, LipeError

log = logging.getLogger("lipe_desktop")

LOG_NAME = "lipe-desktop.log"
_log_file: Path | None = None


def setup_logging(log_dir: Path | None = None, level: int = logging.INFO) -> Path:
    """Log to a rotating file in ``log_dir`` (default: the app's log folder), nothing to dialogs."""
    global _log_file
    logs = log_dir or user_dir("log")
    logs.mkdir(parents=True, exist_ok=True)
    path = logs / LOG_NAME
    root = logging.getLogger()
    for h in list(root.handlers):
        if getattr(h, "_lipe_desktop", False):
            root.removeHandler(h)
            h.close()
    handler = logging.handlers.RotatingFileHandler(path, maxBytes=2_000_000, backupCount=3, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler._lipe_desktop = True  # type: ignore[attr-defined]
    handler.addFilter(RepeatFilter())
    root.addHandler(handler)
    root.setLevel(min(root.level or level, level))
    _log_file = path
    return path


class RepeatFilter(logging.Filter):
    """Keeps the first of the libraries' chatty repeated warnings and drops the rest: CLIP's
    "truncated because CLIP can only handle sequences up to 77 tokens" came once per class image
    and per edit prompt and made up two-thirds of the log."""

    PATTERNS = ("can only handle sequences up to",)

    def __init__(self) -> None:
        super().__init__()
        self.seen: set[str] = set()
        self.dropped = 0

    def filter(self, record: logging.LogRecord) -> bool:
        msg = record.getMessage()
        key = next((p for p in self.PATTERNS if p in msg), None)
        if key is None:
            return True
        if key in self.seen:
            self.dropped += 1
            return False
        self.seen.add(key)
        record.msg, record.args = msg + " (repeats of this warning are not logged)", ()
        return True


def log_file() -> Path | None:
    return _log_file


def user_message(exc: BaseException) -> str:
    """One readable line for a dialog; the traceback goes to the log file, never to the user.

    An unexpected error (not a LipeError, cancel, memory or file error) is logged here with its
    traceback unless :func:`log_exception` already did: the message points to the log, so the
    traceback must be in it whoever caught the exception."""
    if isinstance(exc, LipeError):
        return str(exc)
    if isinstance(exc, Cancelled):
        return "Cancelled."
    if isinstance(exc, MemoryError):
        return "Out of memory: close other programs or choose a lower memory mode in Settings."
    if isinstance(exc, OSError) and exc.strerror:
        where = f" ({exc.filename})" if exc.filename else ""
        return f"{exc.strerror}{where}: check the file or folder and try again."
    if not getattr(exc, "_lipe_logged", False):
        log_exception(exc, "unexpected error")
    where = f" Details are in {_log_file}." if _log_file else ""
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return f"Something went wrong ({type(exc).__name__}: {text[:200]}).{where}"


def log_exception(exc: BaseException, what: str) -> None:
    if isinstance(exc, (LipeError, Cancelled)):
        log.warning("%s: %s", what, exc)
    else:
        log.error("%s failed", what, exc_info=(type(exc), exc, exc.__traceback__))
    with contextlib.suppress(AttributeError):  # an exception type without __dict__
        exc._lipe_logged = True  # type: ignore[attr-defined]  # logged once, not again by user_message
