"""How much of anything MeterDesk accepts from a person, a file or a script: the one place the
input limits are set.

Every limit is far above what a real site needs and far below what breaks something: a file the
size of a disk, a TOML document nested past Python's recursion limit, a number with thousands of
digits, an amount the database's 64-bit integers cannot hold, a date before the calendar's
first year. A value past a limit is refused with a message saying the limit, never crashed on.

A leaf module: it imports nothing of MeterDesk's, so every layer may use it. ``read_limited``
is the one reader of the files the command line is given (tariffs, usage rows, policies,
load-guard settings, meter profiles): regular files only, at most ``MAX_FILE_BYTES``.
"""

from __future__ import annotations

import errno
import os
import stat
import unicodedata
from datetime import date, datetime

# -- files ----------------------------------------------------------------------------------

MAX_FILE_BYTES = 4 * 1024 * 1024  # a year of 15-minute usage rows of one meter is about 1.5 MB

# -- TOML documents -------------------------------------------------------------------------

MAX_TOML_NESTING = 16  # the deepest real file (a tariff's tiers in a TOU table) nests 4 deep

# -- numbers and names ----------------------------------------------------------------------

MAX_WHOLE_DIGITS = 9  # a whole-number setting (minutes, counts) never needs a billion
MAX_DECIMAL_DIGITS = 18  # digits of a price, quantity or amount typed as text, both sides of "."
MAX_NUMBER_CHARS = 32  # characters of a number typed as text (its leading zeros included)
# Digits before the point of a price or quantity (in a tariff file, a usage row): below a
# billion, so a price times a quantity stays well inside Decimal's 28 digits of precision.
MAX_INTEGER_DIGITS = 9
MAX_NAME_CHARS = 120  # a tariff, plan, policy or setting name
MAX_TEXT_CHARS = 1000  # any other single line a person types (a reason, a setting value)

# -- money ------------------------------------------------------------------------------------

# The largest amount or balance, in minor units: 10^15 cents is ¥10 trillion. A million of them
# still add up inside the database's BIGINT (2^63 - 1, about 9.2 x 10^18), so sums in reports
# cannot overflow either.
MAX_MONEY_MINOR = 10**15
BIGINT_MAX = 2**63 - 1

# -- the wire ---------------------------------------------------------------------------------

# A reply timeout a bus waits for a meter: a meter answers within 50 ms at the earliest, and
# ten seconds is far past any gateway's; beyond it a scan or a command seems to hang.
TIMEOUT_LOW_MS, TIMEOUT_HIGH_MS = 50, 10_000

# -- time -----------------------------------------------------------------------------------

EARLIEST_DATE = date(1970, 1, 1)  # before any meter a site can have; keeps time-zone sums safe
LATEST_DATE = date(2999, 12, 31)  # "not yet": a tariff stored for a far future day
MAX_QUOTE_DAYS = 3 * 366  # how far the usage of one tariff quote may span, first to last row


class InputTooLarge(OSError):
    """A file that is not a regular file or is larger than ``MAX_FILE_BYTES``. ``strerror``
    says which, in words for an ``error:`` line, as any other ``OSError`` does."""


def read_limited(path: str | os.PathLike[str], limit: int = MAX_FILE_BYTES) -> bytes:
    """The bytes of a regular file of at most ``limit`` bytes.

    A FIFO, a device (``/dev/zero``, ``/dev/urandom``), a folder or a larger file raises
    ``InputTooLarge`` before anything is read into memory; a file that grows while it is read
    is refused too (at most ``limit + 1`` bytes are ever read). Other ``OSError`` as ``open``
    raises them."""
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
    descriptor = os.open(path, flags)  # non-blocking: opening a FIFO never waits for a writer
    status = os.fstat(descriptor)
    if not stat.S_ISREG(status.st_mode):
        os.close(descriptor)
        raise InputTooLarge(
            errno.EINVAL, "not a regular file; give the path of a file saved on disk"
        )
    with os.fdopen(descriptor, "rb") as file:
        data = file.read(limit + 1)
    if status.st_size > limit or len(data) > limit:
        raise InputTooLarge(
            errno.EFBIG,
            f"larger than {limit // (1024 * 1024)} MB, the most MeterDesk reads; "
            "split it or give the right file",
        )
    return data


def read_limited_text(path: str | os.PathLike[str], limit: int = MAX_FILE_BYTES) -> str:
    """``read_limited`` decoded as UTF-8, its line endings kept and a leading byte-order mark
    (Windows Notepad writes one) removed. ``UnicodeDecodeError`` when it is not UTF-8."""
    return read_limited(path, limit).decode("utf-8").removeprefix("\ufeff")


def toml_nesting(text: str) -> int:
    """How deeply the arrays and inline tables of a TOML document nest (``[[1]]`` is 2).

    Counts brackets and braces outside strings and comments, so it runs in one pass over the
    text with no recursion; a table header (``[a.b]``, ``[[fees]]``) counts as its brackets do.
    Python's ``tomllib`` recurses once per level and raises ``RecursionError`` past about a
    thousand, which is why a document is measured before it is parsed."""
    depth = deepest = 0
    index, length = 0, len(text)
    while index < length:
        char = text[index]
        if char in "\"'":
            quote = char * 3 if text.startswith(char * 3, index) else char
            index = _string_end(text, index + len(quote), quote)
            continue
        if char == "#":
            newline = text.find("\n", index)
            index = length if newline < 0 else newline
            continue
        if char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth = max(depth - 1, 0)
        index += 1
    return deepest


def _string_end(text: str, index: int, quote: str) -> int:
    """The index just past the string whose body starts at ``index`` (or the text's end)."""
    escapes = quote[0] == '"'
    single_line = len(quote) == 1
    while index < len(text):
        char = text[index]
        if escapes and char == "\\":
            index += 2
            continue
        if single_line and char == "\n":
            return index  # an unterminated string: tomllib reports it with its place
        if text.startswith(quote, index):
            end = index + len(quote)
            while len(quote) == 3 and text.startswith(quote[0], end) and end - index < 5:
                end += 1  # up to two quotes may close a multi-line string: """a"""""
            return end
        index += 1
    return index


def too_deep(text: str) -> int | None:
    """How deeply a TOML document nests when that is past ``MAX_TOML_NESTING`` (it is refused
    before it is parsed), or None when its nesting is fine."""
    deepest = toml_nesting(text)
    return deepest if deepest > MAX_TOML_NESTING else None


def decimal_digits(text: str) -> tuple[int, int]:
    """How many digits a plain decimal written as text has in all and before its point."""
    whole = text.split(".", 1)[0]
    return sum(char.isdigit() for char in text), sum(char.isdigit() for char in whole)


def number_too_long(text: str) -> bool:
    """Whether a number typed as text is past the limits: more than ``MAX_DECIMAL_DIGITS``
    significant digits (leading zeros do not count: ``0.000012`` has 2) or more than
    ``MAX_NUMBER_CHARS`` characters."""
    significant = "".join(char for char in text if char.isdigit()).lstrip("0")
    return len(significant) > MAX_DECIMAL_DIGITS or len(text.strip()) > MAX_NUMBER_CHARS


def date_in_range(moment: date | datetime) -> bool:
    """Whether a date (or a date-time's date) lies within ``EARLIEST_DATE``..``LATEST_DATE``."""
    day = moment.date() if isinstance(moment, datetime) else moment
    return EARLIEST_DATE <= day <= LATEST_DATE


def date_range_text() -> str:
    """The dates MeterDesk accepts, for messages: ``from 1970-01-01 to 2199-12-31``."""
    return f"from {EARLIEST_DATE.isoformat()} to {LATEST_DATE.isoformat()}"


def control_character(text: str) -> str | None:
    """The first control character (NUL, escape, a tab or a line break...) or lone surrogate
    in a line of text, as ``U+0000``, or None. PostgreSQL refuses NUL and surrogates in text;
    the others garble a receipt or a screen."""
    for char in text:
        if unicodedata.category(char) in ("Cc", "Cs"):
            return f"U+{ord(char):04X}"
    return None
