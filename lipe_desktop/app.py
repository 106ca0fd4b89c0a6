"""Entry point: ``lipe-desktop [--data-dir DIR] [--smoke]``.

``--smoke`` opens the main window offscreen-capable, loads settings and the library, processes
events briefly and exits 0 (installers use it to check a fresh install).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import traceback
from collections.abc import Sequence
from types import TracebackType

log = logging.getLogger("lipe_desktop")


def _parse(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="lipe-desktop", description="LIPE Desktop photo album")
    p.add_argument(
        "--data-dir", default=None, help="library folder (default: $LIPE_DATA_DIR or the user data dir)"
    )
    p.add_argument(
        "--smoke", action="store_true", help="open the main window, load settings and library, exit 0"
    )
    return p.parse_args(list(argv) if argv is not None else None)


def _install_excepthook() -> None:
    """Uncaught exceptions in slots: log the traceback, show one readable line."""

    def hook(etype: type[BaseException], exc: BaseException, tb: TracebackType | None) -> None:
        from .logs import user_message

        log.error("uncaught exception:\n%s", "".join(traceback.format_exception(etype, exc, tb)))
        try:
            from PySide6.QtWidgets import QApplication, QMessageBox

            if QApplication.instance() is not None and os.environ.get("QT_QPA_PLATFORM") != "offscreen":
                QMessageBox.warning(None, "LIPE Desktop", user_message(exc))
            else:
                print(f"lipe-desktop: {user_message(exc)}", file=sys.stderr)
        except Exception:  # noqa: BLE001 - the hook itself must never raise
            print(f"lipe-desktop: {exc}", file=sys.stderr)

    sys.excepthook = hook


def main(argv: Sequence[str] | None = None) -> int:
    args = _parse(argv)
    if args.smoke:
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    try:
        from PySide6.QtCore import QTimer
        from PySide6.QtWidgets import QApplication, QMessageBox
    except ImportError as exc:
        print(
            f"lipe-desktop: PySide6 cannot be loaded ({exc}): install the 'gui' extra and the Qt system "
            "libraries (installers/linux/system-deps.sh).",
            file=sys.stderr,
        )
        return 2
    from lipe_engine.errors import LipeError

    from .context import AppContext
    from .logs import setup_logging

    app = QApplication.instance() or QApplication([sys.argv[0]])
    app.setApplicationName("LIPE Desktop")
    app.setOrganizationName("LIPE")
    try:
        ctx = AppContext.open(args.data_dir)
    except LipeError as exc:
        if args.smoke:
            print(f"lipe-desktop: {exc}", file=sys.stderr)
        else:
            QMessageBox.critical(None, "LIPE Desktop", str(exc))
        return 2
    log_path = setup_logging(ctx.data_dir)
    _install_excepthook()
    log.info("starting, data dir %s, log %s", ctx.data_dir, log_path)
    from .main_window import MainWindow

    win = MainWindow(ctx)
    win.show()
    if args.smoke:
        QTimer.singleShot(300, win.close)
        QTimer.singleShot(400, app.quit)
    else:
        from .first_run import run_at_start

        QTimer.singleShot(0, lambda: run_at_start(ctx, win))  # the welcome dialog, over the open window
    code = app.exec()
    ctx.close()
    if args.smoke:
        print(f"lipe-desktop: smoke ok (window opened, library at {ctx.data_dir})")
    return int(code)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
