#!/usr/bin/env bash
# macOS: remove what installers/macos/install.sh made ("LIPE Desktop.app", the venv, the launcher
# links); your library, settings and models are kept. The .app is listed in the prefix's
# install-manifest.txt, so this is the Linux uninstaller. UNTESTED on a Mac (see install.sh).
#   installers/macos/uninstall.sh [--prefix DIR] [--yes]
set -euo pipefail
exec bash "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/../linux/uninstall.sh" "$@"
