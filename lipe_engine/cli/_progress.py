"""Terminal rendering of engine progress events for CLI commands."""

from __future__ import annotations

import sys

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
