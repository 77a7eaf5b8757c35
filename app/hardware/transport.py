"""Open a bus by URL: local ports, ``socket://`` and ``rfc2217://`` gateways, ``modbus-tcp://``
gateways (MBAP framing) and ``sim://`` simulated lines, all through pyserial."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable

import serial

from app.hardware.errors import PortUnavailable
from app.hardware.link import FrameRecord, LineSettings, Link

SIM_HANDLERS = "app.hardware.simport"
if SIM_HANDLERS not in serial.protocol_handler_packages:
    serial.protocol_handler_packages.append(SIM_HANDLERS)

MODBUS_TCP = "modbus-tcp://"
log = logging.getLogger(__name__)


def is_pseudo_terminal(url: str) -> bool:
    return os.path.realpath(url).startswith("/dev/pts/")


def open_link(
    url: str, settings: LineSettings, on_frame: Callable[[FrameRecord], None] | None = None
) -> Link:
    """Open ``url`` with the line settings. ``modbus-tcp://host:port`` opens a TCP socket and
    marks the link for MBAP framing."""
    mbap = url.lower().startswith(MODBUS_TCP)
    target = "socket://" + url[len(MODBUS_TCP) :] if mbap else url
    parity = settings.parity
    if parity != "N" and is_pseudo_terminal(target):
        # A pseudo-terminal carries bytes, not bits: there is no parity bit to send, and some
        # kernels refuse to set one. The bytes are the same either way.
        log.info("%s is a pseudo-terminal: opening it without parity", url)
        parity = "N"
    try:
        port = serial.serial_for_url(
            target,
            baudrate=settings.baudrate,
            bytesize=settings.bytesize,
            parity=parity,
            stopbits=settings.stopbits,
            timeout=settings.timeout_s,
        )
    except (serial.SerialException, ValueError, OSError) as exc:
        raise PortUnavailable(f"cannot open {url}: {exc}") from None
    link = Link(port, settings, on_frame)
    link.mbap = mbap
    return link
