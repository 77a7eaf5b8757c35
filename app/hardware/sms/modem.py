"""Send text messages through a GSM modem on a serial port: the AT dialogue in PDU mode.

An AT modem is a line dialogue, not a request/reply frame protocol: it may echo the command, it
answers with information lines and one final result (``OK``, ``ERROR``, ``+CMS ERROR: n``,
``+CME ERROR: n``), and after ``AT+CMGS=<length>`` it sends a ``> `` prompt without a line end
and waits for the PDU and Ctrl-Z. So ``SmsModem`` talks to the port through pyserial itself
rather than through ``Link``, which cuts replies into frames of known length.

A ``SmsModem`` is owned by one thread at a time (it is not thread-safe). Every wait is bounded:
``timeout_s`` for a command, ``part_timeout_s`` for the network's answer to one SMS part. Every
failure is ``SmsFailed`` whose text says what the modem answered (or that it said nothing) and
what to check.
"""

from __future__ import annotations

import logging
import re
import time
from dataclasses import dataclass
from types import TracebackType

import serial

from app.hardware.errors import PortUnavailable
from app.hardware.link import SerialPort
from app.hardware.sms import pdu

log = logging.getLogger(__name__)

CTRL_Z = b"\x1a"  # ends the PDU after the prompt: send it
ESC = b"\x1b"  # cancels a prompt the modem may still be waiting in
PROMPT = b"> "
FINAL_OK = "OK"
FINAL_ERROR = re.compile(r"(ERROR|\+CMS ERROR:.*|\+CME ERROR:.*|NO CARRIER)$")
# Unsolicited result codes a modem may put between our lines (none answers a command we send).
UNSOLICITED = ("RING", "Call Ready", "SMS Ready", "RDY", "+CMTI:", "+CDSI:", "+CREG:", "+CGREG:")
NO_ANSWER = "check its power, the cable, the port and the baud rate"
CHECK = "check the SIM card (inserted, PIN off, not blocked), the signal and the SIM's credit"

# 3GPP TS 27.005 3.2.5 (and common maker codes): what a +CMS ERROR number means.
CMS_ERRORS = {
    1: "unassigned number: the phone number does not exist",
    8: "operator determined barring",
    10: "call barred",
    21: "short message transfer rejected by the network",
    27: "destination out of service",
    28: "unidentified subscriber",
    29: "facility rejected",
    30: "unknown subscriber",
    38: "network out of order",
    41: "temporary network failure",
    42: "network congestion",
    47: "network resources unavailable",
    50: "requested facility not subscribed (SMS not enabled on this SIM, or no credit)",
    69: "requested facility not implemented",
    96: "invalid mandatory information",
    111: "protocol error",
    300: "modem failure",
    302: "operation not allowed",
    303: "operation not supported",
    304: "invalid PDU mode parameter",
    310: "SIM not inserted",
    311: "SIM PIN required",
    312: "PH-SIM PIN required",
    313: "SIM failure",
    314: "SIM busy",
    315: "SIM wrong",
    316: "SIM PUK required",
    320: "memory failure",
    322: "memory full",
    330: "SMSC address unknown: the SIM has no message centre number (set it with AT+CSCA)",
    331: "no network service",
    332: "network timeout",
    500: "unknown error",
    515: "please wait: the modem is still starting or busy",
}
# 3GPP TS 27.007 9.2: the +CME ERROR numbers a modem gives for the SIM and the network.
CME_ERRORS = {
    3: "operation not allowed",
    4: "operation not supported",
    10: "SIM not inserted",
    11: "SIM PIN required",
    12: "SIM PUK required",
    13: "SIM failure",
    14: "SIM busy",
    15: "SIM wrong",
    30: "no network service",
    31: "network timeout",
    100: "unknown error",
}


class SmsFailed(Exception):
    """A message could not be sent (or the modem could not be asked); the text says what the
    modem answered and what to check.

    ``handed``: a part of the message had reached the modem when it failed (else the modem,
    its SIM or its port failed before: the message itself is not at fault). ``maybe_sent``: it
    may have gone out all the same (no answer after the modem took it, or an earlier part went
    out), so sending it again could deliver it twice."""

    handed = False
    maybe_sent = False


class SmsPortUnavailable(SmsFailed, PortUnavailable):
    """The modem's port cannot be opened, or failed while open: no message was handed over."""


@dataclass(frozen=True, slots=True)
class SendResult:
    """A message the modem accepted: the network's reference of each part (from ``+CMGS:``)
    and every line the modem answered during the send, in order."""

    to: str
    parts: int
    references: tuple[int, ...]
    answers: tuple[str, ...]

    def describe(self) -> str:
        refs = ", ".join(str(ref) for ref in self.references)
        plural = "s" if self.parts > 1 else ""
        return f"sent to {self.to} in {self.parts} part{plural}, modem reference{plural} {refs}"


@dataclass(frozen=True, slots=True)
class ModemInfo:
    """What ``probe`` found: maker and model, signal (``rssi`` 0-31 as +CSQ gives it, 99 when the
    modem does not know; ``signal_dbm`` None then) and whether the SIM is ready."""

    manufacturer: str
    model: str
    rssi: int
    signal_dbm: int | None
    sim_ready: bool
    sim_status: str  # "READY", "SIM PIN", or the modem's error with its meaning

    @property
    def signal_words(self) -> str:
        if self.signal_dbm is None:
            return "no signal (or unknown)"
        if self.rssi < 10:
            return "marginal"
        if self.rssi < 15:
            return "ok"
        if self.rssi < 20:
            return "good"
        return "excellent"

    def describe(self) -> str:
        signal = (
            "no signal (or unknown)"
            if self.signal_dbm is None
            else f"signal {self.signal_dbm} dBm ({self.signal_words})"
        )
        sim = "SIM ready" if self.sim_ready else f"SIM not ready: {self.sim_status}"
        return f"{self.manufacturer} {self.model}, {signal}, {sim}"


def explain(answer: str) -> str:
    """The modem's final answer with its meaning: "+CMS ERROR: 38 (network out of order)"."""
    match = re.fullmatch(r"\+(CMS|CME) ERROR:\s*(\d+)", answer.strip())
    if match is None:
        return answer
    table = CMS_ERRORS if match.group(1) == "CMS" else CME_ERRORS
    meaning = table.get(int(match.group(2)))
    if meaning is None and match.group(1) == "CMS" and int(match.group(2)) >= 512:
        meaning = "a maker-specific error: see the modem's AT manual"
    return f"{answer} ({meaning})" if meaning else answer


class SmsModem:
    """A GSM modem at ``url`` (``/dev/ttyUSB0``, ``COM3``, ``socket://host:port``, a pty path),
    8N1 at ``baudrate``. The port is opened on first use (or by ``open``) and held until
    ``close``; use it as a context manager."""

    def __init__(
        self,
        url: str,
        *,
        baudrate: int = 115200,
        timeout_s: float = 5.0,
        part_timeout_s: float = 30.0,
    ) -> None:
        if timeout_s <= 0 or part_timeout_s <= 0:
            raise ValueError("the modem timeouts must be positive seconds")
        self.url = url
        self.baudrate = baudrate
        self.timeout_s = timeout_s
        self.part_timeout_s = part_timeout_s
        self._port: SerialPort | None = None
        self._buffer = b""
        self._heard: list[str] = []  # lines of the current exchange, for SendResult and errors
        self._reference = 0  # concatenation reference of the next long message

    # --- port ---------------------------------------------------------------------------------

    def open(self) -> None:
        """Open the port; SmsPortUnavailable (a PortUnavailable) when it cannot be."""
        if self._port is not None:
            return
        try:
            self._port = serial.serial_for_url(
                self.url,
                baudrate=self.baudrate,
                bytesize=serial.EIGHTBITS,
                parity=serial.PARITY_NONE,
                stopbits=serial.STOPBITS_ONE,
                timeout=0.05,
            )
        except (serial.SerialException, ValueError, OSError) as exc:
            raise SmsPortUnavailable(
                f"cannot open the SMS modem port {self.url}: {exc}. Check the port name, that "
                "the modem is plugged in and that no other program holds the port"
            ) from None
        self._buffer = b""

    def close(self) -> None:
        if self._port is not None:
            port, self._port = self._port, None
            try:
                port.close()
            except OSError as exc:
                log.info("closing the SMS modem port %s: %s", self.url, exc)

    def __enter__(self) -> SmsModem:
        self.open()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # --- what callers do ----------------------------------------------------------------------

    def send(self, to: str, text: str) -> SendResult:
        """Send ``text`` to ``to`` (one SMS or concatenated parts). ValueError for a bad number
        or text (before the modem is asked); SmsFailed for anything the modem or the network
        refused, or a timeout. When a later part fails, the earlier parts have gone out: the
        message names the part."""
        to = to.strip()
        pdus = pdu.encode_submit(to, text, self._reference)
        self._reference = (self._reference + 1) % 256
        self._heard = []
        self._start()
        self._command("AT+CMGF=0", what="switch to PDU mode")
        references = []
        for number, (pdu_hex, length) in enumerate(pdus, start=1):
            part = f" (part {number} of {len(pdus)})" if len(pdus) > 1 else ""
            if number > 1:
                part = part[:-1] + "; the parts before it went out)"
            try:
                references.append(self._send_part(to, part, pdu_hex, length))
            except SmsFailed as failed:
                if number > 1:  # the parts before it went out
                    failed.handed = failed.maybe_sent = True
                raise
        return SendResult(to, len(pdus), tuple(references), tuple(self._heard))

    def probe(self) -> ModemInfo:
        """Ask the modem who it is, how good its signal is and whether its SIM is ready.
        SmsFailed when it does not answer; a SIM that is not ready is reported, not raised."""
        self._heard = []
        self._start()
        manufacturer = _first(self._command("AT+CGMI", what="tell its maker"))
        model = _first(self._command("AT+CGMM", what="tell its model"))
        csq = _first(self._command("AT+CSQ", what="tell its signal"))
        match = re.fullmatch(r"\+CSQ:\s*(\d+)\s*,\s*(\d+)", csq)
        if match is None:
            raise SmsFailed(f"the modem on {self.url} answered AT+CSQ with {csq!r}, not +CSQ: n,m")
        rssi = int(match.group(1))
        dbm = -113 + 2 * rssi if 0 <= rssi <= 31 else None
        try:
            pin = _first(self._command("AT+CPIN?", what="tell its SIM state"))
            status = pin.removeprefix("+CPIN:").strip()
        except _Refused as refused:
            status = explain(refused.answer)
        return ModemInfo(manufacturer, model, rssi, dbm, status == "READY", status)

    # --- the dialogue -------------------------------------------------------------------------

    def _start(self) -> None:
        """Check the modem answers (AT, once more after ESC, which ends a prompt a previous
        program left open) and turn echo off."""
        self.open()
        self._drain()
        try:
            self._command("AT", what="answer AT", hint=NO_ANSWER)
        except SmsPortUnavailable:
            raise
        except SmsFailed as first:
            log.info("SMS modem on %s: %s; trying once more", self.url, first)
            self._write(ESC)
            self._drain()
            self._command("AT", what="answer AT", hint=NO_ANSWER)
        self._command("ATE0", what="turn echo off")

    def _send_part(self, to: str, part: str, pdu_hex: str, length: int) -> int:
        self._write(f"AT+CMGS={length}\r".encode("ascii"))
        try:
            self._wait_prompt(f"AT+CMGS={length}")
        except _Refused as refused:
            raise SmsFailed(
                f"the modem refused the message to {to}{part}: {explain(refused.answer)}; {CHECK}"
            ) from None
        try:
            self._write(pdu_hex.encode("ascii") + CTRL_Z)
            lines = self._final(self.part_timeout_s, echo=pdu_hex, what="send the message")
        except _Refused as refused:
            failed = SmsFailed(
                f"the network did not take the message to {to}{part}: "
                f"{explain(refused.answer)}; {CHECK}"
            )
            failed.handed = True
            raise failed from None
        except SmsFailed as unanswered:  # the modem took it and said nothing, or its port died
            unanswered.handed = unanswered.maybe_sent = True
            raise
        for line in lines:
            match = re.fullmatch(r"\+CMGS:\s*(\d+).*", line)
            if match:
                return int(match.group(1))
        failed = SmsFailed(
            f"the modem said OK to the message to {to}{part} without a +CMGS reference "
            f"(it answered {' / '.join(lines) or 'only OK'})"
        )
        failed.handed = failed.maybe_sent = True
        raise failed

    def _command(self, command: str, *, what: str, hint: str = CHECK) -> list[str]:
        """Send ``command``; its information lines when it ends OK. _Refused (an SmsFailed) for
        ERROR, SmsFailed when nothing final comes within ``timeout_s``."""
        self._write(command.encode("ascii") + b"\r")
        try:
            return self._final(self.timeout_s, echo=command, what=what, hint=hint)
        except _Refused as refused:
            raise _Refused(
                f"the modem on {self.url} answered {command} with {explain(refused.answer)}; "
                f"{hint}",
                refused.answer,
            ) from None

    def _final(self, timeout_s: float, *, echo: str, what: str, hint: str = CHECK) -> list[str]:
        """Lines up to the final result: the information lines on OK; _Refused on an error.
        The echo of ``echo`` (a modem with echo still on) is dropped."""
        deadline = time.monotonic() + timeout_s
        lines: list[str] = []
        while True:
            line = self._line(deadline)
            if line is None:
                said = f"it answered only {' / '.join(lines)}" if lines else "it said nothing"
                raise SmsFailed(
                    f"the modem on {self.url} did not {what} within {timeout_s:g} s ({said}); "
                    f"{hint}"
                )
            if line in ("", echo, ">") or line.startswith(UNSOLICITED):
                continue
            if line == FINAL_OK:
                return lines
            if FINAL_ERROR.match(line):
                raise _Refused(line, line)
            lines.append(line)

    def _wait_prompt(self, command: str) -> None:
        """Wait for the "> " prompt after AT+CMGS (it has no line end); _Refused if the modem
        answers with a final result instead."""
        deadline = time.monotonic() + self.timeout_s
        while True:
            self._buffer = self._buffer.lstrip(b"\r\n")
            if self._buffer.startswith(PROMPT[:1]):
                self._buffer = self._buffer[1:].lstrip(b" ")
                return
            if b"\r" in self._buffer or b"\n" in self._buffer:
                line = self._line(deadline)
                if line is not None and (line == FINAL_OK or FINAL_ERROR.match(line)):
                    raise _Refused(line, line)
                continue  # the echo of the command, or an unsolicited line
            if not self._fill(deadline):
                self._write(ESC)  # should the prompt come late, leave PDU entry
                raise SmsFailed(
                    f"the modem on {self.url} gave no '> ' prompt after {command} within "
                    f"{self.timeout_s:g} s; {CHECK}"
                )

    # --- bytes --------------------------------------------------------------------------------

    def _line(self, deadline: float) -> str | None:
        """The next line the modem sends, stripped ("" between a CR and its LF), None when the
        deadline passes first."""
        while True:
            ends = [cut for cut in (self._buffer.find(b"\r"), self._buffer.find(b"\n")) if cut >= 0]
            if ends:
                cut = min(ends)
                line = self._buffer[:cut].decode("ascii", errors="replace").strip()
                self._buffer = self._buffer[cut + 1 :]
                if line:
                    self._heard.append(line)
                    log.debug("SMS modem %s <- %s", self.url, line)
                return line
            if not self._fill(deadline):
                return None

    def _fill(self, deadline: float) -> bool:
        """Read what the modem sends until some bytes come; False at the deadline."""
        port = self._require_port()
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            try:
                port.timeout = min(0.05, remaining)
                chunk = port.read(max(1, port.in_waiting))
            except OSError as exc:
                self.close()
                raise SmsPortUnavailable(
                    f"the SMS modem port {self.url} failed: {exc}; check the cable or USB adapter"
                ) from None
            if chunk:
                self._buffer += chunk
                return True

    def _write(self, data: bytes) -> None:
        port = self._require_port()
        log.debug("SMS modem %s -> %r", self.url, data)
        try:
            port.write(data)
            port.flush()
        except OSError as exc:
            self.close()
            raise SmsPortUnavailable(
                f"the SMS modem port {self.url} failed: {exc}; check the cable or USB adapter"
            ) from None

    def _drain(self) -> None:
        """Forget what the modem said before this exchange (unsolicited codes, late answers)."""
        self._buffer = b""
        self._require_port().reset_input_buffer()

    def _require_port(self) -> SerialPort:
        if self._port is None:
            raise SmsPortUnavailable(f"the SMS modem port {self.url} is not open")
        return self._port


class _Refused(SmsFailed):
    """The modem gave an error as its final answer (``answer``)."""

    def __init__(self, message: str, answer: str) -> None:
        super().__init__(message)
        self.answer = answer


def _first(lines: list[str]) -> str:
    return lines[0] if lines else ""
