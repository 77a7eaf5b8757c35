"""A simulated GSM modem that answers the AT dialogue on a real serial port, for tests and demos.

It opens a port URL (a pty path such as one end of ``socat pty pty``, a local port, or a
``socket://`` peer) and answers on its own thread, as a SIM800-style modem in PDU mode does:
echo (on until ``ATE0``), ``OK`` for AT/ATE0/AT+CMGF=0, the maker, model, signal and SIM state
(AT+CGMI/AT+CGMM/AT+CSQ/AT+CPIN?), and for ``AT+CMGS=<n>`` the ``> `` prompt, then the PDU up to
Ctrl-Z (ESC cancels), whose TPDU length it checks against ``n`` and which it decodes with
``pdu.decode_submit``. A good PDU is answered ``+CMGS: <ref>`` and ``OK``; a concatenated
message is recorded in ``sent`` once all its parts came, as one ``SentMessage``.

Faults, read by the modem's thread on each exchange (a test may change them between sends):
``fail_with`` answers every PDU with that line (e.g. ``"+CMS ERROR: 38"``) instead of sending,
once ``fail_after`` PDUs were taken (0: from the first; 1: a long message fails at part 2);
``silent`` never answers anything; ``no_sim`` answers AT+CPIN? with ``+CME ERROR: 10`` and
AT+CMGS with ``+CMS ERROR: 310``; ``reply_delay_s`` holds back every answer, ``network_delay_s``
the answer to a PDU (a real network takes seconds).

Threads: ``start`` opens the port and starts the modem's thread, which owns the port until
``stop``; ``sent`` and ``commands`` may be read from any thread.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from types import TracebackType

import serial

from app.hardware.errors import PortUnavailable
from app.hardware.link import SerialPort
from app.hardware.sms.pdu import decode_submit

log = logging.getLogger(__name__)

CTRL_Z = 0x1A
ESC = 0x1B
INVALID_PDU = "+CMS ERROR: 304"  # invalid PDU mode parameter
SIM_NOT_INSERTED_CMS = "+CMS ERROR: 310"
SIM_NOT_INSERTED_CME = "+CME ERROR: 10"
NOT_ALLOWED = "+CMS ERROR: 302"  # operation not allowed (AT+CMGS in text mode)
MAX_TPDU = 164  # the longest SMS-SUBMIT TPDU


@dataclass(frozen=True, slots=True)
class SentMessage:
    """A message the simulated modem took: destination, whole text (parts joined), how many
    SMS parts it came in, the reference answered for each part, and each part's PDU hex."""

    to: str
    text: str
    parts: int
    references: tuple[int, ...]
    pdus: tuple[str, ...]


class SimModem:
    def __init__(
        self,
        url: str,
        *,
        baudrate: int = 115200,
        manufacturer: str = "SIMCOM_Ltd",
        model: str = "SIM800C",
        rssi: int = 20,
        fail_with: str | None = None,
        fail_after: int = 0,
        silent: bool = False,
        no_sim: bool = False,
        reply_delay_s: float = 0.0,
        network_delay_s: float = 0.0,
    ) -> None:
        self.url = url
        self.baudrate = baudrate
        self.manufacturer = manufacturer
        self.model = model
        self.rssi = rssi
        self.fail_with = fail_with
        self.fail_after = fail_after
        self.taken = 0  # PDUs taken (answered +CMGS)
        self.silent = silent
        self.no_sim = no_sim
        self.reply_delay_s = reply_delay_s
        self.network_delay_s = network_delay_s
        self.echo = True  # as a modem after power-on
        self.pdu_mode = True
        self._port: SerialPort | None = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._lock = threading.Condition()
        self._sent: list[SentMessage] = []
        self._commands: list[str] = []
        self._parts: dict[tuple[str, int, int], dict[int, tuple[str, int, str]]] = {}
        self._next_reference = 1
        self._line = b""
        self._pdu: bytearray | None = None  # collecting a PDU after the prompt
        self._pdu_length = 0

    # --- life ---------------------------------------------------------------------------------

    def start(self) -> None:
        """Open the port and answer on a thread of its own. PortUnavailable if the port cannot
        be opened."""
        if self._thread is not None:
            raise RuntimeError("the simulated modem is already running")
        try:
            self._port = serial.serial_for_url(self.url, baudrate=self.baudrate, timeout=0.05)
        except (serial.SerialException, ValueError, OSError) as exc:
            raise PortUnavailable(f"the simulated modem cannot open {self.url}: {exc}") from None
        self._stop.clear()
        self._thread = threading.Thread(target=self._serve, name="sim-modem", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop answering, wait for the thread to end, close the port. RuntimeError if the
        thread did not end within 5 s (it checks for the stop every 50 ms)."""
        self._stop.set()
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.join(timeout=5)
        if self._port is not None:
            self._port.close()
            self._port = None
        if thread is not None and thread.is_alive():
            raise RuntimeError("the simulated modem's thread did not stop")

    def __enter__(self) -> SimModem:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # --- what tests read ----------------------------------------------------------------------

    @property
    def sent(self) -> list[SentMessage]:
        """The messages taken so far (all their parts came), oldest first: a copy."""
        with self._lock:
            return list(self._sent)

    @property
    def commands(self) -> list[str]:
        """Every command line received (without its CR), oldest first: a copy."""
        with self._lock:
            return list(self._commands)

    def wait_sent(self, count: int, timeout_s: float) -> bool:
        """Wait until ``count`` messages were taken; False if the timeout passed first."""
        with self._lock:
            return self._lock.wait_for(lambda: len(self._sent) >= count, timeout=timeout_s)

    # --- the modem's thread -------------------------------------------------------------------

    def _serve(self) -> None:
        port = self._port
        assert port is not None
        while not self._stop.is_set():
            try:
                chunk = port.read(1)
                if chunk:
                    chunk += port.read(port.in_waiting)
            except OSError as exc:  # the other end went away
                log.info("simulated modem on %s stops: %s", self.url, exc)
                return
            if chunk and not self.silent:
                self._take(chunk)

    def _take(self, chunk: bytes) -> None:
        if self.echo:
            self._write(chunk)
        for byte in chunk:
            if self._pdu is not None:
                self._take_pdu_byte(byte)
            elif byte == 0x0D:
                line, self._line = self._line, b""
                self._command(line.decode("ascii", errors="replace").strip())
            elif byte not in (0x0A, ESC, CTRL_Z):
                self._line += bytes([byte])

    def _take_pdu_byte(self, byte: int) -> None:
        assert self._pdu is not None
        if byte == ESC:
            self._pdu = None  # cancelled: nothing is sent, nothing answered
        elif byte == CTRL_Z:
            hex_text, self._pdu = self._pdu.decode("ascii", errors="replace").strip(), None
            self._submit(hex_text)
        elif byte not in (0x0D, 0x0A):
            self._pdu.append(byte)

    def _command(self, line: str) -> None:
        if not line:
            return
        with self._lock:
            self._commands.append(line)
        command = line.upper()
        if not command.startswith("AT"):
            return  # a modem waits for "AT" and ignores what is not a command
        answers = {
            "AT": [],
            "AT+CGMI": [self.manufacturer],
            "AT+CGMM": [self.model],
            "AT+CSQ": [f"+CSQ: {self.rssi},0"],
            "AT+CMGF?": [f"+CMGF: {0 if self.pdu_mode else 1}"],
        }
        if command in answers:
            self._reply(*answers[command], "OK")
        elif command in ("ATE0", "ATE1", "ATE"):
            self.echo = command == "ATE1"
            self._reply("OK")
        elif command in ("AT+CMGF=0", "AT+CMGF=1"):
            self.pdu_mode = command.endswith("0")
            self._reply("OK")
        elif command == "AT+CPIN?":
            if self.no_sim:
                self._reply(SIM_NOT_INSERTED_CME)
            else:
                self._reply("+CPIN: READY", "OK")
        elif command.startswith("AT+CMGS="):
            self._cmgs(command.removeprefix("AT+CMGS="))
        else:
            self._reply("ERROR")

    def _cmgs(self, argument: str) -> None:
        if self.no_sim:
            self._reply(SIM_NOT_INSERTED_CMS)
        elif not self.pdu_mode:
            self._reply(NOT_ALLOWED)
        elif not argument.isdigit() or not 7 <= int(argument) <= MAX_TPDU:
            self._reply(INVALID_PDU)
        else:
            self._pdu_length = int(argument)
            self._pdu = bytearray()
            self._send_after(self.reply_delay_s, b"\r\n> ")

    def _submit(self, hex_text: str) -> None:
        try:
            data = bytes.fromhex(hex_text)
            if not data or len(data) - 1 - data[0] != self._pdu_length:
                raise ValueError(
                    f"TPDU length {len(data) - 1 - data[0] if data else 0}, "
                    f"AT+CMGS said {self._pdu_length}"
                )
            submit = decode_submit(hex_text)
        except ValueError as exc:
            log.info("simulated modem refused a PDU: %s", exc)
            self._reply(INVALID_PDU)
            return
        if self._stop.wait(self.network_delay_s):
            return
        if self.fail_with and self.taken >= self.fail_after:
            self._reply(self.fail_with)
            return
        with self._lock:
            self.taken += 1
            reference = self._next_reference
            self._next_reference = self._next_reference % 255 + 1
            if submit.udh is None or submit.udh.parts <= 1:
                self._sent.append(SentMessage(submit.to, submit.text, 1, (reference,), (hex_text,)))
            else:
                key = (submit.to, submit.udh.reference, submit.udh.parts)
                parts = self._parts.setdefault(key, {})
                parts[submit.udh.part] = (submit.text, reference, hex_text)
                if len(parts) == submit.udh.parts:
                    del self._parts[key]
                    ordered = [parts[number] for number in sorted(parts)]
                    self._sent.append(
                        SentMessage(
                            submit.to,
                            "".join(text for text, _, _ in ordered),
                            len(ordered),
                            tuple(ref for _, ref, _ in ordered),
                            tuple(pdu for _, _, pdu in ordered),
                        )
                    )
            self._lock.notify_all()
        self._reply(f"+CMGS: {reference}", "OK")

    def _reply(self, *lines: str) -> None:
        self._send_after(self.reply_delay_s, b"".join(f"\r\n{line}\r\n".encode() for line in lines))

    def _send_after(self, delay_s: float, data: bytes) -> None:
        if self._stop.wait(delay_s) or self.silent:
            return
        self._write(data)

    def _write(self, data: bytes) -> None:
        port = self._port
        if port is None:
            return
        try:
            port.write(data)
            port.flush()
        except OSError as exc:
            log.info("simulated modem on %s cannot answer: %s", self.url, exc)
