"""A bus scan, run on the bus worker's thread: which meters of one profile answer on a line, and
what each tells in the same visit (``ScanHit``: meter number and register).

Two ways, both with ``progress(done, total, hits)`` after each step and ``cancel`` looked at
before each step:

- an address range (Modbus 1-247, or DL/T 645 / CJ/T 188 numbers a technician typed): each
  address visited once, a garbled reply asked once more. ``done`` addresses of ``total``;
- the wildcard search (DL/T 645 and CJ/T 188 with no addresses: every meter on the line, see
  ``app.hardware.discovery``). ``done`` is the number of address-space branches settled so far
  and ``total`` the number known so far: it grows while collisions split branches, and the
  search has ended when ``done == total``.

``hits`` are the ``ScanHit`` so far; those with a ``problem`` are addresses where replies stayed
garbled (reported, not dropped). The link's own timeout bounds every request: an absent
address costs exactly one reply timeout, nothing more.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from decimal import Decimal

from app.hardware.addresses import MODBUS_MAX_UNIT, addresses_problem
from app.hardware.discovery import GARBLED_TWICE, ScanHit
from app.hardware.driver import MeterDriver, WildcardDriver
from app.hardware.errors import FieldFault, FrameError
from app.hardware.link import Link

ScanProgress = Callable[[int, int, list[ScanHit]], None]

SILENT_AFTER_SEARCH = "answered the search but not the reads that followed"


def scan_line(
    driver: MeterDriver,
    link: Link,
    addresses: Sequence[str] | None,
    progress: ScanProgress | None = None,
    cancel: threading.Event | None = None,
) -> list[ScanHit]:
    """Scan ``addresses``, or with None every meter on the line: the wildcard search where the
    protocol has one (DL/T 645, CJ/T 188), else every Modbus unit id 1-247. ValueError, before
    anything is sent, when an address is not one the profile's protocol can have."""
    if addresses is not None:
        problem = addresses_problem(driver.profile.protocol, list(addresses))
        if problem is not None:
            raise ValueError(problem)
        return scan_addresses(driver, link, addresses, progress, cancel)
    if isinstance(driver, WildcardDriver):
        return search_line(driver, link, progress, cancel)
    units = [str(unit) for unit in range(1, MODBUS_MAX_UNIT + 1)]
    return scan_addresses(driver, link, units, progress, cancel)


def scan_addresses(
    driver: MeterDriver,
    link: Link,
    addresses: Sequence[str],
    progress: ScanProgress | None = None,
    cancel: threading.Event | None = None,
) -> list[ScanHit]:
    """Visit each address in turn."""
    hits: list[ScanHit] = []
    for done, address in enumerate(addresses, start=1):
        if cancel is not None and cancel.is_set():
            break
        hit = visit(driver, link, address)
        if hit is not None:
            hits.append(hit)
        if progress is not None:
            progress(done, len(addresses), list(hits))
    return hits


def search_line(
    driver: MeterDriver,
    link: Link,
    progress: ScanProgress | None = None,
    cancel: threading.Event | None = None,
) -> list[ScanHit]:
    """Every meter on the line by the wildcard search, each visited as soon as it is found;
    hits sorted by address."""
    assert isinstance(driver, WildcardDriver)
    hits: list[ScanHit] = []

    def found(address: str) -> None:
        hit = visit(driver, link, address)
        hits.append(hit if hit is not None else _hit(driver, address, problem=SILENT_AFTER_SEARCH))

    def report(done: int, total: int, _addresses: list[str]) -> None:
        if progress is not None:
            progress(done, total, list(hits))

    result = driver.discover_all(link, report, cancel, found)
    hits.extend(_hit(driver, address, problem=what) for address, what in result.problems)
    return sorted(hits, key=lambda hit: hit.address)


def visit(driver: MeterDriver, link: Link, address: str) -> ScanHit | None:
    """What a meter of the driver's profile at ``address`` tells (``MeterDriver.identify``);
    None when none answers. A garbled reply is asked once more, then reported as a problem."""
    for _attempt in range(2):
        try:
            identity = driver.identify(link, address)
        except FrameError:
            continue
        except FieldFault:
            return None
        if identity is None:
            return None
        return _hit(
            driver,
            address,
            serial=identity.serial,
            register=identity.register,
            unit=identity.unit,
        )
    return _hit(driver, address, problem=GARBLED_TWICE)


def _hit(
    driver: MeterDriver,
    address: str,
    *,
    serial: str | None = None,
    register: Decimal | None = None,
    unit: str = "",
    problem: str = "",
) -> ScanHit:
    profile = driver.profile
    return ScanHit(address, profile.name, profile.title, serial, register, unit, problem)
