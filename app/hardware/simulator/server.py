"""Serve simulated meters on a real serial port (a pty, a USB adapter, a TCP gateway).

The server reads the request stream, cuts it into frames with the protocol's
``request_length`` (dropping one byte and resynchronising on garbage), and writes each answer
after the meter's reply delay.
"""

from __future__ import annotations

import logging
import threading
import time

from app.hardware.errors import FrameError
from app.hardware.link import LineSettings, SerialPort
from app.hardware.simulator.faults import Answerer

log = logging.getLogger(__name__)


class SimServer:
    def __init__(self, port: SerialPort, settings: LineSettings, answerer: Answerer) -> None:
        self.port = port
        self.settings = settings
        self.answerer = answerer
        self.requests = 0
        self.replies = 0

    def serve(self, stop: threading.Event) -> None:
        """Answer until ``stop`` is set. Runs on the caller's thread."""
        self.port.timeout = 0.05
        buffer = b""
        last_byte = time.monotonic()
        while not stop.is_set():
            chunk = self.port.read(1)  # waits up to the timeout for a first byte
            if chunk:
                chunk += self.port.read(self.port.in_waiting)
            now = time.monotonic()
            if chunk:
                # A silence longer than the frame gap starts a new frame (RTU framing rule).
                if buffer and now - last_byte > max(0.05, 10 * self.settings.silent_gap_s):
                    buffer = b""
                buffer += chunk
                last_byte = now
            while buffer:
                try:
                    length = self.answerer.spec.request_length(buffer)
                except FrameError:
                    buffer = buffer[1:]
                    continue
                if length is None or len(buffer) < length:
                    break
                request, buffer = buffer[:length], buffer[length:]
                self.requests += 1
                self._answer(request)

    def _answer(self, request: bytes) -> None:
        try:
            answer = self.answerer.answer(request)
        except FrameError as exc:
            log.info("simulator ignored a bad request %s: %s", request.hex(" "), exc)
            return
        if answer is None:
            return
        if answer.delay_s > 0:
            time.sleep(answer.delay_s)
        self.replies += 1  # counted before it leaves: whoever reads the reply sees the count
        self.port.write(answer.reply)
        self.port.flush()
