"""Wire faults and protocol errors. Every decoder raises only these for bad bytes.

Field faults (``FieldFault``) are counted per meter and survived: the bus worker retries with a
bound and marks a meter offline after a threshold. They never stop a bus.
"""

from __future__ import annotations


class FieldFault(Exception):
    """Base of everything a meter or the line can do wrong."""

    counter = "errors"  # which per-meter counter this fault increments


class NoReply(FieldFault):
    """Nothing came back before the timeout."""

    counter = "timeouts"


class FrameError(FieldFault):
    """Bytes came back but do not form a valid frame (short, garbled, wrong length)."""

    counter = "frame_errors"


class ChecksumError(FrameError):
    """CRC (Modbus) or checksum (DL/T 645, CJ/T 188) mismatch."""

    counter = "crc_errors"


class AddressMismatch(FrameError):
    """A valid frame from another address than the one asked."""


class ExceptionReply(FieldFault):
    """The meter understood and refused: Modbus exception or DL/T 645 / CJ/T 188 error reply."""

    counter = "exceptions"

    def __init__(self, message: str, code: int | None = None) -> None:
        super().__init__(message)
        self.code = code


class CommandRefused(ExceptionReply):
    """A relay, valve or parameter command was refused (wrong password, encryption required...)."""


class ProfileError(ValueError):
    """A meter profile file that cannot be used; the message names the file, the key, the reason."""


class PortUnavailable(Exception):
    """The port or gateway cannot be opened; the message says which and why. Not a field
    fault: no meter was asked."""


class PortLost(PortUnavailable):
    """The port failed while open: a USB adapter pulled out, a gateway that closed the
    connection, a pseudo-terminal whose other end went away. Not a field fault either: the
    meter is not to blame, and asking it again on the same port is pointless; the bus worker
    closes the port and opens it again."""
