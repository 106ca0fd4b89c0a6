"""PyInstaller entry point for ``lipe-desktop`` (see lipe-desktop.spec)."""

import sys

from lipe_desktop.app import main

sys.exit(main())
