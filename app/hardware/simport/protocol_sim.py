"""pyserial port class for ``sim://NAME``: an in-process simulated line paced at the baud rate.

Writes are handed to the ``SimLine``; ``flush()`` returns when the request has left the wire;
reply bytes become readable one character time apart, after the meter's reply delay.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from typing import TYPE_CHECKING, Any

from serial.serialutil import PortNotOpenError, SerialBase, SerialException

from app.hardware.simulator.sim_line import SimLine, line_for_url

if TYPE_CHECKING:
    from typing_extensions import Buffer


class Serial(SerialBase):
    BAUDRATES = (300, 600, 1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._line: SimLine | None = None
        self._chunks: deque[tuple[bytes, float]] = deque()  # reply bytes, arrival of the first
        self._taken = 0  # bytes of the first chunk already read
        self._wire_free_at = 0.0  # when the line falls silent after what is queued
        self._request_end = 0.0  # when the last written byte has left the wire
        self._lock = threading.Lock()
        super().__init__(*args, **kwargs)

    # --- pyserial plumbing -------------------------------------------------------------------

    def open(self) -> None:
        if self.is_open:
            raise SerialException("Port is already open.")
        if self.port is None:
            raise SerialException("Port must be configured before it can be used.")
        try:
            self._line = line_for_url(str(self.port))
        except (LookupError, ValueError) as exc:
            raise SerialException(f"could not open port {self.port}: {exc}") from None
        self.is_open = True

    def close(self) -> None:
        self.is_open = False
        self._line = None
        self._chunks.clear()

    def _reconfigure_port(self) -> None:
        """Nothing to configure: the pacing reads the current baud rate and framing."""

    @property
    def _char_time(self) -> float:
        bits = 1 + int(self.bytesize) + (0 if self.parity == "N" else 1) + float(self.stopbits)
        return float(bits) / float(self.baudrate)

    # --- data ----------------------------------------------------------------------------------

    def _available(self, now: float) -> int:
        count = 0
        for i, (data, first) in enumerate(self._chunks):
            if now < first:
                break
            arrived = min(len(data), int((now - first) / self._char_time) + 1)
            count += arrived - (self._taken if i == 0 else 0)
            if arrived < len(data):
                break
        return count

    def _next_arrival(self, wanted: int) -> float | None:
        """When ``wanted`` unread bytes will have arrived, or None if they never will."""
        remaining = wanted
        for i, (data, first) in enumerate(self._chunks):
            start = self._taken if i == 0 else 0
            unread = len(data) - start
            if remaining <= unread:
                return first + (start + remaining - 1) * self._char_time
            remaining -= unread
        return None

    def _take(self, count: int) -> bytes:
        out = bytearray()
        while count and self._chunks:
            data, _ = self._chunks[0]
            piece = data[self._taken : self._taken + count]
            out += piece
            count -= len(piece)
            self._taken += len(piece)
            if self._taken >= len(data):
                self._chunks.popleft()
                self._taken = 0
        return bytes(out)

    @property
    def in_waiting(self) -> int:
        if not self.is_open:
            raise PortNotOpenError()
        with self._lock:
            return self._available(time.monotonic())

    def read(self, size: int = 1) -> bytes:
        if not self.is_open:
            raise PortNotOpenError()
        deadline = None if self.timeout is None else time.monotonic() + self.timeout
        while True:
            with self._lock:
                now = time.monotonic()
                available = self._available(now)
                if available >= size:
                    return self._take(size)
                ready_at = self._next_arrival(size)
            if deadline is not None and (ready_at is None or ready_at > deadline):
                wait = deadline - now
                if wait > 0:
                    time.sleep(wait)
                with self._lock:
                    return self._take(min(size, self._available(time.monotonic())))
            assert ready_at is not None or deadline is None
            time.sleep(max(0.0, (ready_at if ready_at is not None else now + 0.01) - now))

    def write(self, data: Buffer, /) -> int:
        if not self.is_open or self._line is None:
            raise PortNotOpenError()
        payload = bytes(data)
        now = time.monotonic()
        char = self._char_time
        with self._lock:
            if now - self._wire_free_at > 0.1:
                self._line.discard_partial()  # a long silence ends a half-sent request
            start = max(now, self._wire_free_at)
            request_end = start + len(payload) * char
            self._wire_free_at = self._request_end = request_end
        answers = self._line.feed(payload)
        with self._lock:
            for answer in answers:
                first = max(request_end + answer.delay_s, self._wire_free_at) + char
                self._chunks.append((answer.reply, first))
                self._wire_free_at = first + (len(answer.reply) - 1) * char
        return len(payload)

    def flush(self) -> None:
        """Return when the written bytes have left the wire (like tcdrain)."""
        wait = self._request_end - time.monotonic()
        if wait > 0:
            time.sleep(wait)

    def reset_input_buffer(self) -> None:
        """Drop what has already arrived; bytes still on their way arrive later."""
        with self._lock:
            self._take(self._available(time.monotonic()))

    def reset_output_buffer(self) -> None:
        """Written bytes are handed over at once; nothing waits in an output buffer."""

    @property
    def cts(self) -> bool:
        return True

    @property
    def dsr(self) -> bool:
        return True

    @property
    def ri(self) -> bool:
        return False

    @property
    def cd(self) -> bool:
        return True

    def _update_rts_state(self) -> None:
        pass

    def _update_dtr_state(self) -> None:
        pass

    def _update_break_state(self) -> None:
        pass
