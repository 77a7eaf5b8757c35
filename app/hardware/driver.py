"""What every protocol provides: a driver (master side) and a responder (simulator side).

Protocol packages (``app.hardware.modbus``, ``.dlt645``, ``.cjt188``) each expose ``SPEC``, a
``ProtocolSpec``; ``app.hardware.protocols.protocol_spec(name)`` finds it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

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


class Responder(Protocol):
    """Simulator side: answers request frames for a set of simulated meters of one protocol."""

    def handle(self, request: bytes) -> bytes | None:
        """The reply to one complete request frame; None for no reply (broadcast, not ours)."""
        ...


@dataclass(frozen=True)
class ProtocolSpec:
    name: str
    validate: Callable[[Profile], None]  # raises ProfileError naming file and key
    reply_length: FrameLength  # master side: length of the reply at the start of a buffer
    request_length: FrameLength  # simulator side: length of the request at the start
    request_address: Callable[[bytes], str | None]  # simulator side: whom a request is for
    make_driver: Callable[[Profile], MeterDriver]
    make_responder: Callable[[Mapping[str, SimMeter]], Responder]  # meters by address
