"""Serve simulated meters on a real serial port (a pty, a USB adapter, a TCP gateway).

The server reads the request stream, cuts it into frames with the protocol's
``request_length`` (dropping one byte and resynchronising on garbage), and writes each answer
after the meter's reply delay. Requests a master has already given up on (several read at once
by a starved process) are acted on but not answered.
"""

from __future__ import annotations

import logging
import threading
import time

from app.hardware.errors import FrameError
from app.hardware.link import LineSettings, SerialPort
from app.hardware.simulator.faults import Answer, Answerer

log = logging.getLogger(__name__)


class SimServer:
    def __init__(self, port: SerialPort, settings: LineSettings, answerer: Answerer) -> None:
        self.port = port
        self.settings = settings
        self.answerer = answerer
        self.requests = 0
        self.replies = 0
        self.superseded = 0  # replies not sent: a newer request had come in meanwhile

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
            requests: list[bytes] = []
            while buffer:
                try:
                    length = self.answerer.spec.request_length(buffer)
                except FrameError:
                    buffer = buffer[1:]
                    continue
                if length is None or len(buffer) < length:
                    break
                requests.append(buffer[:length])
                buffer = buffer[length:]
            # A master sends a request only once it has its reply or has given up waiting, so
            # of several requests read at once (this process was starved of the CPU) all but
            # the last were given up on. Every meter hears and acts on each, as on a real line,
            # but only the last is answered: a late reply would reach a master that is by now
            # listening for another meter.
            for n, request in enumerate(requests, start=1):
                self.requests += 1
                answer = self._answer(request)
                if answer is not None and n < len(requests):
                    self.superseded += 1
                elif answer is not None:
                    self._send(answer)

    def _answer(self, request: bytes) -> Answer | None:
        try:
            return self.answerer.answer(request)
        except FrameError as exc:
            log.info("simulator ignored a bad request %s: %s", request.hex(" "), exc)
            return None

    def _send(self, answer: Answer) -> None:
        if answer.delay_s > 0:
            time.sleep(answer.delay_s)
        self.replies += 1  # counted before it leaves: whoever reads the reply sees the count
        self.port.write(answer.reply)
        self.port.flush()
