"""Entry point: ``lipe-desktop [--data-dir DIR] [--smoke] [FILE...]``.

``FILE...`` (what a file manager's "Open with" passes through the desktop entry's ``%F``) opens
the app on those photos. ``--smoke`` opens the main window offscreen-capable, loads settings and
the library, processes events briefly and exits 0 (installers use it to check a fresh install).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import traceback
from collections.abc import Sequence
from types import TracebackType

from lipe_engine.errors import LipeError

from .logs import setup_logging, user_message

# The desktop's one guarded import: without Qt's system libraries (or the 'gui' extra) main() says
# how to add them in one line instead of a traceback; the modules below import Qt at their top.
try:
    from PySide6.QtCore import QCoreApplication, QTimer
    from PySide6.QtGui import QGuiApplication, QIcon
    from PySide6.QtWidgets import QApplication, QMessageBox
except ImportError as exc:
    QT_MISSING: ImportError | None = exc
else:
    QT_MISSING = None
    from .context import AppContext
    from .first_run import run_at_start
    from .library_refused import open_or_ask
    from .main_window import ICON, MainWindow

log = logging.getLogger("lipe_desktop")

# The name of the installers' desktop entry (lipe-desktop.desktop, StartupWMClass=lipe-desktop): as
# the desktop file name (Wayland app id) and argv[0] (X11 WM_CLASS instance) the window is matched
# to its entry, so the dock shows the app's icon and name.
DESKTOP_FILE_NAME = "lipe-desktop"


def _parse(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="lipe-desktop", description="LIPE Desktop photo album")
    p.add_argument(
        "--data-dir", default=None, help="library folder (default: $LIPE_DATA_DIR or the user data dir)"
    )
    p.add_argument(
        "--smoke", action="store_true", help="open the main window, load settings and library, exit 0"
    )
    p.add_argument(
        "files", nargs="*", metavar="FILE",
        help="photos to open (a folder not in the library is added after asking)",
    )
    return p.parse_args(list(argv) if argv is not None else None)


def _install_excepthook() -> None:
    """Uncaught exceptions in slots: log the traceback, show one readable line."""

    def hook(etype: type[BaseException], exc: BaseException, tb: TracebackType | None) -> None:
        log.error("uncaught exception:\n%s", "".join(traceback.format_exception(etype, exc, tb)))
        try:
            if QApplication.instance() is not None and os.environ.get("QT_QPA_PLATFORM") != "offscreen":
                QMessageBox.warning(None, "LIPE Desktop", user_message(exc))
            else:
                print(f"lipe-desktop: {user_message(exc)}", file=sys.stderr)
        except Exception:  # noqa: BLE001 - the hook itself must never raise
            print(f"lipe-desktop: {exc}", file=sys.stderr)

    sys.excepthook = hook


def configure_application(app: QCoreApplication) -> None:
    """Names, desktop entry and icon of the application (before any window opens)."""
    app.setApplicationName("LIPE Desktop")
    app.setOrganizationName("LIPE")
    QGuiApplication.setDesktopFileName(DESKTOP_FILE_NAME)
    if ICON.is_file():
        QGuiApplication.setWindowIcon(QIcon(str(ICON)))
    else:
        log.warning("application icon %s is missing", ICON)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parse(argv)
    if args.smoke:
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    if QT_MISSING is not None:
        print(
            f"lipe-desktop: PySide6 cannot be loaded ({QT_MISSING}): install the 'gui' extra and the Qt "
            "system libraries (installers/linux/system-deps.sh).",
            file=sys.stderr,
        )
        return 2
    app = QApplication.instance() or QApplication([DESKTOP_FILE_NAME])
    configure_application(app)
    if args.smoke:
        try:
            ctx = AppContext.open(args.data_dir)
        except LipeError as exc:
            print(f"lipe-desktop: {exc}", file=sys.stderr)
            return 2
    else:  # refused: the reason, and a way on (a new library, another folder) besides quitting
        opened = open_or_ask(args.data_dir)
        if opened is None:
            return 2
        ctx = opened
    try:
        log_path: object = setup_logging()
    except OSError as exc:  # an unwritable log folder must not keep the app from starting
        log_path = f"none ({exc.strerror}: {exc.filename}; set LIPE_LOG_DIR to a writable folder)"
        print(f"lipe-desktop: no log file: {log_path}", file=sys.stderr)
    _install_excepthook()
    log.info("starting, data dir %s, log %s", ctx.data_dir, log_path)
    win = MainWindow(ctx)
    win.show()
    if args.smoke:
        QTimer.singleShot(300, win.close)
        QTimer.singleShot(400, app.quit)
    else:

        def start() -> None:
            run_at_start(ctx, win)  # the welcome dialog, over the open window
            if args.files:
                win.open_paths(args.files)

        QTimer.singleShot(0, start)
    code = app.exec()
    ctx.close()
    if args.smoke:
        print(f"lipe-desktop: smoke ok (window opened, library at {ctx.data_dir})")
    return int(code)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
