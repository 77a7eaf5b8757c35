"""What a master hears when several meters answer one request at once.

RS485 is one pair of wires. A request whose address has wildcard digits can select several
meters, and each of them answers as if it were alone. The model:

- the line is wired-AND: idle and a driven 1 are recessive (the fail-safe bias holds the idle
  line at 1), a driven 0 wins, so each character the master's UART assembles is the bitwise
  AND of the characters on the wire at that moment (real transceivers fighting over a bit give
  an undefined level; AND is the deterministic stand-in);
- the meters do not start in the same instant: each firmware turns the line around in its own
  time, so in the model the replies start one character apart, in the order given (the
  earliest reply delay first, then by address).

Skewed by a character, the second meter's frame header lands on the first one's: DL/T 645's
control byte meets the second ``68`` and loses its reply bit, CJ/T 188's DI meets the length
byte; on top of that the checksum and the end byte rarely survive. So a collision never passes
the frame checks, as on a real line, and the stream is longer than any one reply (the master
drains the tail before its next request). Without the skew, a plain AND of two replies can add
up to a valid frame when one reply's 1-bits lie inside the other's (consecutive serial numbers
such as ...00 and ...01), which would hide a meter from the search.
"""

from __future__ import annotations

from collections.abc import Sequence

IDLE = 0xFF  # a silent RS485 line reads as 1 bits


def collide(replies: Sequence[bytes]) -> bytes:
    """The byte stream the master receives when ``replies`` are sent at once, the n-th one
    starting n characters after the first. One reply comes through unchanged."""
    if not replies:
        return b""
    length = max(start + len(reply) for start, reply in enumerate(replies))
    line = bytearray([IDLE]) * length
    for start, reply in enumerate(replies):
        for offset, byte in enumerate(reply):
            line[start + offset] &= byte
    return bytes(line)
