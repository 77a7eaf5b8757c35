"""The frame shape and BCD values that DL/T 645 and CJ/T 188 share. Pure functions, no I/O.

Both protocols frame a message as::

    FE FE …   68   header fields   C   L   data (L bytes)   CS   16
    wake-up  start  (per protocol) ctrl len                 sum  end

- any number of ``FE`` wake-up bytes (or none) before the start byte ``68``;
- the protocol's own header fields (address, meter type, a second ``68``...), then the
  control byte and the length byte L, the last byte of the header;
- the checksum: the sum mod 256 of every byte from ``68`` to the last data byte;
- the end byte ``16``.

``header_len`` below counts the header from ``68`` to L inclusive. What the header fields
hold and any transformation of the data bytes (DL/T 645's +0x33) stay in each protocol's
codec. Numbers and addresses are BCD, least significant byte first on the wire; addresses are
written as text most significant digit first.

Decoders raise only our wire errors (``FrameError``, ``ChecksumError``) for bad bytes;
encoders raise ``ValueError`` for values a caller should not have passed.
"""

from __future__ import annotations

from app.hardware.errors import ChecksumError, FrameError

WAKE_UP = 0xFE
START = 0x68
END = 0x16
MAX_DATA = 255  # L is one byte
DECIMAL_DIGITS = "0123456789"
WILDCARD_DIGIT = "A"  # in a request address: any digit
PATTERN_DIGITS = DECIMAL_DIGITS + WILDCARD_DIGIT  # the digits a request address may hold


# --- frames -------------------------------------------------------------------------------


def checksum(body: bytes) -> int:
    """Sum mod 256 of the bytes from ``68`` to the last data byte."""
    return sum(body) & 0xFF


def wake_up_count(buffer: bytes) -> int:
    """How many ``FE`` wake-up bytes lead ``buffer``."""
    start = 0
    while start < len(buffer) and buffer[start] == WAKE_UP:
        start += 1
    return start


def encode_frame(fields: bytes, control: int, data: bytes, *, wake_up: int) -> bytes:
    """``wake_up`` FE bytes · 68 · ``fields`` (the header between 68 and the control byte) ·
    control · length · ``data`` as given · checksum · 16. ValueError for a control byte out
    of range or more data than one length byte counts."""
    if not 0 <= control <= 0xFF:
        raise ValueError(f"control byte {control} out of range")
    if len(data) > MAX_DATA:
        raise ValueError(f"{len(data)} data bytes do not fit one frame (at most {MAX_DATA})")
    body = bytes([START]) + fields + bytes([control, len(data)]) + data
    return bytes([WAKE_UP]) * wake_up + body + bytes([checksum(body), END])


def frame_length(buffer: bytes, header_len: int) -> int | None:
    """Length of the frame at the start of ``buffer`` (wake-up bytes included); None while
    more bytes are needed. FrameError when the buffer cannot start a frame."""
    start = wake_up_count(buffer)
    if start == len(buffer):
        return None
    if buffer[start] != START:
        raise FrameError(
            f"expected frame start 68 after the wake-up bytes, got {buffer[start]:02X}"
        )
    if len(buffer) < start + header_len:
        return None
    return start + header_len + 2 + buffer[start + header_len - 1]


def frame_body(raw: bytes, header_len: int) -> bytes:
    """The frame in ``raw`` from its ``68`` on (leading wake-up bytes dropped), checked only
    to be long enough for a header, checksum and end byte and to start with 68: the caller
    checks its own header fields, then calls ``frame_data``."""
    body = raw[wake_up_count(raw) :]
    if len(body) < header_len + 2:
        raise FrameError(
            f"frame too short: {len(body)} bytes after the wake-up bytes, need {header_len + 2}"
        )
    if body[0] != START:
        raise FrameError(f"frame starts with {body[0]:02X}, not 68")
    return body


def frame_data(body: bytes, header_len: int) -> bytes:
    """The data bytes (as sent) of a ``body`` from ``frame_body``, once its length byte, end
    byte and checksum are right. FrameError or ChecksumError if one is not."""
    length = body[header_len - 1]
    if len(body) != header_len + 2 + length:
        raise FrameError(
            f"length byte says {length} data bytes, the frame holds {len(body) - header_len - 2}"
        )
    if body[-1] != END:
        raise FrameError(f"frame ends with {body[-1]:02X}, not 16")
    expected = checksum(body[:-2])
    if body[-2] != expected:
        raise ChecksumError(f"checksum {body[-2]:02X}, computed {expected:02X}")
    return bytes(body[header_len:-2])


# --- BCD ----------------------------------------------------------------------------------


def bcd_byte(byte: int) -> int:
    """The two decimal digits of one BCD byte (``0x42`` -> 42). FrameError if not BCD."""
    high, low = byte >> 4, byte & 0x0F
    if high > 9 or low > 9:
        raise FrameError(f"byte {byte:02X} is not BCD")
    return high * 10 + low


def bcd_decode(raw: bytes) -> int:
    """Unsigned BCD, least significant byte first, to an integer."""
    value = 0
    for byte in reversed(raw):
        value = value * 100 + bcd_byte(byte)
    return value


def bcd_encode(value: int, length: int) -> bytes:
    """An unsigned integer to ``length`` BCD bytes, least significant byte first."""
    if not 0 <= value < 100**length:
        raise ValueError(f"{value} does not fit {length} BCD bytes")
    out = bytearray()
    for _ in range(length):
        value, pair = divmod(value, 100)
        out.append((pair // 10) << 4 | pair % 10)
    return bytes(out)


def digits_to_wire(digits: str) -> bytes:
    """An address written most significant digit first (an even number of hex digits: 0-9,
    and whatever wildcard digits the protocol allows) to its wire bytes, least significant
    byte first. The caller checks which digits are allowed."""
    return bytes.fromhex(digits)[::-1]


def address_matches(pattern: str, address: str) -> bool:
    """Does a request address (``A`` digits are wildcards) select this address?"""
    return len(pattern) == len(address) and all(
        p in (WILDCARD_DIGIT, a) for p, a in zip(pattern, address, strict=True)
    )


def digits_from_wire(raw: bytes) -> str:
    """Wire bytes (least significant first) to the digits, most significant first, upper case;
    non-BCD nibbles come out as ``A``-``F`` for the caller to accept or reject."""
    return raw[::-1].hex().upper()
