"""What every protocol provides: a driver (master side) and a responder (simulator side).

Protocol packages (``app.hardware.modbus``, ``.dlt645``, ``.cjt188``) each expose ``SPEC``, a
``ProtocolSpec``; ``app.hardware.protocols.protocol_spec(name)`` finds it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from app.hardware.discovery import SearchProgress, SearchResult
from app.hardware.link import FrameLength, Link

if TYPE_CHECKING:
    from app.hardware.profiles import Profile
    from app.hardware.simulator.sim_meter import SimMeter


@dataclass
class ReadResult:
    """Values read from one meter in one poll, by Snapshot field name, in SI units.

    ``failures`` lists what could not be read (the poll is partial); a driver raises a
    FieldFault instead of returning when nothing at all came back.
    """

    values: dict[str, float] = field(default_factory=dict)
    supply_on: bool | None = None  # relay closed / valve open; None when not read
    status: dict[str, object] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)


# In the groups asked of ``MeterDriver.read``: read the relay/valve state too.
SUPPLY_GROUP = "supply"


@dataclass(frozen=True, slots=True)
class MeterIdentity:
    """What a bus scan reads from a meter it found: the meter number (None where the protocol
    or profile has none, or the meter would not tell) and the cumulative register in ``unit``
    ("kWh" import energy, "m3" volume; None when not read)."""

    serial: str | None
    register: Decimal | None
    unit: str


class MeterDriver(Protocol):
    """Master side of one protocol for one profile. Runs on the bus worker's thread."""

    profile: Profile

    def read(self, link: Link, address: str, groups: frozenset[str]) -> ReadResult:
        """Read the profile's values of these groups ("fast", "slow"), and the supply state
        when ``SUPPLY_GROUP`` is among them (or when it comes free with the values)."""
        ...

    def set_supply(self, link: Link, address: str, on: bool) -> None:
        """Send the relay/valve command. Raises CommandRefused if the meter says no."""
        ...

    def read_supply(self, link: Link, address: str) -> bool | None:
        """Read back the relay/valve state (True = supply on); None if the model has none."""
        ...

    def probe(self, link: Link, address: str) -> bool:
        """Does a meter of this profile answer at ``address``? (bus scan; FieldFault = no)."""
        ...

    def discover(self, link: Link) -> str | None:
        """Ask the one meter on the line for its address (DL/T 645 / CJ/T 188 wildcard).
        None when the protocol has no such request."""
        ...

    def identify(self, link: Link, address: str) -> MeterIdentity | None:
        """A bus scan's visit: None when no meter of this profile answers at ``address`` (no
        reply; Modbus: an exception reply, another kind of device); else its meter number and
        register, read now. A garbled first reply raises FrameError (the scan retries once)."""
        ...

    def read_clock(self, link: Link, address: str) -> datetime | None:
        """The meter's own clock (site-local, naive), or None if the model has none."""
        ...

    def sync_clock(self, link: Link, address: str | None, when: datetime) -> None:
        """Set the meter's clock; ``address`` None means broadcast (no reply expected)."""
        ...


@runtime_checkable
class ParameterDriver(Protocol):
    """A driver whose meters keep named parameters the console may write (the profile's
    ``[modbus.parameters]`` or ``[prepaid]``)."""

    def read_parameter(self, link: Link, address: str, name: str) -> Any:
        """The parameter's value now (a number)."""
        ...

    def write_parameter(self, link: Link, address: str, name: str, value: Any) -> None:
        """Write it; a refusal or a fault raises."""
        ...


@runtime_checkable
class WildcardDriver(Protocol):
    """A driver whose protocol addresses meters with wildcard digits (DL/T 645, CJ/T 188): it
    finds every meter on a line with ``app.hardware.discovery.search``."""

    def discover_all(
        self,
        link: Link,
        progress: SearchProgress | None = None,
        cancel: threading.Event | None = None,
        on_found: Callable[[str], None] | None = None,
    ) -> SearchResult:
        """Search the whole address space; ``on_found(address)`` as each meter is confirmed."""
        ...


class Responder(Protocol):
    """Simulator side: answers request frames for a set of simulated meters of one protocol."""

    def addressees(self, request: bytes) -> list[tuple[str, SimMeter]]:
        """The meters (key, meter) a complete request frame selects, in key order: one for
        its full address, every match for wildcard digits; [] for a broadcast, a reply, a
        garbled frame or an address nobody has. Each of them would answer at once."""
        ...

    def handle(self, request: bytes, key: str | None = None) -> bytes | None:
        """The reply to one complete request frame; None for no reply. Without ``key``: the
        reply of the one meter the request selects (None when it selects several), and a
        broadcast acts on every meter. With ``key`` (from ``addressees``): that meter acts on
        the request and gives its own reply, however many others were selected too."""
        ...


@dataclass(frozen=True)
class ProtocolSpec:
    name: str
    validate: Callable[[Profile], None]  # raises ProfileError naming file and key
    reply_length: FrameLength  # master side: length of the reply at the start of a buffer
    request_length: FrameLength  # simulator side: length of the request at the start
    make_driver: Callable[[Profile], MeterDriver]
    make_responder: Callable[[Mapping[str, SimMeter]], Responder]  # meters by address
