"""Translation hook for user-visible strings outside Qt code.

Qt code calls ``self.tr()`` / ``QCoreApplication.translate`` directly. Qt-free layers call
``tr(context, text)`` here; the GUI installs ``QCoreApplication.translate`` as the backend at start,
so one translation file serves both. Headless, the text is returned unchanged.
"""

from __future__ import annotations

from collections.abc import Callable

_backend: Callable[[str, str], str] | None = None


def install_translator(backend: Callable[[str, str], str]) -> None:
    global _backend
    _backend = backend


def tr(context: str, text: str) -> str:
    return text if _backend is None else _backend(context, text)
