"""Receipts render to PDFs whose text (read back with poppler's pdftotext) says what was paid,
on 80 mm rolls and on A4, with Chinese names, and never wider than the paper."""

from __future__ import annotations

import dataclasses
import re
import shutil
import subprocess
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from app.documents import pdf_fonts, receipt_pdf
from app.documents.receipt_pdf import ReceiptDocument, render_receipt

MM = 72 / 25.4
SITE_TZ = timezone(timedelta(hours=8))

RECHARGE = ReceiptDocument(
    number=42,
    kind="recharge",
    site_name="阳光花园 Sunshine Garden",
    site_address="深圳市南山区科技园路 88 号",
    issued_at=datetime(2026, 3, 14, 9, 30, 5, tzinfo=SITE_TZ),
    operator="李娜",
    room="A-305",
    holder="张伟",
    account="100238",
    meters=("electricity 000012345678", "water 000098765432"),
    amount="50.00",
    currency="CNY",
    method="cash",
    balance_before="12.40",
    balance_after="62.40",
    tariffs=("Residential 2026",),
)


def _poppler(tool: str, pdf: bytes, tmp_path: Path, *args: str) -> str:
    if shutil.which(tool) is None:
        pytest.skip(f"{tool} (poppler-utils) is not installed")
    path = tmp_path / "out.pdf"
    path.write_bytes(pdf)
    done = subprocess.run([tool, *args, str(path), "-"], capture_output=True, check=True)
    return done.stdout.decode("utf-8")


def pdf_text(pdf: bytes, tmp_path: Path) -> str:
    return _poppler("pdftotext", pdf, tmp_path, "-layout")


def pdf_info(pdf: bytes, tmp_path: Path) -> dict[str, str]:
    if shutil.which("pdfinfo") is None:
        pytest.skip("pdfinfo (poppler-utils) is not installed")
    path = tmp_path / "info.pdf"
    path.write_bytes(pdf)
    done = subprocess.run(["pdfinfo", str(path)], capture_output=True, check=True, text=True)
    pairs = (line.split(":", 1) for line in done.stdout.splitlines() if ":" in line)
    return {key.strip(): value.strip() for key, value in pairs}


def page_size_pt(info: dict[str, str]) -> tuple[float, float]:
    match = re.match(r"([\d.]+) x ([\d.]+) pts", info["Page size"])
    assert match, info["Page size"]
    return float(match[1]), float(match[2])


def rightmost_word_pt(pdf: bytes, tmp_path: Path) -> float:
    """The right edge of the rightmost word on any page, from ``pdftotext -bbox``."""
    html = _poppler("pdftotext", pdf, tmp_path, "-bbox")
    return max(float(x) for x in re.findall(r'xMax="([\d.]+)"', html))


@pytest.mark.parametrize("layout", ["roll80", "a4"])
def test_a_receipt_prints_who_paid_what(layout: str, tmp_path: Path) -> None:
    text = pdf_text(render_receipt(RECHARGE, layout), tmp_path)
    for expected in ("Recharge receipt", "No. 00000042", "A-305", "张伟", "阳光花园", "100238"):
        assert expected in text
    for expected in ("electricity 000012345678", "water 000098765432", "Residential 2026"):
        assert expected in text
    assert re.search(r"Amount\s+CNY 50\.00", text)
    assert re.search(r"Balance before\s+CNY 12\.40", text)
    assert re.search(r"Balance after\s+CNY 62\.40", text)
    assert re.search(r"Method\s+cash", text)
    assert "2026-03-14 09:30:05 +08:00" in text
    assert "COPY" not in text
    assert "Reason" not in text


@pytest.mark.parametrize("layout", ["roll80", "a4"])
def test_a_reprint_says_copy_at_the_top_and_in_the_footer(layout: str, tmp_path: Path) -> None:
    text = pdf_text(render_receipt(dataclasses.replace(RECHARGE, copy=True), layout), tmp_path)
    assert text.count("COPY - reprint") == 2
    assert text.index("COPY - reprint") < text.index("Receipt No.")


def test_roll80_is_80_mm_wide_and_as_tall_as_its_content(tmp_path: Path) -> None:
    info = pdf_info(render_receipt(RECHARGE, "roll80"), tmp_path)
    width, height = page_size_pt(info)
    assert info["Pages"] == "1"
    assert width == pytest.approx(80 * MM, abs=0.1)
    assert 60 * MM < height < 140 * MM


def test_a4_is_a4_with_title_and_author(tmp_path: Path) -> None:
    info = pdf_info(render_receipt(RECHARGE, "a4"), tmp_path)
    assert info["Page size"].endswith("(A4)")
    assert info["Title"] == "Recharge receipt No. 00000042"
    assert info["Author"] == "李娜"


@pytest.mark.parametrize("layout", ["roll80", "a4"])
def test_long_values_wrap_inside_the_paper(layout: str, tmp_path: Path) -> None:
    meters = tuple(f"electricity 0000123456{i:02d}" for i in range(30))
    long_doc = dataclasses.replace(
        RECHARGE, meters=meters, holder="欧阳" * 30, account="9" * 60, site_address="路" * 80
    )
    pdf = render_receipt(long_doc, layout)
    text = pdf_text(pdf, tmp_path)
    assert all(meter in text for meter in meters)
    width, _ = page_size_pt(pdf_info(pdf, tmp_path))
    margin = 4 * MM if layout == "roll80" else 20 * MM
    assert rightmost_word_pt(pdf, tmp_path) <= width - margin + 0.5
    if layout == "roll80":
        assert pdf_info(pdf, tmp_path)["Pages"] == "1"


def test_a_refund_shows_its_reason_and_approver(tmp_path: Path) -> None:
    refund = dataclasses.replace(
        RECHARGE,
        kind="refund",
        amount="-62.40",
        balance_before="62.40",
        balance_after="0.00",
        reason="Tenant moved out 退租",
        approved_by="王芳",
    )
    text = pdf_text(render_receipt(refund, "roll80"), tmp_path)
    assert "Refund receipt" in text
    assert re.search(r"Reason\s+Tenant moved out 退租", text)
    assert re.search(r"Approved by\s+王芳", text)
    assert "CNY -62.40" in text


@pytest.mark.parametrize(
    ("kind", "title"),
    [("settlement", "Settlement receipt"), ("adjustment", "Adjustment receipt")],
)
def test_each_kind_has_its_title_and_no_method_row_without_a_method(
    kind: str, title: str, tmp_path: Path
) -> None:
    doc = dataclasses.replace(RECHARGE, kind=kind, method=None)
    text = pdf_text(render_receipt(doc, "a4"), tmp_path)
    assert title in text
    assert "Method" not in text


def test_the_same_receipt_renders_the_same_bytes() -> None:
    assert render_receipt(RECHARGE, "roll80") == render_receipt(RECHARGE, "roll80")
    assert render_receipt(RECHARGE, "a4") == render_receipt(RECHARGE, "a4")


def test_bad_input_is_refused_with_a_clear_message() -> None:
    with pytest.raises(ValueError, match="Unknown receipt layout 'letter'"):
        render_receipt(RECHARGE, "letter")
    with pytest.raises(ValueError, match="Unknown receipt kind 'gift'"):
        render_receipt(dataclasses.replace(RECHARGE, kind="gift"), "a4")
    naive = dataclasses.replace(RECHARGE, issued_at=datetime(2026, 3, 14, 9, 30))
    with pytest.raises(ValueError, match="no time zone"):
        render_receipt(naive, "a4")


def test_the_environment_variable_chooses_the_font(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    found = [path for path, _, _ in pdf_fonts.FONT_CANDIDATES if Path(path).is_file()]
    if not found:
        pytest.skip("no TrueType CJK font on this machine")
    monkeypatch.setattr(pdf_fonts, "FONT_CANDIDATES", ())
    monkeypatch.setenv(pdf_fonts.FONT_ENV, found[0])
    fonts = pdf_fonts.find_fonts()
    assert fonts.embedded
    assert fonts.source == found[0]


def test_without_a_usable_font_it_falls_back_to_stsong(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    not_a_font = tmp_path / "broken.ttf"
    not_a_font.write_bytes(b"not a font")
    monkeypatch.setattr(pdf_fonts, "FONT_CANDIDATES", ((str(not_a_font), 0, ""),))
    monkeypatch.setenv(pdf_fonts.FONT_ENV, str(tmp_path / "missing.ttf"))
    fonts = pdf_fonts.find_fonts()
    assert (fonts.regular, fonts.bold) == ("STSong-Light", "STSong-Light")
    assert not fonts.embedded
    monkeypatch.setattr(receipt_pdf, "pdf_fonts", lambda: fonts)
    text = pdf_text(render_receipt(RECHARGE, "roll80"), tmp_path)
    assert "A-305" in text
    assert "张伟" in text
