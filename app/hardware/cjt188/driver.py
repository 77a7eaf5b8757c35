"""Master side of CJ/T 188: reads water, gas and heat meters and switches their valves.

One request per poll: DI 901F returns the cumulative flow (converted from its unit byte to m³),
the meter's clock and the status bytes (valve open/closed/fault, low battery), so a poll costs
one round trip whatever groups are asked for. Addresses are 14 decimal digits (shorter ones are
padded with zeros on the left). Runs on the bus worker's thread; not thread-safe (the SER
counter).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime

from app.hardware.cjt188.codec import (
    ADDRESS_DIGITS,
    ANY_TYPE,
    DI_ADDRESS,
    DI_METER_DATA,
    READ_ADDRESS,
    READ_DATA,
    SHORTEST_FRAME,
    WILDCARD,
    WRITE_DATA,
    MeterData,
    Valve,
    address_matches,
    build_request,
    check_reply,
    decode_frame,
    decode_meter_data,
    encode_time,
    frame_length,
    normalise_address,
)
from app.hardware.cjt188.options import Options, ValveOptions, compile_options
from app.hardware.discovery import (
    GARBLED,
    NOTHING,
    Heard,
    SearchProgress,
    SearchResult,
    one,
    search,
)
from app.hardware.driver import MeterIdentity, ReadResult
from app.hardware.errors import CommandRefused, ExceptionReply, FrameError, NoReply
from app.hardware.link import Link
from app.hardware.profiles import Profile


class Cjt188Driver:
    """The MeterDriver for profiles with ``protocol = "cjt188"``."""

    def __init__(self, profile: Profile) -> None:
        self.profile = profile
        self.options: Options = compile_options(profile)
        self._ser = 0

    # --- MeterDriver ---------------------------------------------------------------------

    def read(self, link: Link, address: str, groups: frozenset[str]) -> ReadResult:
        """One 901F read. Values of the asked groups, the valve state (when the profile has a
        valve) and the status bits (``low_battery``, ``valve_fault``, ``valve``,
        ``status_word``, ``meter_time``). A valve fault leaves ``supply_on`` None and is
        listed in ``failures``."""
        data = self._read_meter_data(link, address)
        result = ReadResult()
        wanted = {name for group in groups for name in self.profile.groups_of(group)}
        if "volume_m3" in wanted:
            volume = data.flow.m3
            if volume is None:
                result.failures.append(
                    f"volume_m3: the meter gave its flow in {data.flow.unit_name}, not a volume"
                )
            else:
                result.values["volume_m3"] = volume
        if self.options.valve is not None:
            if data.status.valve is Valve.FAULT:
                result.failures.append("valve: the meter reports a valve fault (stuck or no motor)")
            else:
                result.supply_on = data.status.valve is Valve.OPEN
        result.status = data.status.as_dict()
        result.status["meter_time"] = (
            data.meter_time.isoformat() if data.meter_time is not None else None
        )
        return result

    def set_supply(self, link: Link, address: str, on: bool) -> None:
        """Open (``on``) or close the valve with the profile's DI, function and codes.
        CommandRefused if the meter answers with an error reply, or the model has no valve."""
        valve = self._valve()
        code = valve.open_code if on else valve.close_code
        action = "open" if on else "close"
        self._exchange(
            link,
            address,
            valve.control,
            valve.di,
            bytes([code]),
            note=f"write {valve.di:04X} valve {action} ({code:02X})",
            what=f"valve {action} command",
        )

    def read_supply(self, link: Link, address: str) -> bool | None:
        """True if the valve is open; None if the model has no valve. ExceptionReply when the
        meter reports a valve fault (the state is then unknown)."""
        if self.options.valve is None:
            return None
        status = self._read_meter_data(link, address).status
        if status.valve is Valve.FAULT:
            raise ExceptionReply(
                f"meter {normalise_address(address)} reports a valve fault "
                f"(status {status.word:04X}): the valve may be stuck; check it on site",
                status.word,
            )
        return status.valve is Valve.OPEN

    def probe(self, link: Link, address: str) -> bool:
        """A 901F read: True if a meter at ``address`` answered, even with an error reply;
        False for no reply, a garbled reply or a reply from another address."""
        try:
            self._read_meter_data(link, address)
        except ExceptionReply:
            return True
        except (NoReply, FrameError):
            return False
        return True

    def discover(self, link: Link) -> str | None:
        """Read address (03, DI 810A) with type and address AA: the one meter on the line
        answers with its own address in the frame header. Several meters answer at once and
        garble each other (FrameError), so use it point to point."""
        ser = self._next_ser()
        frame = build_request(
            ANY_TYPE,
            WILDCARD,
            READ_ADDRESS,
            DI_ADDRESS,
            ser,
            high_first=self.options.di_high_first,
            wake_up=self.options.wake_up,
        )
        raw = link.transact(
            frame, frame_length, note="read address 810A (wildcard)", shortest=SHORTEST_FRAME
        )
        reply = decode_frame(raw)
        check_reply(
            reply,
            function=READ_ADDRESS,
            address=WILDCARD,
            di=DI_ADDRESS,
            ser=ser if self.options.check_ser else None,
            high_first=self.options.di_high_first,
            what="read of its address",
        )
        if reply.address == WILDCARD:
            raise FrameError("the meter answered with the wildcard address, not its own")
        return reply.address

    def discover_all(
        self,
        link: Link,
        progress: SearchProgress | None = None,
        cancel: threading.Event | None = None,
        on_found: Callable[[str], None] | None = None,
    ) -> SearchResult:
        """Find every meter on the line: ``discovery.search`` asking read address (03, DI
        810A, any meter type) of address patterns with A wildcard digits."""
        return search(
            lambda pattern: self.ask_address(link, pattern),
            ADDRESS_DIGITS,
            progress=progress,
            cancel=cancel,
            on_found=on_found,
        )

    def ask_address(self, link: Link, pattern: str) -> Heard:
        """Read address (03, DI 810A) to ``pattern`` (14 characters, A digits are wildcards):
        nothing, one meter (its address from the reply's header, which ``pattern`` selects),
        or garbled bytes (colliding replies)."""
        ser = self._next_ser()
        frame = build_request(
            ANY_TYPE,
            pattern,
            READ_ADDRESS,
            DI_ADDRESS,
            ser,
            high_first=self.options.di_high_first,
            wake_up=self.options.wake_up,
        )
        try:
            raw = link.transact(
                frame,
                frame_length,
                address=pattern,
                note=f"read address 810A of {pattern}",
                shortest=SHORTEST_FRAME,
            )
            reply = decode_frame(raw)
            check_reply(
                reply,
                function=READ_ADDRESS,
                address=WILDCARD,
                di=DI_ADDRESS,
                ser=ser if self.options.check_ser else None,
                high_first=self.options.di_high_first,
                what="read of its address",
            )
        except NoReply:
            return NOTHING
        except ExceptionReply:
            pass  # a meter refused, but it named itself in the header
        except FrameError:
            return GARBLED
        if reply.address == WILDCARD or not address_matches(pattern, reply.address):
            return GARBLED
        return one(reply.address)

    def identify(self, link: Link, address: str) -> MeterIdentity | None:
        """One 901F read: the volume in m³. A CJ/T 188 meter's address is its meter number.
        None when nothing answers; an error reply still means a meter is there."""
        target = normalise_address(address)
        try:
            data = self._read_meter_data(link, target)
        except NoReply:
            return None
        except ExceptionReply:
            return MeterIdentity(target, None, "m3")
        return MeterIdentity(target, data.flow.volume_m3, "m3")

    def read_clock(self, link: Link, address: str) -> datetime | None:
        """The meter's real time from 901F (every CJ/T 188 water, gas and heat meter sends it).
        FrameError if the meter's clock field holds no valid time (clock never set)."""
        data = self._read_meter_data(link, address)
        if data.meter_time is None:
            raise FrameError(
                f"meter {normalise_address(address)} sent {data.time_raw.hex(' ').upper()} "
                "as its time: its clock is not set"
            )
        return data.meter_time

    def sync_clock(self, link: Link, address: str | None, when: datetime) -> None:
        """Write the standard time (04, DI from ``[cjt188] clock_di``, usually A015).

        CJ/T 188 has no broadcast time sync (unlike DL/T 645's 08 command): a write to the
        wildcard address would make every meter answer at once. So ``address`` None, or a
        profile without ``clock_di``, raises CommandRefused with the reason."""
        if address is None:
            raise CommandRefused(
                "CJ/T 188 has no broadcast time sync: set each meter's clock by its address"
            )
        clock_di = self.options.clock_di
        if clock_di is None:
            raise CommandRefused(
                f"the {self.profile.name} profile names no clock_di: this model's clock "
                "cannot be set over the line"
            )
        if when.tzinfo is not None:
            when = when.astimezone().replace(tzinfo=None)  # meters keep site-local time
        when = when.replace(microsecond=0)
        self._exchange(
            link,
            address,
            WRITE_DATA,
            clock_di,
            encode_time(when),
            note=f"write {clock_di:04X} clock {when.isoformat(sep=' ')}",
            what="clock setting",
        )

    # --- helpers -------------------------------------------------------------------------

    def _valve(self) -> ValveOptions:
        if self.options.valve is None:
            raise CommandRefused(f"the {self.profile.name} profile has no valve to switch")
        return self.options.valve

    def _next_ser(self) -> int:
        if not self.options.ser_increment:
            return 0
        self._ser = (self._ser + 1) & 0xFF
        return self._ser

    def _read_meter_data(self, link: Link, address: str) -> MeterData:
        payload = self._exchange(
            link,
            address,
            READ_DATA,
            DI_METER_DATA,
            note="read 901F flow, valve, clock",
            what="read of DI 901F",
        )
        return decode_meter_data(payload, self.options.meter_type, self.options.status_layout)

    def _exchange(
        self,
        link: Link,
        address: str,
        function: int,
        di: int,
        payload: bytes = b"",
        *,
        note: str,
        what: str,
    ) -> bytes:
        """Send one request, return the reply's payload after DI and SER."""
        target = normalise_address(address)
        ser = self._next_ser()
        frame = build_request(
            self.options.meter_type,
            target,
            function,
            di,
            ser,
            payload,
            high_first=self.options.di_high_first,
            wake_up=self.options.wake_up,
        )
        raw = link.transact(frame, frame_length, address=target, note=note, shortest=SHORTEST_FRAME)
        return check_reply(
            decode_frame(raw),
            function=function,
            address=target,
            di=di,
            ser=ser if self.options.check_ser else None,
            high_first=self.options.di_high_first,
            what=what,
        )
