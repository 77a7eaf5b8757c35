"""One open RS485 line: send a request frame, receive one reply frame, keep the silent gap.

A ``Link`` wraps any pyserial port object (a local port, ``socket://``, ``rfc2217://`` or our
``sim://``). It is owned by one thread (the bus worker); it is not thread-safe. Every frame sent
or received is reported to ``on_frame`` (the diagnostics ring buffer).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from app.hardware.errors import FrameError, NoReply, PortLost

MAX_FRAME = 512  # no reply of any supported protocol is longer; longer means garbage
DROPPED = "dropped: the line was not yet silent"  # note of bytes drained before a request


class SerialPort(Protocol):
    """The part of pyserial's ``SerialBase`` a Link uses."""

    timeout: float | None

    @property
    def in_waiting(self) -> int: ...

    def write(self, data: bytes, /) -> int | None: ...
    def read(self, size: int = 1, /) -> bytes: ...
    def flush(self) -> None: ...
    def reset_input_buffer(self) -> None: ...
    def close(self) -> None: ...


@dataclass(frozen=True, slots=True)
class LineSettings:
    baudrate: int = 9600
    bytesize: int = 8
    parity: str = "N"  # N | E | O
    stopbits: int = 1
    timeout_s: float = 0.3

    @property
    def bits_per_char(self) -> int:
        return 1 + self.bytesize + (0 if self.parity == "N" else 1) + self.stopbits

    @property
    def char_time_s(self) -> float:
        return self.bits_per_char / self.baudrate

    @property
    def silent_gap_s(self) -> float:
        """Modbus RTU inter-frame gap: 3.5 characters, fixed 1.75 ms above 19200 baud."""
        return 3.5 * self.char_time_s if self.baudrate <= 19200 else 0.00175

    def wire_time_s(self, nbytes: int) -> float:
        return nbytes * self.char_time_s


@dataclass(frozen=True, slots=True)
class FrameRecord:
    """One frame on the wire, for the technician's frame log."""

    wall_time: float  # time.time()
    direction: str  # "tx" | "rx"
    data: bytes
    address: str = ""
    note: str = ""  # decoded meaning, e.g. "read DI 02010100 (voltage A)"


# How long the frame at the start of a buffer is: None while more bytes are needed.
# Raises FrameError when the buffer cannot start a valid frame.
FrameLength = Callable[[bytes], int | None]


class Link:
    def __init__(
        self,
        port: SerialPort,
        settings: LineSettings,
        on_frame: Callable[[FrameRecord], None] | None = None,
    ) -> None:
        self.port = port
        self.settings = settings
        self.on_frame = on_frame
        self._quiet_from = 0.0  # monotonic time from which the line has been silent
        self.port.timeout = settings.timeout_s
        self.bytes_out = 0
        self.bytes_in = 0
        self.mbap = False  # Modbus TCP gateway: MBAP framing instead of RTU (set by open_link)
        # Called before each request while the line is idle between transactions: the bus
        # worker runs urgent commands here, so a relay command never waits for a long poll.
        self.between_requests: Callable[[], None] | None = None
        self._in_hook = False

    def send(self, frame: bytes, *, address: str = "", note: str = "") -> None:
        """Wait until the line has been silent for the gap, drop stale input, write the
        frame."""
        if self.between_requests is not None and not self._in_hook:
            self._in_hook = True
            try:
                self.between_requests()
            finally:
                self._in_hook = False
        self._wait_for_silence()
        try:
            self.port.reset_input_buffer()
            self.port.write(frame)
            self.port.flush()
        except OSError as exc:  # pyserial's SerialException is an OSError
            raise self._lost(exc) from None
        self.bytes_out += len(frame)
        self._quiet_from = time.monotonic()
        self._record("tx", frame, address, note)

    def receive(
        self,
        frame_length: FrameLength,
        *,
        address: str = "",
        note: str = "",
        timeout_s: float | None = None,
        shortest: int = 1,
    ) -> bytes:
        """Read exactly one frame. NoReply if nothing came within the timeout; FrameError if the
        reply stalled for longer than the timeout before it was complete, or did not end
        within ``frame_bound_s`` (a line that keeps talking: a flood of wake-up bytes, noise,
        a babbling meter), or grew past ``MAX_FRAME`` bytes without forming a frame. Once
        bytes flow, a long reply gets the wire time it needs, but never more than the
        longest valid frame would take: every receive ends within ``frame_bound_s``.
        PortLost if the port fails meanwhile.

        ``shortest`` is the length of the shortest valid reply: that many bytes are asked for at
        once, then what has arrived, then the rest once the length is known, so a frame costs
        a few reads rather than one per byte."""
        timeout = self.settings.timeout_s if timeout_s is None else timeout_s
        started = time.monotonic()
        deadline = started + timeout
        bound = started + self.frame_bound_s(timeout)
        buffer = b""
        heard: float | None = None  # when the last bytes came in
        try:
            while True:
                needed = frame_length(buffer)
                if needed is not None:
                    if needed > MAX_FRAME:
                        raise FrameError(f"frame length {needed} is beyond any valid reply")
                    if len(buffer) >= needed:
                        return buffer[:needed]
                elif len(buffer) > MAX_FRAME:
                    raise FrameError(
                        f"{len(buffer)} bytes came without forming a frame (wake-up bytes or "
                        "noise on the line)"
                    )
                now = time.monotonic()
                remaining = min(deadline, bound) - now
                if remaining <= 0:
                    if not buffer:
                        raise NoReply(f"no reply within {timeout * 1000:.0f} ms")
                    if now >= bound:
                        raise FrameError(
                            f"the reply did not end within {(bound - started) * 1000:.0f} ms "
                            f"({len(buffer)} bytes came)"
                        )
                    raise FrameError(
                        f"reply stopped after {len(buffer)} bytes"
                        + (f" of {needed}" if needed else "")
                    )
                if needed is not None:
                    want = needed - len(buffer)
                elif len(buffer) < shortest:
                    want = shortest - len(buffer)
                else:
                    want = max(1, self._in_waiting())
                chunk = self._read(want, remaining)
                if chunk:
                    buffer += chunk
                    heard = time.monotonic()
                    deadline = max(deadline, heard + timeout)
        finally:
            # The silent gap runs from the last byte on the wire: the reply's, or, when none
            # came, the request's (a timeout has long covered the gap then).
            if heard is not None:
                self._quiet_from = heard
            if buffer:
                self.bytes_in += len(buffer)
                self._record("rx", buffer, address, note)

    def frame_bound_s(self, timeout_s: float | None = None) -> float:
        """The longest one receive can take: the reply timeout (the meter's silence before it
        answers) plus the wire time of the longest valid frame."""
        timeout = self.settings.timeout_s if timeout_s is None else timeout_s
        return timeout + self.settings.wire_time_s(MAX_FRAME)

    def transact(
        self,
        frame: bytes,
        frame_length: FrameLength,
        *,
        address: str = "",
        note: str = "",
        shortest: int = 1,
    ) -> bytes:
        self.send(frame, address=address, note=note)
        return self.receive(frame_length, address=address, shortest=shortest)

    def close(self) -> None:
        """Close the port; a port that already failed closes quietly."""
        with contextlib.suppress(OSError):
            self.port.close()

    def _wait_for_silence(self) -> None:
        """Sleep out the silent gap since the line was last heard. Bytes still arriving then
        (the tail of a garbled reply, of colliding replies, of a reply cut short) are read and
        logged as dropped until the line has been silent for a whole gap, for at most one
        timeout: the next reply must not start with the last one's leftovers."""
        gap = self.settings.silent_gap_s
        give_up = time.monotonic() + self.settings.timeout_s
        dropped = b""
        while True:
            wait = self._quiet_from + gap - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            waiting = self._in_waiting()
            if not waiting:
                break
            dropped += self._read(waiting, self.settings.timeout_s)
            self._quiet_from = time.monotonic()
            if self._quiet_from > give_up:
                break  # a line that never falls silent: the reply check will tell
        if dropped:
            self.bytes_in += len(dropped)
            self._record("rx", dropped, "", DROPPED)

    def _in_waiting(self) -> int:
        try:
            return self.port.in_waiting
        except OSError as exc:
            raise self._lost(exc) from None

    def _read(self, size: int, timeout_s: float) -> bytes:
        """Up to ``size`` bytes within ``timeout_s``. A port that reports data but gives none
        (a pseudo-terminal or socket whose other end went away) raises PortLost."""
        try:
            self.port.timeout = timeout_s
            return self.port.read(size)
        except OSError as exc:
            raise self._lost(exc) from None

    def _lost(self, exc: OSError) -> PortLost:
        return PortLost(f"the port stopped working: {exc}")

    def _record(self, direction: str, data: bytes, address: str, note: str) -> None:
        if self.on_frame is not None:
            self.on_frame(FrameRecord(time.time(), direction, bytes(data), address, note))
