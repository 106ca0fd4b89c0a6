#!/usr/bin/env bash
# Remove what installers/linux/install.sh put on this machine: the prefix (venv) and the launcher
# links, desktop entry and icon listed in its install-manifest.txt. Your photos, library, settings,
# trained priors and downloaded models are kept.
#
#   installers/linux/uninstall.sh [--prefix DIR] [--yes]
#     --prefix DIR   the prefix given to install.sh (env LIPE_PREFIX, default ~/.local/opt/lipe-desktop)
#     --yes          do not ask for confirmation
set -euo pipefail

say() { printf '[lipe-uninstall] %s\n' "$*"; }
die() { printf '[lipe-uninstall] error: %s\n' "$*" >&2; exit 1; }

PREFIX="${LIPE_PREFIX:-$HOME/.local/opt/lipe-desktop}"
YES=0
while [ $# -gt 0 ]; do
  case "$1" in
    --prefix) PREFIX="$2"; shift 2 ;;
    --yes|-y) YES=1; shift ;;
    -h|--help) sed -n '2,8p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown option '$1': see --help." ;;
  esac
done

[ -d "$PREFIX" ] || { say "nothing installed at $PREFIX"; exit 0; }
PREFIX="$(cd "$PREFIX" && pwd)"
MANIFEST="$PREFIX/install-manifest.txt"
# Refuse to delete a folder the installer did not make (a typo in --prefix must not cost a home dir).
[ -f "$MANIFEST" ] || die "$PREFIX has no install-manifest.txt, so it was not made by install.sh: check --prefix."

if [ "$YES" = 0 ]; then
  if [ -t 0 ]; then
    read -r -p "Remove LIPE Desktop from $PREFIX? [y/N] " answer
    case "$answer" in y|Y|yes|YES) ;; *) say "cancelled"; exit 1 ;; esac
  else
    die "not a terminal: pass --yes to confirm removing $PREFIX."
  fi
fi

while IFS= read -r path; do
  [ -n "$path" ] || continue
  case "$path" in
    dir:*) path="${path#dir:}"  # a folder an installer made whole (the macOS .app bundle)
           [ -d "$path" ] && rm -rf "$path" && say "removed $path"
           continue ;;
  esac
  if [ -L "$path" ]; then
    # Only our links: they point into this prefix.
    case "$(readlink "$path")" in "$PREFIX"/*) rm -f "$path"; say "removed $path" ;; *) say "kept $path (not ours)" ;; esac
  elif [ -f "$path" ]; then
    rm -f "$path"; say "removed $path"
  fi
done < "$MANIFEST"

DATA="${XDG_DATA_HOME:-$HOME/.local/share}"
command -v update-desktop-database >/dev/null 2>&1 && update-desktop-database -q "$DATA/applications" || true
# Only what install.sh made; anything else a user put in the prefix stays.
rm -rf "$PREFIX/venv"
rm -f "$PREFIX/app-stamp.txt" "$MANIFEST"
rmdir "$PREFIX" 2>/dev/null && say "removed $PREFIX" || say "removed $PREFIX/venv (kept other files in $PREFIX)"
say "kept your library, settings and models (delete them from the app's data folder if you want them gone)"
