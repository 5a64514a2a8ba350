#!/usr/bin/env bash
# Build the one-folder bundle for this OS into dist/jacs-desktop/ and smoke-test it.
#
#     bash packaging/build_bundle.sh [DIST_DIR]
#
# Needs the bundle extra: pip install -e ".[bundle]"  (PyInstaller).
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-python3}"
[ -x .venv/bin/python ] && PY=.venv/bin/python
DIST="${1:-dist}"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
"$PY" -m PyInstaller --noconfirm --clean --log-level WARN --distpath "$DIST" --workpath "$WORK" \
    packaging/jacs-desktop.spec
echo "built $DIST/jacs-desktop/"
if [ -d ../shared/jacs-format/fixture ]; then
  QT_QPA_PLATFORM=offscreen "$DIST/jacs-desktop/jacs-desktop" --smoke-test ../shared/jacs-format/fixture
  "$DIST/jacs-desktop/jacs-desktop-cli" verify ../shared/jacs-format/fixture >/dev/null
  echo "smoke test passed"
fi
