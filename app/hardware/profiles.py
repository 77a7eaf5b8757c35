"""Meter profiles: each meter model is a TOML file in ``resources/meters/``. Adding a model
needs no code. A profile is checked on load; every mistake names the file, the key and the reason.

Common keys (every protocol)::

    name = "eastron-sdm120"            # must equal the file name without .toml
    title = "Eastron SDM120 single-phase energy meter"
    protocol = "modbus-rtu"            # modbus-rtu | dlt645-2007 | cjt188
    utility = "electricity"            # electricity | water | gas
    phases = 1
    rated_current_a = 45               # optional: plausibility and the simulator's load
    reply_delay_ms = 20                # typical reply latency (the simulator models it)
    sources = ["where the register map comes from"]

    [line]                             # default line settings
    baudrate = 9600
    bytesize = 8
    parity = "N"                       # N | E | O
    stopbits = 1
    timeout_ms = 300

    [values.<name>]                    # one table per Snapshot value (snapshot.VALUE_FIELDS)
    ...                                # protocol-specific keys, checked by the protocol module
    group = "fast"                     # fast (power, PF...) or slow (energy): polled less often

    [supply]                           # optional: how to read and switch the relay or valve
    kind = "relay"                     # relay | valve
    ...                                # protocol-specific keys

    [<protocol section>]               # optional protocol options: [modbus], [dlt645], [cjt188]
    [prepaid], [load_guard]            # optional meter-side parameters (protocol-specific)

    [alarm]                            # optional: the meter shows a low-balance alarm itself
    on = "2A"                          # (buzzer, alarm LED, display) when told; keys are
    off = "2B"                         # protocol-specific (DL/T 645: N1 of the 1C command).
                                       # Only protocols in ALARM_PROTOCOLS accept the table
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from app.hardware.errors import ProfileError
from app.hardware.link import LineSettings
from app.hardware.snapshot import VALUE_FIELDS
from app.input_limits import MAX_NAME_CHARS, MAX_TOML_NESTING, read_limited_text, too_deep
from app.resources import resource_path

PROFILES_DIR = resource_path("meters")
PROTOCOL_NAMES = ("modbus-rtu", "dlt645-2007", "cjt188")
PROTOCOL_SECTIONS = {"modbus-rtu": "modbus", "dlt645-2007": "dlt645", "cjt188": "cjt188"}
UTILITIES = ("electricity", "water", "gas")
VALUE_GROUPS = ("fast", "slow")
TOP_KEYS = {
    "name",
    "title",
    "protocol",
    "utility",
    "phases",
    "rated_current_a",
    "reply_delay_ms",
    "sources",
    "line",
    "values",
    "supply",
    "prepaid",
    "load_guard",
    "alarm",
    *PROTOCOL_SECTIONS.values(),
}


# Protocols whose meters keep a clock the console can read and set.
CLOCK_PROTOCOLS = frozenset({"dlt645-2007", "cjt188"})  # names in protocols.MODULES
# Protocols with a command that makes the meter show an alarm (DL/T 645-2007's 1C with N1 2A/2B).
# Neither Modbus profile's source documents an alarm register, nor does CJ/T 188.
ALARM_PROTOCOLS = frozenset({"dlt645-2007"})


@dataclass(frozen=True)
class Profile:
    """A checked profile. Protocol-specific tables stay as plain mappings; the protocol module
    compiles them (and has already checked them when the profile was loaded)."""

    name: str
    title: str
    protocol: str
    utility: str
    phases: int
    line: LineSettings
    reply_delay_s: float
    rated_current_a: float | None
    values: Mapping[str, Mapping[str, Any]]
    supply: Mapping[str, Any] | None
    options: Mapping[str, Any]  # the protocol section, e.g. [modbus]
    prepaid: Mapping[str, Any] | None
    load_guard: Mapping[str, Any] | None
    sources: tuple[str, ...] = ()
    path: Path = field(default=Path())
    alarm: Mapping[str, Any] | None = None  # the [alarm] table, checked by the protocol

    @property
    def shows_alarm(self) -> bool:
        """Can MeterDesk make its meters show an alarm (buzzer, LED, display) to the tenant?"""
        return self.alarm is not None

    @property
    def supply_kind(self) -> str | None:
        return None if self.supply is None else str(self.supply["kind"])

    @property
    def keeps_clock(self) -> bool:
        """Do its meters keep a clock the console reads and sets (not the Modbus models)?"""
        return self.protocol in CLOCK_PROTOCOLS

    def groups_of(self, group: str) -> tuple[str, ...]:
        return tuple(n for n, spec in self.values.items() if spec.get("group", "fast") == group)


def _fail(path: Path, key: str, reason: str) -> ProfileError:
    return ProfileError(f"{path.name}: {key}: {reason}")


def _table(data: Mapping[str, Any], key: str, path: Path, required: bool) -> dict[str, Any] | None:
    value = data.get(key)
    if value is None:
        if required:
            raise _fail(path, key, "missing table")
        return None
    if not isinstance(value, dict):
        raise _fail(path, key, "must be a table like [" + key + "]")
    return value


def _int(table: Mapping[str, Any], key: str, where: str, path: Path, lo: int, hi: int) -> int:
    value = table.get(key)
    if not isinstance(value, int) or isinstance(value, bool) or not lo <= value <= hi:
        raise _fail(path, where + key, f"must be a whole number from {lo} to {hi}, not {value!r}")
    return value


def _line(data: Mapping[str, Any], path: Path) -> LineSettings:
    table = _table(data, "line", path, required=True)
    assert table is not None
    unknown = set(table) - {"baudrate", "bytesize", "parity", "stopbits", "timeout_ms"}
    if unknown:
        raise _fail(path, "line." + sorted(unknown)[0], "unknown key")
    baudrate = _int(table, "baudrate", "line.", path, 300, 115200)
    bytesize = _int(table, "bytesize", "line.", path, 7, 8) if "bytesize" in table else 8
    parity = table.get("parity", "N")
    if parity not in ("N", "E", "O"):
        raise _fail(path, "line.parity", f"must be N, E or O, not {parity!r}")
    stopbits = _int(table, "stopbits", "line.", path, 1, 2) if "stopbits" in table else 1
    timeout_ms = (
        _int(table, "timeout_ms", "line.", path, 20, 10_000) if "timeout_ms" in table else 300
    )
    return LineSettings(baudrate, bytesize, parity, stopbits, timeout_ms / 1000)


def parse_profile(text: str, path: Path) -> Profile:
    """Check a profile's text and build it. The protocol module checks its own tables."""
    text = text.removeprefix("\ufeff")  # Windows Notepad starts UTF-8 files with one
    deep = too_deep(text)
    if deep is not None:
        raise ProfileError(
            f"{path.name}: its lists and tables nest {deep} deep, more than the "
            f"{MAX_TOML_NESTING} a profile may; this is not a meter profile"
        )
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ProfileError(f"{path.name}: not valid TOML ({exc})") from None
    unknown = set(data) - TOP_KEYS
    if unknown:
        raise _fail(path, sorted(unknown)[0], "unknown key")
    name = data.get("name")
    if name != path.stem:
        raise _fail(path, "name", f"must equal the file name {path.stem!r}, not {name!r}")
    protocol = data.get("protocol")
    if protocol not in PROTOCOL_NAMES:
        raise _fail(
            path, "protocol", f"must be one of {', '.join(PROTOCOL_NAMES)}, not {protocol!r}"
        )
    utility = data.get("utility")
    if utility not in UTILITIES:
        raise _fail(path, "utility", f"must be one of {', '.join(UTILITIES)}, not {utility!r}")
    title = data.get("title", name)
    if not isinstance(title, str):
        raise _fail(path, "title", "must be text")
    phases = _int(data, "phases", "", path, 1, 3) if "phases" in data else 1
    rated = data.get("rated_current_a")
    if rated is not None and (
        not isinstance(rated, int | float) or isinstance(rated, bool) or rated <= 0
    ):
        raise _fail(path, "rated_current_a", "must be a positive number of amperes")
    delay_ms = _int(data, "reply_delay_ms", "", path, 0, 5000) if "reply_delay_ms" in data else 20
    sources = data.get("sources", [])
    if not isinstance(sources, list) or not all(isinstance(s, str) for s in sources):
        raise _fail(path, "sources", "must be a list of text")
    values = _table(data, "values", path, required=True)
    assert values is not None
    if not values:
        raise _fail(path, "values", "names no value to read")
    for value_name, spec in values.items():
        if value_name not in VALUE_FIELDS:
            raise _fail(
                path, f"values.{value_name}", f"unknown value; use one of {', '.join(VALUE_FIELDS)}"
            )
        if not isinstance(spec, dict):
            raise _fail(path, f"values.{value_name}", "must be a table")
        if spec.get("group", "fast") not in VALUE_GROUPS:
            raise _fail(path, f"values.{value_name}.group", "must be fast or slow")
    supply = _table(data, "supply", path, required=False)
    if supply is not None and supply.get("kind") not in ("relay", "valve"):
        raise _fail(path, "supply.kind", f"must be relay or valve, not {supply.get('kind')!r}")
    alarm = _table(data, "alarm", path, required=False)
    if alarm is not None and protocol not in ALARM_PROTOCOLS:
        raise _fail(
            path,
            "alarm",
            f"{protocol} meters have no alarm command MeterDesk can send; remove the [alarm] "
            f"table (only {', '.join(sorted(ALARM_PROTOCOLS))} profiles may have one)",
        )
    section = PROTOCOL_SECTIONS[protocol]
    for other in PROTOCOL_SECTIONS.values():
        if other != section and other in data:
            raise _fail(path, other, f"belongs to another protocol than {protocol}")
    profile = Profile(
        name=name,
        title=title,
        protocol=protocol,
        utility=utility,
        phases=phases,
        line=_line(data, path),
        reply_delay_s=delay_ms / 1000,
        rated_current_a=float(rated) if rated is not None else None,
        values=values,
        supply=supply,
        options=_table(data, section, path, required=False) or {},
        prepaid=_table(data, "prepaid", path, required=False),
        load_guard=_table(data, "load_guard", path, required=False),
        sources=tuple(sources),
        path=path,
        alarm=alarm,
    )
    from app.hardware.protocols import protocol_spec  # the protocol checks its own tables

    protocol_spec(protocol).validate(profile)
    return profile


def load_profile_file(path: Path) -> Profile:
    try:
        text = read_limited_text(path)
    except OSError as exc:
        raise ProfileError(f"{path.name}: cannot be read ({exc.strerror or exc})") from None
    except UnicodeDecodeError:
        raise ProfileError(f"{path.name}: cannot be read (not UTF-8 text)") from None
    return parse_profile(text, path)


@cache
def load_profile(name: str, folder: Path = PROFILES_DIR) -> Profile:
    """The profile called ``name``: a file ``NAME.toml`` in ``folder`` (``resources/meters``).

    Only the names of the folder's profiles are taken: a name with a path in it
    (``../../tmp/x``), or of a file that is not there, is an unknown profile, so no other
    TOML file of the computer is ever read as one."""
    if name not in available_profiles(folder):
        known = ", ".join(available_profiles(folder)) or "none"
        shown = name if len(name) <= MAX_NAME_CHARS else f"{name[:MAX_NAME_CHARS]}..."
        raise ProfileError(f"unknown meter profile {shown!r}; known profiles: {known}")
    return load_profile_file(folder / f"{name}.toml")


def available_profiles(folder: Path = PROFILES_DIR) -> list[str]:
    """The names of the profiles in ``folder``: its ``*.toml`` files' names, without folders."""
    return sorted(p.stem for p in folder.glob("*.toml") if p.is_file())
