"""The shift close report lists every transaction over as many A4 pages as it takes, with the
column header on each page, and ends with the totals and the cash drawer count."""

from __future__ import annotations

import dataclasses
import re
import shutil
import subprocess
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from app.documents.shift_report_pdf import ShiftLine, ShiftReport, render_shift_report

SITE_TZ = timezone(timedelta(hours=8))
OPENED = datetime(2026, 3, 14, 8, 0, tzinfo=SITE_TZ)
METHODS = ("cash", "wechat", "alipay", "card")


def shift(line_count: int) -> ShiftReport:
    lines = tuple(
        ShiftLine(
            number=5000 + i,
            at=OPENED + timedelta(minutes=2 * i),
            kind="refund" if i % 7 == 0 else "recharge",
            room=f"A-{300 + i % 50}",
            account=str(100200 + i),
            method=METHODS[i % 4],
            amount=f"-{i}.00" if i % 7 == 0 else f"{i}.50",
        )
        for i in range(line_count)
    )
    return ShiftReport(
        site_name="阳光花园",
        operator="李娜",
        opened_at=OPENED,
        closed_at=OPENED + timedelta(hours=8),
        currency="CNY",
        opening_float="500.00",
        lines=lines,
        totals_by_method=(("cash", "4,250.00"), ("wechat", "3,120.00"), ("alipay", "-10.00")),
        cash_expected="4,750.00",
        cash_counted="4,745.00",
        difference="-5.00",
        closed_by="王芳",
    )


def pdf_pages(pdf: bytes, tmp_path: Path) -> list[str]:
    """The text of each page (pdftotext ends every page with a form feed)."""
    if shutil.which("pdftotext") is None:
        pytest.skip("pdftotext (poppler-utils) is not installed")
    path = tmp_path / "shift.pdf"
    path.write_bytes(pdf)
    done = subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, check=True)
    return done.stdout.decode("utf-8").split("\f")[:-1]


def test_two_hundred_lines_span_several_pages_and_all_appear(tmp_path: Path) -> None:
    report = shift(200)
    pages = pdf_pages(render_shift_report(report), tmp_path)
    count = len(pages)
    assert count >= 3
    text = "\n".join(pages)
    for line in report.lines:
        assert re.search(rf"{line.number:08d}\s+03-14 \d\d:\d\d:00\s+\w+\s+{line.room}", text)
    for number, page in enumerate(pages, start=1):
        assert "Amount (CNY)" in page, f"page {number} lacks the column header"
        assert f"Page {number} of {count}" in page
    assert "-7.00" in text
    assert "199.50" in text


def test_the_report_ends_with_totals_and_the_cash_drawer(tmp_path: Path) -> None:
    text = "\n".join(pdf_pages(render_shift_report(shift(200)), tmp_path))
    assert "Shift close report" in text
    assert "阳光花园" in text
    assert "李娜" in text
    assert "2026-03-14 08:00:00 +08:00" in text
    assert "2026-03-14 16:00:00 +08:00" in text
    assert re.search(r"cash\s+4,250\.00", text)
    assert re.search(r"wechat\s+3,120\.00", text)
    assert re.search(r"alipay\s+-10\.00", text)
    assert re.search(r"Opening float\s+500\.00", text)
    assert re.search(r"Cash expected in drawer\s+4,750\.00", text)
    assert re.search(r"Cash counted\s+4,745\.00", text)
    assert re.search(r"Difference\s+-5\.00", text)
    assert "Closed by: 王芳" in text
    assert text.rindex("Totals by method") > text.rindex("00005199")


def test_an_empty_uncounted_shift_says_so_on_one_page(tmp_path: Path) -> None:
    report = dataclasses.replace(shift(0), totals_by_method=(), cash_counted=None, difference=None)
    pages = pdf_pages(render_shift_report(report), tmp_path)
    assert len(pages) == 1
    assert "No transactions in this shift." in pages[0]
    assert re.search(r"Cash counted\s+not counted", pages[0])
    assert "Page 1 of 1" in pages[0]


def test_the_same_report_renders_the_same_bytes() -> None:
    report = shift(60)
    assert render_shift_report(report) == render_shift_report(report)
