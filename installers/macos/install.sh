#!/usr/bin/env bash
# macOS: install LIPE Desktop from this checkout into a venv and add "LIPE Desktop.app" to
# ~/Applications. UNTESTED: no Mac was available where this was written; the venv/torch/app steps are
# the Linux installer's (tested in CI), only the .app bundle below is macOS specific.
#
#   installers/macos/install.sh [--prefix DIR] [--apps-dir DIR] [any installers/linux/install.sh option]
# torch: the default PyPI build (CPU + Apple GPU via MPS); there is no CUDA on macOS.
set -euo pipefail

say() { printf '[lipe-install] %s\n' "$*"; }
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
PREFIX="${LIPE_PREFIX:-$HOME/.local/opt/lipe-desktop}"
APPS="${LIPE_APPS_DIR:-$HOME/Applications}"
PASS=()
while [ $# -gt 0 ]; do
  case "$1" in
    --prefix) PREFIX="$2"; shift 2 ;;
    --apps-dir) APPS="$2"; shift 2 ;;
    *) PASS+=("$1"); shift ;;
  esac
done

# PyPI's macOS torch wheel is the right one (MPS included): "cpu" mode = not CUDA, from pip's index.
LIPE_TORCH="${LIPE_TORCH:-cpu}" LIPE_TORCH_INDEX="${LIPE_TORCH_INDEX:-pip}" \
  bash "$REPO/installers/linux/install.sh" --prefix "$PREFIX" --no-desktop ${PASS[@]+"${PASS[@]}"}
case " ${PASS[*]-} " in *" --dry-run "*) exit 0 ;; esac
PREFIX="$(cd "$PREFIX" && pwd)"

APP="$APPS/LIPE Desktop.app"
say "creating $APP"
rm -rf "$APP"
mkdir -p "$APP/Contents/MacOS" "$APP/Contents/Resources"
cat > "$APP/Contents/MacOS/lipe-desktop" <<SH
#!/bin/sh
exec "$PREFIX/venv/bin/lipe-desktop" "\$@"
SH
chmod +x "$APP/Contents/MacOS/lipe-desktop"
ICON_KEY=""
# Render the SVG icon to .icns with Qt (its icns image plugin); without it the app has a generic icon.
if QT_QPA_PLATFORM=offscreen "$PREFIX/venv/bin/python" - "$REPO/resources/icons/lipe-desktop.svg" \
     "$APP/Contents/Resources/lipe-desktop.icns" <<'PY' 2>/dev/null
import sys
from PySide6.QtGui import QGuiApplication, QImage, QPainter
from PySide6.QtSvg import QSvgRenderer
app = QGuiApplication([])
img = QImage(512, 512, QImage.Format.Format_ARGB32)
img.fill(0)
painter = QPainter(img)
QSvgRenderer(sys.argv[1]).render(painter)
painter.end()
sys.exit(0 if img.save(sys.argv[2], "ICNS") else 1)
PY
then ICON_KEY="<key>CFBundleIconFile</key><string>lipe-desktop</string>"; fi
cat > "$APP/Contents/Info.plist" <<PLIST
<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<plist version="1.0"><dict>
  <key>CFBundleName</key><string>LIPE Desktop</string>
  <key>CFBundleDisplayName</key><string>LIPE Desktop</string>
  <key>CFBundleIdentifier</key><string>org.lipe.desktop</string>
  <key>CFBundleVersion</key><string>0.1.0</string>
  <key>CFBundlePackageType</key><string>APPL</string>
  <key>CFBundleExecutable</key><string>lipe-desktop</string>
  $ICON_KEY
  <key>LSMinimumSystemVersion</key><string>12.0</string>
  <key>NSHighResolutionCapable</key><true/>
</dict></plist>
PLIST
grep -qxF "dir:$APP" "$PREFIX/install-manifest.txt" || echo "dir:$APP" >> "$PREFIX/install-manifest.txt"
say "done: open \"$APP\" (uninstall: installers/macos/uninstall.sh --prefix $PREFIX)"
