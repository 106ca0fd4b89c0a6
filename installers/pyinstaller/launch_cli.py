"""PyInstaller entry point for ``lipe`` (see lipe-desktop.spec)."""

import sys

from lipe_engine.cli import main

sys.exit(main())
