"""Several PDF documents that MeterDesk wrote itself, joined into one file to print: every page
kept exactly as it was (the same content stream, fonts and resources), in order, with one
bookmark per document.

Why not lay the documents out again in one reportlab story: each statement numbers its own
pages ("Page 2 of 3") and runs its own header, and its layout belongs to its module; joining
the finished files gives the very pages the tenant's own file has. pypdf is not a dependency,
so this reads just what reportlab writes: one revision, a classic cross-reference table, no
encryption, no object streams, pages that carry their own resources. Anything else is refused
with PdfJoinError rather than guessed at. Objects are copied byte for byte; only the numbers in
their references change (never inside strings or streams). Fonts embedded by each document are
copied with its pages, so the joined file is about the sum of its parts.

The output is written as it goes (``join_pdfs`` takes an iterable and a binary file), so a
batch of a thousand statements never sits in memory at once. No timestamps: the same parts, the
same bytes.
"""

from __future__ import annotations

import bisect
import hashlib
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import BinaryIO

_STARTXREF = re.compile(rb"startxref\s+(\d+)\s+%%EOF\s*$")
_XREF_SECTION = re.compile(rb"\s*(\d+)\s+(\d+)[ \t]*\r?\n")
_XREF_ENTRY = re.compile(rb"(\d{10}) (\d{5}) ([nf])")
_OBJ_HEADER = re.compile(rb"\s*(\d+)\s+(\d+)\s+obj\b")
_REF = re.compile(rb"(\d+)\s+(\d+)\s+R(?![A-Za-z0-9_])")
_ROOT = re.compile(rb"/Root\s+(\d+)\s+\d+\s+R")
_PAGES = re.compile(rb"/Pages\s+(\d+)\s+\d+\s+R")
_KIDS = re.compile(rb"/Kids\s*\[([^\]]*)\]")
_TYPE = re.compile(rb"/Type\s*/(\w+)")
_PARENT = re.compile(rb"/Parent\s+\d+\s+\d+\s+R")
_VERSION = re.compile(rb"%PDF-(\d)\.(\d)")
_NEWLINE = re.compile(rb"[\r\n]")
_STREAM = re.compile(rb"(?<![A-Za-z])stream(?=\s)")
NEWEST_VERSION = (1, 7)  # the joined file's header: it reads every part up to it
# Attributes a page may inherit from its page tree node; such a tree is refused (not copied).
_INHERITED = (b"/Resources", b"/MediaBox", b"/CropBox", b"/Rotate")
_PARENT_MARK = b"\x00parent\x00"
MAX_TREE_DEPTH = 32


class PdfJoinError(ValueError):
    """A part that is not a PDF this module knows how to copy; the message names it."""


@dataclass(frozen=True)
class PdfPart:
    """One document to join: its bookmark in the joined file and its bytes."""

    title: str
    data: bytes


@dataclass(frozen=True)
class _Object:
    head: bytes  # the object's value up to its stream, if any: references are renumbered here
    stream: bytes  # ``stream ... endstream`` copied as it is ("" for none)


class _Source:
    """One part, read: where each object is, its page tree, its version."""

    def __init__(self, part: PdfPart) -> None:
        self.name = part.title
        data = part.data
        self.data = data
        if not data.startswith(b"%PDF-"):
            raise self.error("it does not start with %PDF-")
        version = _VERSION.match(data)
        self.version = (int(version.group(1)), int(version.group(2))) if version else (1, 4)
        tail = _STARTXREF.search(data[-128:])
        if tail is None:
            raise self.error("it has no startxref at its end")
        self.xref_at = int(tail.group(1))
        self.offsets = self._table()
        self._starts = sorted([*self.offsets.values(), self.xref_at])

    def error(self, why: str) -> PdfJoinError:
        return PdfJoinError(f"{self.name}: cannot join this PDF: {why}")

    def _table(self) -> dict[int, int]:
        """The classic cross-reference table and the trailer's checks."""
        data, pos = self.data, self.xref_at
        if not data.startswith(b"xref", pos):
            raise self.error("no classic cross-reference table (an xref stream?)")
        pos += 4
        offsets: dict[int, int] = {}
        while True:
            section = _XREF_SECTION.match(data, pos)
            if section is None:
                break
            first, count = int(section.group(1)), int(section.group(2))
            pos = section.end()
            for number in range(first, first + count):
                entry = _XREF_ENTRY.match(data, pos)
                if entry is None:
                    raise self.error(f"entry {number} of its cross-reference table is unreadable")
                if entry.group(3) == b"n":
                    offsets[number] = int(entry.group(1))
                pos += 20
        trailer_at = data.find(b"trailer", pos)
        if trailer_at < 0:
            raise self.error("no trailer after its cross-reference table")
        trailer = data[trailer_at : data.rfind(b"startxref")]
        for key, why in ((b"/Encrypt", "it is encrypted"), (b"/Prev", "it was updated")):
            if key in _code_only(trailer):
                raise self.error(why)
        root = _ROOT.search(trailer)
        if root is None:
            raise self.error("its trailer names no /Root")
        self.root = int(root.group(1))
        return offsets

    def object(self, number: int) -> _Object:
        at = self.offsets.get(number)
        if at is None:
            raise self.error(f"object {number} is referred to but not in the table")
        header = _OBJ_HEADER.match(self.data, at)
        if header is None or int(header.group(1)) != number:
            raise self.error(f"object {number} is not where the table says")
        end = self._starts[bisect.bisect_right(self._starts, at)]
        body = self.data[header.end() : end].rstrip()
        if not body.endswith(b"endobj"):
            raise self.error(f"object {number} does not end with endobj")
        body = body[: -len(b"endobj")]
        split = _stream_start(body)
        if split < 0:
            return _Object(body.strip(), b"")
        return _Object(body[:split].strip(), body[split:].rstrip())

    def pages(self) -> list[int]:
        """The page objects in reading order (the page tree walked depth first)."""
        catalog = self.object(self.root).head
        found = _PAGES.search(_code_only(catalog))
        if found is None:
            raise self.error("its catalog names no /Pages")
        pages: list[int] = []
        self._walk(int(found.group(1)), pages, set(), 0)
        if not pages:
            raise self.error("it has no pages")
        return pages

    def _walk(self, number: int, pages: list[int], seen: set[int], depth: int) -> None:
        if number in seen or depth > MAX_TREE_DEPTH:
            raise self.error("its page tree loops")
        seen.add(number)
        head = _code_only(self.object(number).head)
        kind = _TYPE.search(head)
        if kind is not None and kind.group(1) == b"Page":
            pages.append(number)
            return
        if kind is None or kind.group(1) != b"Pages":
            raise self.error(f"object {number} in its page tree is neither Pages nor Page")
        if any(key in head for key in _INHERITED):
            raise self.error("its pages inherit attributes from their page tree")
        kids = _KIDS.search(head)
        for kid in _REF.finditer(kids.group(1) if kids else b""):
            self._walk(int(kid.group(1)), pages, seen, depth + 1)


def _segments(head: bytes) -> list[tuple[bool, bytes]]:
    """``head`` cut into (is code, text): literal strings ``(...)`` (nested, escaped), hex
    strings ``<...>`` and comments are not code, so a reference is never looked for in them."""
    out: list[tuple[bool, bytes]] = []
    start = pos = 0
    size = len(head)
    while pos < size:
        char = head[pos : pos + 1]
        if char == b"(":
            end, depth = pos + 1, 1
            while end < size and depth:
                c = head[end : end + 1]
                if c == b"\\":
                    end += 1
                elif c == b"(":
                    depth += 1
                elif c == b")":
                    depth -= 1
                end += 1
        elif char == b"<" and head[pos + 1 : pos + 2] != b"<":
            close = head.find(b">", pos)
            end = size if close < 0 else close + 1
        elif char == b"%":
            newline = _NEWLINE.search(head, pos)
            end = size if newline is None else newline.start()
        elif char == b"<":  # a dictionary's "<<"
            pos += 2
            continue
        else:
            pos += 1
            continue
        if pos > start:
            out.append((True, head[start:pos]))
        out.append((False, head[pos:end]))
        start = pos = end
    if start < size:
        out.append((True, head[start:]))
    return out


def _code_only(head: bytes) -> bytes:
    """``head`` without its strings and comments (for looking keys up)."""
    return b" ".join(text for code, text in _segments(head) if code)


def _stream_start(body: bytes) -> int:
    """Where the ``stream`` keyword starts in an object's body (outside strings), or -1."""
    pos = 0
    for code, text in _segments(body):
        if code:
            found = _STREAM.search(text)
            if found is not None:
                return pos + found.start()
        pos += len(text)
    return -1


def _references(head: bytes) -> list[int]:
    return [int(m.group(1)) for code, text in _segments(head) if code for m in _REF.finditer(text)]


def _renumbered(head: bytes, new: Callable[[int], int]) -> bytes:
    def swap(match: re.Match[bytes]) -> bytes:
        return b"%d 0 R" % new(int(match.group(1)))

    return b"".join(_REF.sub(swap, text) if code else text for code, text in _segments(head))


def text_string(text: str) -> bytes:
    """A PDF text string any viewer reads (UTF-16BE with its byte order mark, as hex)."""
    return b"<FEFF" + text.encode("utf-16-be").hex().upper().encode() + b">"


class _Writer:
    """Writes numbered objects as they come and remembers where each one is."""

    def __init__(self, out: BinaryIO) -> None:
        self.out = out
        self.position = 0
        self.offsets: dict[int, int] = {}
        self.digest = hashlib.md5(usedforsecurity=False)

    def raw(self, data: bytes) -> None:
        self.out.write(data)
        self.digest.update(data)
        self.position += len(data)

    def put(self, number: int, head: bytes, stream: bytes = b"") -> None:
        self.offsets[number] = self.position
        tail = b"\n" + stream if stream else b""
        self.raw(b"%d 0 obj\n" % number + head + tail + b"\nendobj\n")


# Fixed numbers of the joined file's own objects; copied objects follow.
_CATALOG, _PAGE_TREE, _OUTLINES, _INFO = 1, 2, 3, 4


def join_pdfs(parts: Iterable[PdfPart], out: BinaryIO, *, title: str) -> list[int]:
    """Write the pages of every part, in order, as one PDF to ``out`` (a bookmark per part,
    titled as the part); returns how many pages each part gave. PdfJoinError (naming the part)
    when a part is not a PDF this module can copy, or when there is no part at all: ``out``
    then holds a partial file, so write it through ``atomic_files.put_in_place``."""
    writer = _Writer(out)
    next_number = _INFO + 1
    kids: list[int] = []
    marks: list[tuple[int, str, int]] = []  # (outline item, title, its first page)
    counts: list[int] = []
    writer.raw(b"%%PDF-%d.%d\n%%\x93\x8c\x8b\x9e MeterDesk\n" % NEWEST_VERSION)
    for part in parts:
        source = _Source(part)
        if source.version > NEWEST_VERSION:
            raise source.error(f"it is PDF {source.version[0]}.{source.version[1]}, newer than 1.7")
        pages = source.pages()
        numbers: dict[int, int] = {}
        order: list[int] = []

        def new(old: int, *, numbers: dict[int, int] = numbers, order: list[int] = order) -> int:
            nonlocal next_number
            if old not in numbers:
                numbers[old] = next_number
                next_number += 1
                order.append(old)
            return numbers[old]

        for page in pages:
            new(page)
        copied = 0
        while copied < len(order):  # every object the pages reach, breadth first
            old = order[copied]
            copied += 1
            item = source.object(old)
            head = item.head
            if old in pages:
                head = _PARENT.sub(_PARENT_MARK, head, count=1)
            for reference in _references(head):
                new(reference)
            head = _renumbered(head, new)
            head = head.replace(_PARENT_MARK, b"/Parent %d 0 R" % _PAGE_TREE)
            writer.put(numbers[old], head, item.stream)
        kids += [numbers[page] for page in pages]
        marks.append((next_number, part.title, numbers[pages[0]]))
        next_number += 1
        counts.append(len(pages))
    if not counts:
        raise PdfJoinError("there is nothing to join: no document was given")
    for n, (number, mark, first_page) in enumerate(marks):
        links = b""
        if n > 0:
            links += b" /Prev %d 0 R" % marks[n - 1][0]
        if n + 1 < len(marks):
            links += b" /Next %d 0 R" % marks[n + 1][0]
        writer.put(
            number,
            b"<< /Title %s /Parent %d 0 R%s /Dest [ %d 0 R /Fit ] >>"
            % (text_string(mark), _OUTLINES, links, first_page),
        )
    writer.put(
        _OUTLINES,
        b"<< /Type /Outlines /First %d 0 R /Last %d 0 R /Count %d >>"
        % (marks[0][0], marks[-1][0], len(marks)),
    )
    writer.put(
        _PAGE_TREE,
        b"<< /Type /Pages /Count %d /Kids [ %s ] >>"
        % (len(kids), b" ".join(b"%d 0 R" % kid for kid in kids)),
    )
    writer.put(
        _CATALOG,
        b"<< /Type /Catalog /Pages %d 0 R /Outlines %d 0 R /PageMode /UseOutlines >>"
        % (_PAGE_TREE, _OUTLINES),
    )
    writer.put(
        _INFO, b"<< /Title %s /Creator (MeterDesk) /Producer (MeterDesk) >>" % text_string(title)
    )
    file_id = writer.digest.hexdigest().encode()
    xref_at = writer.position
    table = [b"xref\n0 %d\n0000000000 65535 f \n" % next_number]
    table += [b"%010d 00000 n \n" % writer.offsets[n] for n in range(1, next_number)]
    writer.raw(b"".join(table))
    writer.raw(
        b"trailer\n<< /Size %d /Root %d 0 R /Info %d 0 R /ID [ <%s> <%s> ] >>\n"
        % (next_number, _CATALOG, _INFO, file_id, file_id)
    )
    writer.raw(b"startxref\n%d\n%%%%EOF\n" % xref_at)
    return counts
