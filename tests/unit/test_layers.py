"""The Qt-free layers import without Qt (DESIGN.md: a headless ``main.py serve`` needs no Qt)."""

from __future__ import annotations

import json

from tests.support import run_python

QT_FREE = [
    "app.billing",
    "app.hardware",
    "app.store",
    "app.queries",
    "app.documents",
    "app.services",
    "app.runtime",
    "app.demo",
    "app.process",
    "app.cli",
]

PROBE = """
import importlib, json, pkgutil, sys
imported = []
for name in sys.argv[1:]:
    package = importlib.import_module(name)
    imported.append(name)
    for module in pkgutil.walk_packages(package.__path__, name + "."):
        importlib.import_module(module.name)
        imported.append(module.name)
qt = sorted(m for m in sys.modules if m.split(".")[0] in {"PySide6", "shiboken6", "pyqtgraph"})
print(json.dumps({"imported": imported, "qt": qt}))
"""


def test_the_qt_free_packages_import_without_qt() -> None:
    proc = run_python(["-c", PROBE, *QT_FREE], timeout=120)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result["qt"] == []
    imported = set(result["imported"])
    assert {
        "app.billing.money",
        "app.billing.credit_region",
        "app.billing.tariff_header",
        "app.store.database",
        "app.store.migrate",
        "app.store.models.account_models",
        "app.demo.site",
        "app.queries.accounts",
        "app.process.crash_report",
        "app.cli.db_commands",
        "app.cli.demo_commands",
        "app.cli.gui_command",  # its Qt import waits until a window is wanted
    } <= imported


def test_the_command_line_help_runs_without_qt() -> None:
    """Scripted commands must not load Qt: ``main.py --help`` builds the whole parser."""
    probe = (
        "import contextlib, io, sys\n"
        "from app.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    try:\n"
        "        main(['--help'])\n"
        "    except SystemExit:\n"
        "        pass\n"
        "print(sorted(m for m in sys.modules if m.startswith('PySide6')))\n"
    )
    proc = run_python(["-c", probe], timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"
