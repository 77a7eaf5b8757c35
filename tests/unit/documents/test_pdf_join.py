"""Joining MeterDesk's own PDFs: every page of every part, in order and unchanged (each
statement keeps its "Page N of M"), one bookmark per part (CJK titles included), the same bytes
for the same parts; a PDF this joiner does not know (not a PDF, encrypted, updated, an xref
stream) and no part at all are refused naming the part."""

from __future__ import annotations

import io
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from app.documents.pdf_join import PdfJoinError, PdfPart, join_pdfs, text_string
from app.documents.statement_pdf import render_statement
from tests.unit.documents.test_statement_pdf import statement


def joined(parts: list[PdfPart], title: str = "Statements") -> tuple[bytes, list[int]]:
    out = io.BytesIO()
    counts = join_pdfs(parts, out, title=title)
    return out.getvalue(), counts


def poppler(tool: str, pdf: bytes, tmp_path: Path, *args: str) -> str:
    if shutil.which(tool) is None:
        pytest.skip(f"{tool} (poppler-utils) is not installed")
    path = tmp_path / "joined.pdf"
    path.write_bytes(pdf)
    out = ["-"] if tool == "pdftotext" else []
    done = subprocess.run([tool, *args, str(path), *out], capture_output=True, check=True)
    assert done.stderr == b"", done.stderr  # poppler complains about a broken file here
    return done.stdout.decode()


@pytest.fixture(scope="module")
def short() -> bytes:
    return render_statement(statement(3))  # one page


@pytest.fixture(scope="module")
def long() -> bytes:
    return render_statement(statement(150))  # several pages


def test_every_page_of_every_part_in_order(short: bytes, long: bytes, tmp_path: Path) -> None:
    pdf, counts = joined(
        [PdfPart("A-101 张伟", short), PdfPart("A-102", long), PdfPart("x", short)]
    )
    assert counts[0] == 1
    assert counts[2] == 1
    assert counts[1] > 2
    text = poppler("pdftotext", pdf, tmp_path, "-layout")
    pages = text.split("\f")[:-1]
    assert len(pages) == sum(counts)
    numbered = [re.search(r"Page (\d+) of (\d+)", page) for page in pages]
    said = [(int(m.group(1)), int(m.group(2))) for m in numbered if m is not None]
    middle = [(n, counts[1]) for n in range(1, counts[1] + 1)]
    assert said == [(1, 1), *middle, (1, 1)]
    assert all("张伟" in page for page in pages)  # the CJK font of every part came along
    info = poppler("pdfinfo", pdf, tmp_path)
    assert re.search(rf"^Pages:\s+{sum(counts)}$", info, re.MULTILINE)
    assert "Title:           Statements" in info


def test_one_bookmark_per_part_and_the_same_bytes_again(short: bytes, long: bytes) -> None:
    parts = [PdfPart("A-101 张伟", short), PdfPart("A-102 李娜", long)]
    pdf, counts = joined(parts)
    assert pdf.count(b"/Dest [") == 2
    assert text_string("A-101 张伟") in pdf
    assert text_string("A-102 李娜") in pdf
    assert b"/PageMode /UseOutlines" in pdf
    again, _ = joined(parts)
    assert again == pdf
    # the joined file is itself one this module can join
    twice, twice_counts = joined([PdfPart("all", pdf), PdfPart("one", short)])
    assert twice_counts == [sum(counts), 1]
    assert twice.startswith(b"%PDF-1.7")


def test_streams_are_copied_byte_for_byte(long: bytes) -> None:
    pdf, _ = joined([PdfPart("a", long)])
    streams = re.findall(rb"stream\r?\n(.*?)endstream", long, re.DOTALL)
    assert streams
    for data in streams:
        assert data in pdf


def _edited(data: bytes, old: bytes, new: bytes) -> bytes:
    assert old in data
    return data.replace(old, new, 1)


@pytest.mark.parametrize(
    ("change", "said"),
    [
        (lambda d: b"hello", "it does not start with %PDF-"),
        (lambda d: d[: d.rfind(b"startxref")], "it has no startxref at its end"),
        (lambda d: _edited(d, b"\nxref\n", b"\nxraf\n"), "no classic cross-reference table"),
        (lambda d: _edited(d, b"trailer\n<<", b"trailer\n<< /Encrypt 3 0 R"), "it is encrypted"),
        (lambda d: _edited(d, b"trailer\n<<", b"trailer\n<< /Prev 10"), "it was updated"),
        (lambda d: _edited(d, b"/Root", b"/Raat"), "its trailer names no /Root"),
        (lambda d: _edited(d, b"/Type /Pages", b"/Type /Pagez"), "neither Pages nor Page"),
        (lambda d: _edited(d, b"%PDF-1.4", b"%PDF-2.0"), "it is PDF 2.0, newer than 1.7"),
    ],
)
def test_a_pdf_it_does_not_know_is_refused_naming_the_part(
    short: bytes, change: object, said: str
) -> None:
    assert callable(change)
    with pytest.raises(PdfJoinError, match=r"^A-103: cannot join this PDF: ") as caught:
        joined([PdfPart("A-101", short), PdfPart("A-103", change(short))])
    assert said in str(caught.value)


def test_a_string_that_looks_like_a_reference_is_left_alone() -> None:
    from app.documents.pdf_join import _renumbered

    head = b"<< /Title (see 5 0 R \\) 6 0 R) /Font 7 0 R /Hex <3520302052> >>"
    assert _renumbered(head, lambda n: n + 100) == (
        b"<< /Title (see 5 0 R \\) 6 0 R) /Font 107 0 R /Hex <3520302052> >>"
    )


def test_nothing_to_join_is_refused() -> None:
    with pytest.raises(PdfJoinError, match="there is nothing to join"):
        joined([])
