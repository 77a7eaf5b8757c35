"""Printing a saved receipt through Qt's print system: the pages arrive at the printer's size
(an 80 mm roll stays 80 mm wide), and a missing file or printer is said plainly."""

from __future__ import annotations

import re
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest
from PySide6.QtPrintSupport import QPrinter, QPrinterInfo

from app.documents.receipt_pdf import ReceiptDocument, render_receipt
from app.ui.pdf_printing import PrintFailed, print_document, print_pdf


def receipt(tmp_path: Path, layout: str) -> Path:
    doc = ReceiptDocument(
        number=7,
        kind="recharge",
        site_name="Test site",
        site_address="",
        issued_at=datetime(2026, 11, 28, 1, 0, tzinfo=UTC),
        operator="Counter cashier",
        room="A-305",
        holder="张伟",
        account="100045",
        meters=("electricity EA03005",),
        amount="50.00",
        currency="CNY",
        method="cash",
        balance_before="1.00",
        balance_after="51.00",
        tariffs=("Dormitory electricity",),
    )
    path = tmp_path / f"receipt-{layout}.pdf"
    path.write_bytes(render_receipt(doc, layout))
    return path


def page_size_mm(path: Path) -> tuple[float, float, int]:
    info = subprocess.run(["pdfinfo", str(path)], capture_output=True, text=True).stdout
    size = re.search(r"Page size:\s+([\d.]+) x ([\d.]+) pts", info)
    pages = re.search(r"Pages:\s+(\d+)", info)
    assert size is not None
    assert pages is not None
    to_mm = 25.4 / 72
    return float(size.group(1)) * to_mm, float(size.group(2)) * to_mm, int(pages.group(1))


def test_a_roll_receipt_prints_on_an_80_mm_page(qapp, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    source = receipt(tmp_path, "roll80")
    printer = QPrinter(QPrinter.PrinterMode.HighResolution)
    printer.setOutputFormat(QPrinter.OutputFormat.PdfFormat)  # a printer that writes a file
    printed = tmp_path / "printed.pdf"
    printer.setOutputFileName(str(printed))
    assert print_pdf(source, printer) == 1
    width, height, pages = page_size_mm(printed)
    source_width, source_height, _ = page_size_mm(source)
    assert pages == 1
    assert abs(width - 80) < 1
    assert abs(height - source_height) < 1
    assert abs(width - source_width) < 1


def test_missing_files_and_printers_are_said_plainly(qapp, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    printer = QPrinter()
    printer.setOutputFormat(QPrinter.OutputFormat.PdfFormat)
    printer.setOutputFileName(str(tmp_path / "out.pdf"))
    with pytest.raises(PrintFailed, match="Cannot read"):
        print_pdf(tmp_path / "gone.pdf", printer)
    source = receipt(tmp_path, "a4")
    assert print_document(source, "none") is None  # saved only: nothing to say
    if QPrinterInfo.defaultPrinterName():
        return  # a machine with a real printer: do not print on it
    message = print_document(source, "printer")
    assert message is not None
    assert "No default printer" in message
    assert str(source) in message
