#!/bin/sh
# Create the virtual environment and install the pinned dependencies. Says what is missing.
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
VENV=${1:-$ROOT/.venv}
PYTHON=${PYTHON:-python3}
# pip itself is not in requirements.lock (pip freeze leaves it out): its version is pinned here.
PIP_VERSION=26.3
# The Debian/Ubuntu packages of the system libraries Qt needs: QT_PACKAGES to load at all (also
# offscreen: the tests, make smoke), XCB_PACKAGES for its xcb platform plugin, the window on an
# X11 desktop (make demo). The xcb ones are what libqxcb.so and libQt6XcbQpa link against.
QT_PACKAGES="libegl1 libgl1 libxkbcommon0 libfontconfig1 libdbus-1-3"
XCB_PACKAGES="libx11-6 libx11-xcb1 libxcb1 libxcb-cursor0 libxcb-icccm4 libxcb-image0 \
libxcb-keysyms1 libxcb-randr0 libxcb-render0 libxcb-render-util0 libxcb-shape0 libxcb-shm0 \
libxcb-sync1 libxcb-util1 libxcb-xfixes0 libxcb-xkb1 libxkbcommon-x11-0"

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
"$VENV/bin/python" -m pip install --quiet "pip==$PIP_VERSION"
"$VENV/bin/python" -m pip install --quiet -r "$ROOT/requirements.lock"
# Qt needs a few system libraries even offscreen; name the packages that provide them.
if ! QT_QPA_PLATFORM=offscreen "$VENV/bin/python" -c "from PySide6 import QtWidgets, QtGui" 2>/tmp/meterdesk-qt-check.$$; then
    cat /tmp/meterdesk-qt-check.$$ >&2
    rm -f /tmp/meterdesk-qt-check.$$
    echo "Qt cannot load: a system library is missing." >&2
    echo "On Debian/Ubuntu: sudo apt-get install $QT_PACKAGES $XCB_PACKAGES" >&2
    exit 1
fi
rm -f /tmp/meterdesk-qt-check.$$
# The window on a desktop (make demo) needs Qt's xcb platform plugin and the libraries it links
# against. Not fatal: the tests and make smoke run offscreen.
if command -v ldd >/dev/null 2>&1; then
    MISSING=$(find "$VENV" \( -name libqxcb.so -o -name 'libQt6XcbQpa.so.*' \) -type f \
        -exec ldd {} + 2>/dev/null | grep "not found" | awk '{print $1}' | sort -u | tr '\n' ' ')
    if [ -n "$MISSING" ]; then
        echo "WARNING: the console's window cannot open on this desktop (make demo): Qt's xcb" >&2
        echo "platform plugin lacks ${MISSING% }." >&2
        echo "On Debian/Ubuntu: sudo apt-get install $XCB_PACKAGES" >&2
        echo "(The tests and make smoke run offscreen and do not need them.)" >&2
    fi
fi
echo "Environment ready in $VENV."
