"""Find every meter on a line with wildcard addresses, and what a scan tells of each meter.

Pure and protocol-neutral: ``search`` asks through a callable and never touches a port.

DL/T 645 and CJ/T 188 meters answer a request whose address has wildcard digits (``A``) when
their own address equals it in every other digit. When several meters match, they all answer at
once, their replies collide on the line and the master receives garbage. So the search is:

- start with every digit a wildcard;
- no reply: no meter in that branch;
- a valid reply: one meter, confirmed by asking its full address (a reply that only looked
  valid, made up by colliding replies, fails that and counts as a collision);
- a garbled reply: a collision. Fix the next digit to 0..9, least significant digit first
  (serial numbers differ most in their last digits), and ask each of the ten branches.

A garbled reply at a wildcard pattern is never retried: splitting the branch is right whether
it was a collision or noise. Only a fully specified address that replies garbled is asked once
more (noise), and if it stays garbled it is reported in ``SearchResult.problems`` (two meters
may share the address), never dropped silently.

Requests are bounded: each settled branch costs one request, plus one to confirm a meter found
at a wildcard pattern, plus one retry at a full address; a collision costs ten branches. With
n meters the search asks about ``1 + n + 10 x (branches holding two or more meters)``, some 10
per meter per level of digits that tell the meters apart.

``progress(done, total, found)``: ``done`` is the number of branches settled so far, ``total``
the number of branches known so far (settled plus waiting). ``total`` grows while collisions
split branches; the search has ended when ``done == total``. ``found`` lists the addresses
found so far.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Literal

from app.hardware.bcd_frame import DECIMAL_DIGITS, WILDCARD_DIGIT, address_matches

Kind = Literal["none", "one", "garbled"]

# The problem reported for an address whose replies stayed garbled (the search and the scan).
GARBLED_TWICE = "garbled replies twice: two meters may share this address, or the line is noisy"


@dataclass(frozen=True, slots=True)
class Heard:
    """What one request to an address pattern drew from the line: nothing, one valid reply
    naming ``address`` (all decimal digits), or garbled bytes (a collision, or noise)."""

    kind: Kind
    address: str = ""


NOTHING = Heard("none")
GARBLED = Heard("garbled")


def one(address: str) -> Heard:
    return Heard("one", address)


# Ask the line about one address pattern (digits and ``A`` wildcards, most significant first).
Ask = Callable[[str], Heard]
# progress(done, total, found): branches settled, branches known, addresses found so far.
SearchProgress = Callable[[int, int, list[str]], None]


@dataclass
class SearchResult:
    """What ``search`` found: addresses in the order found, problems as (address, what is
    wrong), how many requests it took, and whether it was cancelled before the end."""

    found: list[str] = field(default_factory=list)
    problems: list[tuple[str, str]] = field(default_factory=list)
    requests: int = 0
    settled: int = 0
    cancelled: bool = False


def branches(pattern: str) -> list[str]:
    """The ten branches of ``pattern``: its least significant wildcard digit fixed to 0..9.
    [] for a fully specified address."""
    at = pattern.rfind(WILDCARD_DIGIT)
    if at < 0:
        return []
    return [pattern[:at] + digit + pattern[at + 1 :] for digit in DECIMAL_DIGITS]


def colliding_branches(addresses: Collection[str], width: int) -> int:
    """How many branches of the search of ``width`` digits hold two or more of ``addresses``
    (each of ``width`` digits): the suffixes of 0 to width-1 digits that two or more of them
    share. Each such branch draws a collision and costs ten more requests (see above)."""
    shared = 0
    for length in range(width):
        tails = Counter(address[width - length :] for address in addresses)
        shared += sum(1 for count in tails.values() if count >= 2)
    return shared


def search(
    ask: Ask,
    width: int,
    *,
    progress: SearchProgress | None = None,
    cancel: threading.Event | None = None,
    on_found: Callable[[str], None] | None = None,
) -> SearchResult:
    """Find every address of ``width`` decimal digits that answers ``ask``. ``on_found(address)``
    is called as each meter is found (between two requests: the caller may talk to it then).
    ``cancel`` is looked at before each branch. Depth first, digits 0..9 in order."""
    result = SearchResult()

    def asked(pattern: str) -> Heard:
        result.requests += 1
        return ask(pattern)

    def found(address: str) -> None:
        if address not in result.found:
            result.found.append(address)
            if on_found is not None:
                on_found(address)

    def settle(pattern: str) -> list[str]:
        """Ask about one branch; the branches it splits into (a collision), else []."""
        heard = asked(pattern)
        if WILDCARD_DIGIT not in pattern:
            if heard.kind == "one" and heard.address != pattern:
                heard = GARBLED  # a full address answered by another one: not a valid reply
            if heard.kind == "garbled":
                heard = asked(pattern)  # noise, or two meters sharing the address: once more
            if heard.kind == "one" and heard.address == pattern:
                found(pattern)
            elif heard.kind != "none":
                result.problems.append((pattern, GARBLED_TWICE))
            return []
        if heard.kind == "none":
            return []
        if heard.kind == "one" and address_matches(pattern, heard.address):
            confirm = asked(heard.address)
            if confirm.kind == "one" and confirm.address == heard.address:
                found(heard.address)
                return []
        return branches(pattern)

    waiting = [WILDCARD_DIGIT * width]
    while waiting:
        if cancel is not None and cancel.is_set():
            result.cancelled = True
            break
        pattern = waiting.pop()
        waiting.extend(reversed(settle(pattern)))
        result.settled += 1
        if progress is not None:
            progress(result.settled, result.settled + len(waiting), list(result.found))
    return result


# --- what a scan lists ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ScanHit:
    """One meter a bus scan found, with what it read from it in the same visit.

    ``serial`` is the meter number read from the meter where the protocol has one (DL/T 645 DI
    04000402; a CJ/T 188 meter's address is its number; Modbus: None). ``register`` is the
    cumulative register in ``unit``: import energy in kWh for electricity meters, volume in m3
    for water and gas meters; None when it could not be read. A non-empty ``problem`` says why
    the address is listed although no meter could be confirmed there (garbled replies)."""

    address: str
    profile: str  # the profile's name
    model: str  # the profile's title: the meter model in words
    serial: str | None = None
    register: Decimal | None = None
    unit: str = ""
    problem: str = ""

    @property
    def ok(self) -> bool:
        return not self.problem

    @property
    def energy_kwh(self) -> Decimal | None:
        return self.register if self.unit == "kWh" else None

    @property
    def volume_m3(self) -> Decimal | None:
        return self.register if self.unit == "m3" else None
