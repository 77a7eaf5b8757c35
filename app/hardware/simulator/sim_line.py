"""In-process simulated RS485 lines, reached as ``sim://NAME`` through pyserial.

A ``SimLine`` holds simulated meters (one ``Answerer`` per protocol on the line). The pyserial
port (``app.hardware.simport.protocol_sim.Serial``) hands it every byte written and delivers the
replies paced at the line's baud rate: a request occupies the wire for its bytes' character
times, the meter answers after its reply delay, and each reply byte arrives one character time
after the previous one. So the same driver code runs here as on a real port, with real timing.

Lines are registered by name (``register_line``). A URL naming an unregistered line may describe
one in its query, e.g. ``sim://bench?profile=eastron-sdm120&addresses=1-32&delay_ms=20&scale=60``;
it is then built on first use.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

from app.hardware.addresses import parse_addresses
from app.hardware.errors import FrameError, ProfileError
from app.hardware.profiles import Profile, load_profile
from app.hardware.protocols import protocol_spec
from app.hardware.simulator.faults import Answer, Answerer
from app.hardware.simulator.sim_meter import SimClock, SimFaults, SimMeter


@dataclass
class SimLine:
    """Simulated meters sharing one line, by protocol."""

    name: str
    answerers: list[Answerer]

    def __post_init__(self) -> None:
        self._buffer = b""
        self._lock = threading.Lock()
        self.requests = 0

    @property
    def meters(self) -> list[SimMeter]:
        return [m for a in self.answerers for m in a.meters.values()]

    def meter(self, address: str) -> SimMeter:
        for answerer in self.answerers:
            if address in answerer.meters:
                return answerer.meters[address]
        raise KeyError(f"no simulated meter at {address} on sim://{self.name}")

    def feed(self, data: bytes) -> list[Answer]:
        """Bytes a master wrote; returns the answers to every request they complete."""
        answers: list[Answer] = []
        with self._lock:
            self._buffer += data
            while self._buffer:
                length, answerer = self._frame_at_start()
                if length is None:
                    break
                request, self._buffer = self._buffer[:length], self._buffer[length:]
                self.requests += 1
                if answerer is None:
                    continue
                try:
                    answer = answerer.answer(request)
                except FrameError:
                    answer = None
                if answer is not None:
                    answers.append(answer)
        return answers

    def discard_partial(self) -> None:
        """A long silence ends any half-received request (as a real slave's framer does)."""
        with self._lock:
            self._buffer = b""

    def _frame_at_start(self) -> tuple[int | None, Answerer | None]:
        """Length of the request at the start of the buffer and who can answer it.
        Unframeable leading bytes are dropped one at a time."""
        while self._buffer:
            waiting = False
            for answerer in self.answerers:
                try:
                    length = answerer.spec.request_length(self._buffer)
                except FrameError:
                    continue
                if length is None:
                    waiting = True
                    continue
                if len(self._buffer) >= length:
                    return length, answerer
                waiting = True
            if waiting:
                return None, None
            self._buffer = self._buffer[1:]
        return None, None


_lines: dict[str, SimLine] = {}
_registry_lock = threading.Lock()


def register_line(line: SimLine) -> SimLine:
    with _registry_lock:
        _lines[line.name] = line
    return line


def unregister_line(name: str) -> None:
    with _registry_lock:
        _lines.pop(name, None)


def registered_line(name: str) -> SimLine | None:
    with _registry_lock:
        return _lines.get(name)


def build_line(
    name: str,
    profile: Profile,
    addresses: Iterable[str],
    *,
    clock: SimClock | None = None,
    delay_s: float | None = None,
    seed: int = 0,
    faults: SimFaults | None = None,
) -> SimLine:
    """A line of simulated meters of one profile."""
    clock = clock or SimClock()
    meters = {
        address: SimMeter(
            address,
            profile,
            clock=clock,
            seed=seed,
            reply_delay_s=delay_s,
            faults=faults or SimFaults(),
        )
        for address in addresses
    }
    return SimLine(name, [Answerer(protocol_spec(profile.protocol), meters, seed=seed)])


def line_for_url(url: str) -> SimLine:
    """The registered line a ``sim://`` URL names, or one built from the URL's query."""
    parts = urlsplit(url)
    name = parts.netloc or parts.path.lstrip("/")
    line = registered_line(name)
    if line is not None:
        return line
    query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
    if "profile" not in query:
        raise LookupError(
            f"no simulated line named {name!r} is running; start one, or describe it in the URL "
            "like sim://NAME?profile=eastron-sdm120&addresses=1-32"
        )
    try:
        profile = load_profile(query["profile"])
    except ProfileError as exc:
        raise LookupError(str(exc)) from None
    addresses = parse_addresses(query.get("addresses", "1"))
    delay = float(query["delay_ms"]) / 1000 if "delay_ms" in query else None
    clock = SimClock(scale=float(query.get("scale", "1")))
    line = build_line(
        name, profile, addresses, clock=clock, delay_s=delay, seed=int(query.get("seed", "0"))
    )
    return register_line(line)
