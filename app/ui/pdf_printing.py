"""Print a saved PDF (a receipt, a shift report) through Qt's print system.

Each page is rendered by QtPdf at the printer's resolution and painted on the printer's page,
whose size is set to the PDF page's (an 80 mm roll stays 80 mm wide). ``mode``: ``printer``
prints to the default printer without a dialog, ``dialog`` asks first, ``none`` prints nothing
(the PDF is saved either way).
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QCoreApplication, QMarginsF, QRectF, QSize, QSizeF
from PySide6.QtGui import QPageLayout, QPageSize, QPainter
from PySide6.QtPdf import QPdfDocument
from PySide6.QtPrintSupport import QPrintDialog, QPrinter, QPrinterInfo
from PySide6.QtWidgets import QDialog, QWidget


def _tr(text: str) -> str:
    return QCoreApplication.translate("PdfPrinting", text)


class PrintFailed(RuntimeError):
    """The PDF could not be printed; the message says why and what to do."""


def print_pdf(path: Path, printer: QPrinter) -> int:
    """Paint every page of ``path`` on ``printer``; returns the number of pages printed."""
    document = QPdfDocument()
    if document.load(str(path)) != QPdfDocument.Error.None_:
        raise PrintFailed(_tr("Cannot read {path}; save the receipt again.").format(path=path))
    try:
        pages = document.pageCount()
        first = document.pagePointSize(0)
        printer.setPageLayout(
            QPageLayout(
                QPageSize(QSizeF(first.width(), first.height()), QPageSize.Unit.Point),
                QPageLayout.Orientation.Portrait,
                QMarginsF(0, 0, 0, 0),
            )
        )
        painter = QPainter()
        if not painter.begin(printer):
            raise PrintFailed(_tr("The printer could not be opened; check that it is on."))
        try:
            dpi = printer.resolution()
            for page in range(pages):
                if page:
                    printer.newPage()
                size = document.pagePointSize(page)
                pixels = QSize(round(size.width() * dpi / 72), round(size.height() * dpi / 72))
                image = document.render(page, pixels)
                target = QRectF(painter.viewport())
                painter.drawImage(
                    QRectF(0, 0, target.width(), target.width() * pixels.height() / pixels.width()),
                    image,
                )
        finally:
            painter.end()
        return pages
    finally:
        document.close()


def print_document(path: Path, mode: str, parent: QWidget | None = None) -> str | None:
    """Print per the site's setting; returns a message for the operator when nothing was
    printed for a reason they should know (no printer, cancelled), else None."""
    if mode == "none":
        return None
    if mode == "printer" and not QPrinterInfo.defaultPrinterName():
        return _tr("No default printer is set up; the receipt was saved as {path}.").format(
            path=path
        )
    printer = QPrinter(QPrinter.PrinterMode.HighResolution)
    if mode == "dialog":
        dialog = QPrintDialog(printer, parent)
        dialog.setWindowTitle(_tr("Print receipt"))
        if dialog.exec() != QDialog.DialogCode.Accepted:
            return _tr("Not printed; the receipt was saved as {path}.").format(path=path)
    try:
        print_pdf(path, printer)
    except PrintFailed as exc:
        return str(exc)
    return None
