#!/bin/sh
# Create the virtual environment and install the pinned dependencies. Says what is missing.
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
VENV=${1:-$ROOT/.venv}
PYTHON=${PYTHON:-python3}

if ! command -v "$PYTHON" >/dev/null 2>&1; then
    echo "MeterDesk needs Python 3.11 or newer: '$PYTHON' was not found." >&2
    echo "On Debian/Ubuntu: sudo apt-get install python3 python3-venv" >&2
    exit 1
fi
if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
    echo "MeterDesk needs Python 3.11 or newer; $PYTHON is $("$PYTHON" -V 2>&1)." >&2
    echo "Install a newer Python and run again with: make PYTHON=python3.11 ..." >&2
    exit 1
fi
if [ ! -x "$VENV/bin/python" ]; then
    if ! "$PYTHON" -m venv "$VENV"; then
        rm -rf "$VENV"
        echo "Could not create a virtual environment: the venv module is missing." >&2
        echo "On Debian/Ubuntu: sudo apt-get install python3-venv" >&2
        exit 1
    fi
fi
echo "Installing the pinned dependencies into $VENV (first run downloads about 400 MB)..."
"$VENV/bin/python" -m pip install --quiet --upgrade pip
"$VENV/bin/python" -m pip install --quiet -r "$ROOT/requirements.lock"
# Qt needs a few system libraries even offscreen; name the packages that provide them.
if ! QT_QPA_PLATFORM=offscreen "$VENV/bin/python" -c "from PySide6 import QtWidgets, QtGui" 2>/tmp/meterdesk-qt-check.$$; then
    cat /tmp/meterdesk-qt-check.$$ >&2
    rm -f /tmp/meterdesk-qt-check.$$
    echo "Qt cannot load: a system library is missing." >&2
    echo "On Debian/Ubuntu: sudo apt-get install libegl1 libgl1 libxkbcommon0 libfontconfig1 libdbus-1-3 libxcb-cursor0" >&2
    exit 1
fi
rm -f /tmp/meterdesk-qt-check.$$
echo "Environment ready in $VENV."
