#!/bin/sh
# Install MeterDesk system-wide on Debian/Ubuntu: the code in /opt/meterdesk with its own pinned
# virtual environment, a `meterdesk` launcher and a desktop menu entry. Run as root from a checkout:
#   sudo sh installer/linux/install.sh [PREFIX]
set -eu
PREFIX=${1:-/opt/meterdesk}
SRC=$(cd "$(dirname "$0")/../.." && pwd)
if [ "$(id -u)" != 0 ]; then
    echo "Run as root (sudo) to install into $PREFIX." >&2
    exit 1
fi
mkdir -p "$PREFIX"
# Copy the program, not the developer's environment or caches.
tar -C "$SRC" --exclude=.venv --exclude=.git --exclude='__pycache__' --exclude='.*_cache' \
    -cf - main.py app resources requirements.lock pyproject.toml scripts | tar -C "$PREFIX" -xf -
PYTHON=${PYTHON:-python3} sh "$PREFIX/scripts/bootstrap.sh" "$PREFIX/.venv"
cat > "$PREFIX/meterdesk" <<LAUNCH
#!/bin/sh
exec "$PREFIX/.venv/bin/python" "$PREFIX/main.py" "\$@"
LAUNCH
chmod 755 "$PREFIX/meterdesk"
ln -sf "$PREFIX/meterdesk" /usr/local/bin/meterdesk
sed "s#/opt/meterdesk#$PREFIX#g" "$SRC/installer/linux/meterdesk.desktop" \
    > /usr/share/applications/meterdesk.desktop
echo "MeterDesk installed in $PREFIX. Start it from the menu or with: meterdesk"
