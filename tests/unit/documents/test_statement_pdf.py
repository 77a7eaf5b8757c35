"""The monthly statement as PDF: the holder's Chinese name, the summary box adding up to the
closing balance, every movement with its receipt number over as many A4 pages as it takes (the
column header on each), usage in detail per meter, period and tier, and "Page N of M"."""

from __future__ import annotations

import dataclasses
import re
import shutil
import subprocess
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from app.documents.statement_pdf import money_text, render_statement
from app.queries.reports.period import Period
from app.queries.statement_data import Statement, StatementLine, UsageLine
from app.vocabulary import LedgerKind, Utility

ZONE = ZoneInfo("Asia/Shanghai")
START = datetime(2026, 11, 1, tzinfo=ZONE).astimezone(UTC)  # local midnight


def statement(line_count: int) -> Statement:
    """November 2026: an opening balance of 1,000.00, ``line_count`` recharges of 10.00 (one
    in three a correction of -2.50 without receipt), usage of 123.45 billed in 300 postings."""
    lines = []
    balance = 100000
    for n in range(line_count):
        correction = n % 3 == 2
        amount = -250 if correction else 1000
        balance += amount
        lines.append(
            StatementLine(
                entry_id=1000 + n,
                at=START + timedelta(hours=2 * n),
                kind=LedgerKind.ADJUSTMENT if correction else LedgerKind.RECHARGE,
                receipt_number=None if correction else 5000 + n,
                reference="" if correction else f"receipt {5000 + n}",
                reason="meter read twice: 错误读数" if correction else "recharge, cash",
                amount_minor=amount,
                balance_after_minor=balance,
            )
        )
    usage = (
        UsageLine("EA01001", Utility.ELECTRICITY, "kWh", "energy", "peak", 1, Decimal("0.8000"),
                  Decimal("100.125"), 8010),
        UsageLine("EA01001", Utility.ELECTRICITY, "kWh", "energy", "valley", 2, Decimal("0.3000"),
                  Decimal("70"), 2100),
        UsageLine("WA01001", Utility.WATER, "m3", "energy", None, None, None, Decimal("0.058"),
                  2235),
    )  # fmt: skip
    return Statement(
        site_name="阳光花园 Sunshine Gardens",
        site_address="北京市海淀区 88 Riverside Road",
        currency="CNY",
        places=2,
        zone=ZONE,
        account_number="100001",
        holder_name="Zhang Wei 张伟",
        holder_ref="202612345",
        room="A-101",
        period=Period.month(2026, 11),
        generated_at=datetime(2026, 12, 1, 1, 2, tzinfo=UTC),
        opening_minor=100000,
        closing_minor=balance - 12345,
        lines=tuple(lines),
        usage_billed_minor=-12345,
        usage_postings=300,
        usage=usage,
    )


def pdf_pages(pdf: bytes, tmp_path: Path) -> list[str]:
    """The text of each page (pdftotext ends every page with a form feed)."""
    if shutil.which("pdftotext") is None:
        pytest.skip("pdftotext (poppler-utils) is not installed")
    path = tmp_path / "statement.pdf"
    path.write_bytes(pdf)
    done = subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, check=True)
    return done.stdout.decode("utf-8").split("\f")[:-1]


def test_one_page_says_who_which_month_and_what_it_adds_up_to(tmp_path: Path) -> None:
    s = statement(6)  # four recharges, two corrections
    (page,) = pdf_pages(render_statement(s), tmp_path)
    assert "张伟" in page
    assert "阳光花园" in page
    assert "北京市海淀区" in page
    assert "November 2026 (2026-11-01 - 2026-11-30)" in page
    assert "Page 1 of 1" in page
    assert "2026-12-01 09:02 (Asia/Shanghai)" in page  # generated, in the site's zone
    closing = money_text(s.closing_minor, 2)
    assert closing == "911.55"  # 1,000.00 + 40.00 - 5.00 - 123.45
    summary = {
        "Opening balance": "1,000.00",
        "Recharges": "40.00",
        "Corrections and reversals": "-5.00",
        "Usage billed": "-123.45",
        "Fees": "0.00",
        "Closing balance": closing,
    }
    for label, value in summary.items():
        assert re.search(rf"{label}\s+{re.escape(value)}", page), (label, page)
    assert re.search(r"2026-11-01 00:00\s+Recharge\s+00005000", page)  # site-local times
    assert "错误读数" in page
    assert "300 usage postings, summed" in page
    # Usage per meter, period and tier with its unit price; the lines add up to the total.
    assert re.search(r"EA01001\s+electricity\s+peak\s+1\s+0\.8000\s+100\.125 kWh\s+80\.10", page)
    assert re.search(r"valley\s+2\s+0\.3000\s+70 kWh\s+21\.00", page)
    assert re.search(r"WA01001\s+water\s+-\s+-\s+-\s+0\.058 m3\s+22\.35", page)
    assert re.search(r"Total usage billed\s+123\.45", page)
    assert "Usage posted without meter detail" not in page


def test_many_movements_run_over_pages_with_the_header_on_each(tmp_path: Path) -> None:
    s = statement(150)
    pdf = render_statement(s)
    pages = pdf_pages(pdf, tmp_path)
    assert len(pages) >= 3
    count = len(pages)
    for number, page in enumerate(pages, start=1):
        assert f"Page {number} of {count}" in page
        assert "100001" in page  # the running header names the account on every page
    movement_pages = [page for page in pages if "00005" in page]
    assert len(movement_pages) >= 2
    for page in movement_pages:
        assert re.search(r"Date and time\s+Kind\s+Receipt", page)
    text = "\n".join(pages)
    assert text.count("recharge, cash") == 100
    assert f"{5000 + 148:08d}" in text
    assert re.search(rf"Closing balance\s+{re.escape(money_text(s.closing_minor, 2))}", pages[-1])
    assert render_statement(s) == pdf  # deterministic: a reprint is the same file


def test_an_empty_month_and_usage_without_meter_detail(tmp_path: Path) -> None:
    empty = dataclasses.replace(
        statement(0), usage=(), usage_billed_minor=0, usage_postings=0, closing_minor=100000
    )
    (page,) = pdf_pages(render_statement(empty), tmp_path)
    assert "No usage was billed this month." in page
    assert re.search(r"Closing balance\s+1,000\.00", page)
    undetailed = dataclasses.replace(
        empty, usage=(), usage_billed_minor=-777, usage_postings=1, closing_minor=99223
    )
    (page,) = pdf_pages(render_statement(undetailed), tmp_path)
    assert re.search(r"Usage posted without meter detail\s+7\.77", page)
    assert "1 usage posting; the detail follows" in page


@pytest.mark.parametrize(
    ("minor", "places", "text"),
    [(123456789012, 2, "1,234,567,890.12"), (-5, 2, "-0.05"), (0, 2, "0.00"), (-1234, 0, "-1,234")],
)
def test_amounts_are_exact_with_the_currency_places(minor: int, places: int, text: str) -> None:
    assert money_text(minor, places) == text
