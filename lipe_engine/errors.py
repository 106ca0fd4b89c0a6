"""One exception type whose message is a single line naming the thing and the fix.

The CLI prints ``str(error)`` and exits 2; the GUI shows it in a message box. No traceback ever
reaches a user for a bad input.
"""

from __future__ import annotations


def _one_line(text: str) -> str:
    """Messages quote user input (names, paths): control characters and line breaks are escaped."""
    if str(text).isprintable():
        return str(text)
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in str(text))


class LipeError(Exception):
    """A user-facing error: ``what`` went wrong, ``fix`` says what to do about it."""

    def __init__(self, what: str, fix: str = "") -> None:
        self.what = _one_line(what).rstrip(". ")
        self.fix = _one_line(fix).rstrip(". ")
        super().__init__(self.message)

    @property
    def message(self) -> str:
        return f"{self.what}: {self.fix}." if self.fix else f"{self.what}."


class ModelLoadError(LipeError):
    """Weights missing, malformed, or not the architecture we expected."""


class InputError(LipeError):
    """A bad image, prompt or parameter from the user."""


class Cancelled(Exception):
    """Raised inside long work when the user cancelled; callers treat it as a clean stop."""
