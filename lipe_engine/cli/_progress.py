"""Terminal rendering of engine progress events for CLI commands, and quiet third-party output.

When the output goes to a pipe or a file, the CLI's own progress is plain lines, and the progress
bars and warnings of the libraries under the engine (diffusers, transformers, huggingface_hub,
torch) are turned off: a log or a ``| grep`` then holds no carriage-return bars.
"""

from __future__ import annotations

import os
import sys
import warnings

from ..progress import ProgressEvent


def _fmt_eta(eta: float | None) -> str:
    if eta is None:
        return "--:--"
    m, s = divmod(int(eta + 0.5), 60)
    h, m = divmod(m, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m:02d}:{s:02d}"


class TerminalProgress:
    """Prints one updating line per stage (a plain line per event when not a TTY)."""

    def __init__(self, stream=None, quiet: bool = False) -> None:
        self.stream = stream or sys.stderr
        self.quiet = quiet
        self._tty = hasattr(self.stream, "isatty") and self.stream.isatty()
        self._last_stage = None

    def __call__(self, ev: ProgressEvent) -> None:
        if self.quiet:
            return
        extra = " ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in ev.info.items())
        line = f"{ev.stage}: {ev.step}/{ev.total} ETA {_fmt_eta(ev.eta_s)} {extra}".rstrip()
        if self._tty:
            end = "\n" if ev.step >= ev.total else ""
            self.stream.write("\r" + line + end)
        elif ev.step in (0, ev.total) or ev.total <= 20 or ev.step % max(1, ev.total // 10) == 0:
            self.stream.write(line + "\n")
        self.stream.flush()


# environment settings the libraries read when they are imported (the CLI imports them lazily)
QUIET_ENV = {
    "HF_HUB_DISABLE_PROGRESS_BARS": "1",  # huggingface_hub and transformers bars
    "TQDM_DISABLE": "1",  # any other tqdm bar (diffusers' "Loading pipeline components")
    "DIFFUSERS_VERBOSITY": "error",
    "TRANSFORMERS_VERBOSITY": "error",
    "TRANSFORMERS_NO_ADVISORY_WARNINGS": "1",
}
_NOISY = r"(torch|diffusers|transformers|huggingface_hub|accelerate|peft|safetensors)(\.|$)"


def _is_tty(stream) -> bool:  # type: ignore[no-untyped-def]
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError, OSError):  # closed or not a file
        return False


def quiet_third_party_output(streams=None) -> bool:  # type: ignore[no-untyped-def]
    """Turn off other libraries' bars and warnings unless both ``streams`` (default stdout and
    stderr) are terminals; returns whether it did. A variable the user set is left as it is."""
    if all(_is_tty(s) for s in (streams or (sys.stdout, sys.stderr))):
        return False
    for key, value in QUIET_ENV.items():
        os.environ.setdefault(key, value)
    for name in ("diffusers.utils.logging", "transformers.utils.logging"):
        module = sys.modules.get(name)  # already imported (in-process callers): switch them off too
        if module is not None:
            module.disable_progress_bar()
            module.set_verbosity_error()
    hub = sys.modules.get("huggingface_hub.utils")
    if hub is not None:
        hub.disable_progress_bars()
    warnings.filterwarnings("ignore", category=FutureWarning)
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    warnings.filterwarnings("ignore", module=_NOISY)
    return True
