#!/usr/bin/env bash
# Install LIPE Desktop from this repository into a prefix: a private venv, the right torch build
# (CUDA when an NVIDIA driver answers, CPU otherwise), the app, `lipe`/`lipe-desktop` launchers and a
# desktop entry with an icon. Safe to run again: it reuses the venv and skips what is already right.
# The app is installed editable: it runs from this checkout (the shipped toy model and icons live in
# resources/), so keep the folder; to update, `git pull` and run this script again.
# Every package comes at the version in requirements-lock.txt (the tested set); torch at the locked
# version in the build (CPU or CUDA) this machine needs.
#
#   installers/linux/install.sh [options]
#     --prefix DIR        where the venv lives            (env LIPE_PREFIX, default ~/.local/opt/lipe-desktop)
#     --torch MODE        auto | cpu | cuda | skip         (env LIPE_TORCH, default auto)
#     --torch-spec SPEC   torch requirement               (env LIPE_TORCH_SPEC, default: the lock's torch)
#     --torch-index URL   index for torch; "pip" = pip's own configuration
#                         (env LIPE_TORCH_INDEX, default https://download.pytorch.org/whl/{cpu,cuXXX})
#     --cuda-tag TAG      e.g. cu128; default picked from the driver's CUDA version (env LIPE_CUDA_TAG)
#     --extras LIST       app extras, comma separated     (env LIPE_EXTRAS, default gui,llm; llm is
#                         llama-cpp-python for captioning, compiled on install: several minutes)
#     --bin-dir DIR       where to link lipe, lipe-desktop (env LIPE_BIN_DIR, default ~/.local/bin; "none" = skip)
#     --no-desktop        no .desktop entry / icon
#     --python PY         interpreter for the venv (env LIPE_PYTHON; default the first python3.x >= 3.10)
#     --dry-run           print the plan and exit
# Extra pip arguments (e.g. --find-links DIR for offline wheels): env LIPE_PIP_ARGS; LIPE_VERBOSE=1
# shows pip's full output for the app step. User data (library, settings, models) is never touched.
set -euo pipefail

# Elapsed seconds on every line: installs on slow disks/networks show where the time goes.
say() { printf '[lipe-install %4ss] %s\n' "$SECONDS" "$*"; }
die() { printf '[lipe-install] error: %s\n' "$*" >&2; exit 1; }

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
[ -f "$REPO/pyproject.toml" ] || die "no pyproject.toml in $REPO: run this script from a LIPE Desktop checkout."
LOCK="$REPO/requirements-lock.txt"
[ -f "$LOCK" ] || die "no requirements-lock.txt in $REPO: restore it with 'git checkout requirements-lock.txt'."
LOCKED_TORCH="$(sed -n 's/^\(torch==[^ ]*\).*/\1/p' "$LOCK")"

PREFIX="${LIPE_PREFIX:-$HOME/.local/opt/lipe-desktop}"
TORCH_MODE="${LIPE_TORCH:-auto}"
TORCH_SPEC="${LIPE_TORCH_SPEC:-$LOCKED_TORCH}"
TORCH_INDEX="${LIPE_TORCH_INDEX:-}"
CUDA_TAG="${LIPE_CUDA_TAG:-}"
EXTRAS="${LIPE_EXTRAS:-gui,llm}"
BIN_DIR="${LIPE_BIN_DIR:-$HOME/.local/bin}"
PYTHON="${LIPE_PYTHON:-}"
DESKTOP=1
DRY_RUN=0

while [ $# -gt 0 ]; do
  case "$1" in
    --prefix) PREFIX="$2"; shift 2 ;;
    --torch) TORCH_MODE="$2"; shift 2 ;;
    --torch-spec) TORCH_SPEC="$2"; shift 2 ;;
    --torch-index) TORCH_INDEX="$2"; shift 2 ;;
    --cuda-tag) CUDA_TAG="$2"; shift 2 ;;
    --extras) EXTRAS="$2"; shift 2 ;;
    --bin-dir) BIN_DIR="$2"; shift 2 ;;
    --no-desktop) DESKTOP=0; shift ;;
    --python) PYTHON="$2"; shift 2 ;;
    --dry-run) DRY_RUN=1; shift ;;
    -h|--help) sed -n '2,22p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown option '$1': see --help." ;;
  esac
done
case "$TORCH_MODE" in auto|cpu|cuda|skip) ;; *) die "--torch '$TORCH_MODE' is not one of auto, cpu, cuda, skip: pick one." ;; esac
if [ "$DRY_RUN" = 0 ]; then
  mkdir -p "$PREFIX" 2>/dev/null || die "cannot create prefix $PREFIX: choose a writable --prefix."
  PREFIX="$(cd "$PREFIX" && pwd)"
fi
VENV="$PREFIX/venv"
read -r -a PIP_EXTRA <<< "${LIPE_PIP_ARGS:-}"

# --- interpreter ----------------------------------------------------------------------------------
py_ok() { "$1" -c 'import sys, venv; sys.exit(sys.version_info < (3, 10))' >/dev/null 2>&1; }
if [ -z "$PYTHON" ]; then
  for cand in python3 python3.13 python3.12 python3.11 python3.10; do
    if command -v "$cand" >/dev/null 2>&1 && py_ok "$cand"; then PYTHON="$(command -v "$cand")"; break; fi
  done
fi
[ -n "$PYTHON" ] && py_ok "$PYTHON" || die "no Python >= 3.10 with venv found: install python3 and python3-venv (or pass --python)."

# --- which torch ----------------------------------------------------------------------------------
DRIVER_CUDA=""
if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; then
  DRIVER_CUDA="$(nvidia-smi 2>/dev/null | sed -n 's/.*CUDA Version: *\([0-9][0-9]*\.[0-9][0-9]*\).*/\1/p' | head -n1)"
  [ -n "$DRIVER_CUDA" ] || DRIVER_CUDA="unknown"
fi
if [ "$TORCH_MODE" = auto ]; then
  if [ -n "$DRIVER_CUDA" ]; then TORCH_MODE=cuda; else TORCH_MODE=cpu; fi
fi
if [ "$TORCH_MODE" = cuda ] && [ -z "$CUDA_TAG" ]; then
  # The newest CUDA build the driver can run (a driver runs builds for its CUDA version and older).
  ver="${DRIVER_CUDA:-0.0}"; [ "$ver" = unknown ] && ver="12.8"
  num=$(( ${ver%%.*} * 100 + 10#${ver#*.} ))
  if   [ "$num" -ge 1300 ]; then CUDA_TAG=cu130
  elif [ "$num" -ge 1208 ]; then CUDA_TAG=cu128
  elif [ "$num" -ge 1206 ]; then CUDA_TAG=cu126
  elif [ -z "$DRIVER_CUDA" ]; then CUDA_TAG=cu128   # forced --torch cuda without a driver here
  else die "the NVIDIA driver supports CUDA $ver, older than 12.6: update the driver, or pass --cuda-tag / --torch cpu."
  fi
fi
if [ -z "$TORCH_INDEX" ]; then
  case "$TORCH_MODE" in
    cpu) TORCH_INDEX="https://download.pytorch.org/whl/cpu" ;;
    cuda) TORCH_INDEX="https://download.pytorch.org/whl/$CUDA_TAG" ;;
  esac
fi
TORCH_ARGS=()
[ -n "$TORCH_INDEX" ] && [ "$TORCH_INDEX" != pip ] && TORCH_ARGS=(--index-url "$TORCH_INDEX")

APP_TARGET="$REPO"; [ -n "$EXTRAS" ] && APP_TARGET="$REPO[$EXTRAS]"
APP_ARGS=(-e "$APP_TARGET")

say "repo:   $REPO"
say "prefix: $PREFIX (venv: $VENV)"
say "python: $PYTHON ($("$PYTHON" -c 'import platform; print(platform.python_version())'))"
say "nvidia driver: ${DRIVER_CUDA:+CUDA $DRIVER_CUDA}${DRIVER_CUDA:-none}"
say "torch:  mode=$TORCH_MODE spec=$TORCH_SPEC${CUDA_TAG:+ cuda_tag=$CUDA_TAG} index=${TORCH_INDEX:-n/a}"
say "app:    pip install -c $LOCK ${APP_ARGS[*]}"
[ "$DRY_RUN" = 1 ] && { say "dry run: nothing changed."; exit 0; }

# --- venv -----------------------------------------------------------------------------------------
if [ -x "$VENV/bin/python" ] && "$VENV/bin/python" -c 'import pip' >/dev/null 2>&1; then
  say "reusing venv $VENV"
else
  say "creating venv $VENV"
  rm -rf "$VENV"
  "$PYTHON" -m venv "$VENV"
fi
VPY="$VENV/bin/python"
pip_install() { "$VPY" -m pip install --disable-pip-version-check ${PIP_EXTRA[@]+"${PIP_EXTRA[@]}"} "$@"; }
# pip and the build tools at the locked versions: the app and llama-cpp-python are built with them
# (--no-build-isolation), so no unpinned build backend is fetched at install time.
pip_install --quiet -c "$LOCK" pip setuptools wheel scikit-build-core

# --- torch ----------------------------------------------------------------------------------------
if [ "$TORCH_MODE" != skip ]; then
  # "ok" when the installed torch satisfies the spec and is the wanted build; "other" when it is the
  # wrong build (CPU vs CUDA) and must be replaced; "missing" otherwise.
  state="$("$VPY" "$REPO/installers/common/torch_state.py" "$TORCH_SPEC" "$TORCH_MODE" 2>/dev/null || echo missing)"
  case "$state" in
    ok) say "torch already installed ($("$VPY" -c 'from importlib.metadata import version; print(version("torch"))')), keeping it" ;;
    other) say "replacing the installed torch with the $TORCH_MODE build"
           "$VPY" -m pip uninstall -y -q torch
           pip_install ${TORCH_ARGS[@]+"${TORCH_ARGS[@]}"} "$TORCH_SPEC" ;;
    *) say "installing $TORCH_SPEC ($TORCH_MODE build)"
       pip_install ${TORCH_ARGS[@]+"${TORCH_ARGS[@]}"} "$TORCH_SPEC" ;;
  esac
fi

# --- the app --------------------------------------------------------------------------------------
# The install is editable, so code changes need no reinstall; only new dependencies or entry points
# (pyproject.toml) or other extras do. The stamp records what the last successful install used.
STAMP="$PREFIX/app-stamp.txt"
want_stamp="$(printf '%s\n%s\n%s\n%s\n' "$REPO" "$EXTRAS" "$(cksum < "$REPO/pyproject.toml")" "$(cksum < "$LOCK")")"
if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$want_stamp" ] && "$VENV/bin/lipe" --version >/dev/null 2>&1; then
  say "LIPE Desktop already installed from $REPO (pyproject.toml and the lock unchanged), keeping it"
else
  say "installing LIPE Desktop from $REPO"
  rm -f "$STAMP"
  pip_install ${LIPE_VERBOSE:+--verbose} --quiet --no-build-isolation -c "$LOCK" "${APP_ARGS[@]}"
  "$VENV/bin/lipe" --version >/dev/null || die "the installed 'lipe' does not start: see the pip output above."
  printf '%s' "$want_stamp" > "$STAMP"
fi

# --- launchers, desktop entry, icon ---------------------------------------------------------------
MANIFEST="$PREFIX/install-manifest.txt"
: > "$MANIFEST.tmp"
if [ "$BIN_DIR" != none ]; then
  mkdir -p "$BIN_DIR"
  for exe in lipe lipe-desktop; do
    link="$BIN_DIR/$exe"
    if [ -e "$link" ] && [ ! -L "$link" ]; then
      say "not touching $link: it exists and is not our link"
      continue
    fi
    ln -sfn "$VENV/bin/$exe" "$link"
    echo "$link" >> "$MANIFEST.tmp"
  done
  case ":$PATH:" in *":$BIN_DIR:"*) ;; *) say "note: $BIN_DIR is not on PATH; add it to run 'lipe' directly" ;; esac
fi
if [ "$DESKTOP" = 1 ]; then
  DATA="${XDG_DATA_HOME:-$HOME/.local/share}"
  ICON="$DATA/icons/hicolor/scalable/apps/lipe-desktop.svg"
  ENTRY="$DATA/applications/lipe-desktop.desktop"
  mkdir -p "$(dirname "$ICON")" "$(dirname "$ENTRY")"
  cp "$REPO/resources/icons/lipe-desktop.svg" "$ICON"
  cat > "$ENTRY.tmp" <<EOF
[Desktop Entry]
Type=Application
Version=1.0
Name=LIPE Desktop
GenericName=Photo album with pose editing
Comment=Learn a subject's identity from a few photos and edit its pose, expression or view
Exec="$VENV/bin/lipe-desktop" %F
TryExec=$VENV/bin/lipe-desktop
Icon=$ICON
Terminal=false
Categories=Graphics;Photography;
MimeType=image/jpeg;image/png;image/webp;image/heic;
Keywords=photo;album;edit;pose;AI;
StartupWMClass=lipe-desktop
EOF
  mv "$ENTRY.tmp" "$ENTRY"
  printf '%s\n%s\n' "$ICON" "$ENTRY" >> "$MANIFEST.tmp"
  command -v update-desktop-database >/dev/null 2>&1 && update-desktop-database -q "$DATA/applications" || true
  command -v gtk-update-icon-cache >/dev/null 2>&1 && gtk-update-icon-cache -q -t "$DATA/icons/hicolor" 2>/dev/null || true
fi
mv "$MANIFEST.tmp" "$MANIFEST"

say "done: $("$VENV/bin/lipe" --version), torch $("$VPY" "$REPO/installers/common/torch_state.py" --describe 2>/dev/null || echo '(unknown)')"
say "start it with: $VENV/bin/lipe-desktop   (uninstall: installers/linux/uninstall.sh --prefix $PREFIX)"
