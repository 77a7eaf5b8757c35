"""Which ports a bus may name: the PC's serial ports, and the URL forms MeterDesk opens
(``socket://``, ``rfc2217://``, ``modbus-tcp://`` gateways and ``sim://`` simulated lines)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from app.input_limits import TIMEOUT_HIGH_MS, TIMEOUT_LOW_MS

BAUD_RATES = (1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200)
# A meter's reply timeout (app.input_limits: TIMEOUT_LOW_MS to TIMEOUT_HIGH_MS): every request
# waits at most this long (plus a frame's wire time) before it is given up.
PARITIES = ("N", "E", "O")
STOP_BITS = (1, 2)
URL_SCHEMES = ("socket://", "rfc2217://", "modbus-tcp://", "sim://")
_HOST_PORT = re.compile(r"(?P<host>[A-Za-z0-9.\-]+|\[[0-9A-Fa-f:]+\]):(?P<port>\d{1,5})")
_WINDOWS_COM = re.compile(r"(\\\\\.\\)?COM[1-9]\d{0,2}", re.IGNORECASE)


@dataclass(frozen=True)
class SerialPort:
    device: str  # what a bus's port says: /dev/ttyUSB0, COM3
    description: str  # the adapter as the system names it


def list_serial_ports() -> list[SerialPort]:
    """The serial ports of this PC (USB-RS485 adapters among them), by device name."""
    from serial.tools import list_ports  # only when asked: it scans the system

    ports = [
        SerialPort(p.device, p.description if p.description not in ("", "n/a") else "")
        for p in list_ports.comports()
    ]
    return sorted(ports, key=lambda p: p.device)


def baud_problem(baud: int) -> str | None:
    """None when ``baud`` is a speed RS485 meters talk at, else what to give instead."""
    if baud in BAUD_RATES:
        return None
    return f"{baud} baud is not an RS485 meter speed; use {', '.join(map(str, BAUD_RATES))}"


def timeout_problem(timeout_ms: int) -> str | None:
    """None when ``timeout_ms`` is a reply timeout MeterDesk waits, else the range it takes."""
    if TIMEOUT_LOW_MS <= timeout_ms <= TIMEOUT_HIGH_MS:
        return None
    return (
        f"a reply timeout of {timeout_ms} ms is out of range; give {TIMEOUT_LOW_MS} to "
        f"{TIMEOUT_HIGH_MS} ms"
    )


def port_problem(url: str) -> str | None:
    """None when ``url`` is a port MeterDesk can open, else what is wrong with it and what to
    write instead."""
    text = url.strip()
    if not text:
        return "the port is empty: give /dev/ttyUSB0, COM3 or a socket:// address"
    if any(c.isspace() for c in text):
        return f"the port {text!r} has spaces in it"
    lower = text.lower()
    for scheme in URL_SCHEMES:
        if lower.startswith(scheme):
            rest = text[len(scheme) :]
            if scheme == "sim://":
                return None if rest.split("?")[0] else "a sim:// port needs a name: sim://desk"
            found = _HOST_PORT.fullmatch(rest.split("?")[0].rstrip("/"))
            if found is None or not 1 <= int(found["port"]) <= 65535:
                return (
                    f"{text!r} is not {scheme}host:port, e.g. {scheme}192.168.1.20:"
                    f"{502 if scheme == 'modbus-tcp://' else 4001}"
                )
            return None
    if "://" in text:
        return (
            f"{text!r} is not a port MeterDesk opens; use a serial port or one of "
            f"{', '.join(s + '...' for s in URL_SCHEMES)}"
        )
    if text.startswith("/") or _WINDOWS_COM.fullmatch(text):
        return None
    return f"{text!r} is not a serial port: write /dev/ttyUSB0 (Linux) or COM3 (Windows)"


def same_port(a: str, b: str) -> bool:
    """Whether two bus ports name the same line (one line, one owner)."""

    def key(url: str) -> str:
        text = url.strip()
        if text.lower().startswith("sim://"):
            return text.lower().split("?")[0].rstrip("/")
        if _WINDOWS_COM.fullmatch(text):
            return text.upper().removeprefix("\\\\.\\")
        return text.lower().rstrip("/") if "://" in text else text

    return key(a) == key(b)
