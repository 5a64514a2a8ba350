#!/usr/bin/env bash
# System packages the app and its tests need on Debian/Ubuntu (Qt's runtime
# libraries for the offscreen/xcb platforms, fonts for screenshots).
# Safe to re-run; does nothing when everything is present or apt is missing.
set -euo pipefail
# gnome-keyring + dbus-x11: the real Secret Service for the keyring tests
# desktop-file-utils + appstream: validate the .desktop file and the AppStream metainfo
# binutils: objdump, which PyInstaller uses to find the libraries a bundle needs
# libxcb-cursor0 and the other xcb libraries: Qt's xcb platform plugin (a real X11 window) needs them,
#   and minimal systems do not have them; xvfb + x11-utils: the test that starts the app on a real X server
PKGS=(libegl1 libgl1 libxkbcommon0 libfontconfig1 libglib2.0-0 libdbus-1-3 fonts-dejavu-core gnome-keyring dbus-x11
      desktop-file-utils appstream binutils
      libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1 libxcb-image0 libxcb-render-util0 libxkbcommon-x11-0
      libxcb-xinerama0 libxcb-randr0 libxcb-shape0 libxcb-xfixes0 libxcb-xkb1 xvfb x11-utils)
missing=()
if command -v dpkg-query >/dev/null 2>&1; then
  for p in "${PKGS[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
fi
if [ ${#missing[@]} -gt 0 ]; then
  if ! command -v apt-get >/dev/null 2>&1; then
    echo "install-system-deps: please install: ${missing[*]}" >&2
    exit 0
  fi
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# Azurite (the Azure Blob emulator) for the azure:// tests: Node.js from Debian's packages when
# missing, then the npm packages pinned in tests/azurite (package-lock.json); skipped when the
# pinned Azurite is already installed there
AZURITE_DIR="$(cd "$(dirname "$0")/.." && pwd)/tests/azurite"
if [ -f "$AZURITE_DIR/package.json" ]; then
  if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    if command -v apt-get >/dev/null 2>&1; then
      SUDO=""
      [ "$(id -u)" -eq 0 ] || SUDO="sudo"
      $SUDO apt-get update -qq
      DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends nodejs npm
    else
      echo "install-system-deps: please install Node.js and npm (for Azurite)" >&2
    fi
  fi
  want="$(sed -n 's/.*"azurite": *"\([^"]*\)".*/\1/p' "$AZURITE_DIR/package.json" | head -n1)"
  have="$(sed -n 's/^ *"version": *"\([^"]*\)".*/\1/p' "$AZURITE_DIR/node_modules/azurite/package.json" 2>/dev/null | head -n1 || true)"
  if command -v npm >/dev/null 2>&1 && [ "$want" != "$have" ]; then
    (cd "$AZURITE_DIR" && npm ci --no-audit --no-fund --loglevel=error)
  fi
fi
