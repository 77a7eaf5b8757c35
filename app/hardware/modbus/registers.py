"""A Modbus meter profile's register map, compiled and checked; registers <-> SI values.

Pure: no I/O. Profile keys this module reads (see also ``app.hardware.profiles``)::

    [modbus]
    function = 4                     # default function code of values: 3 (holding) or 4 (input)
    word_order = "big"               # 32-bit values: "big" = high word first, or "little"
    max_registers_per_request = 80   # cap of one read (default and at most 125)
    max_gap = 0                      # automatic batching: unused registers a read may span
    [[modbus.batch]]                 # optional: which registers are read in one request
    function = 4
    address = 0x0000
    count = 32
    [modbus.parameters.<name>]       # optional meter-side parameters a command may write
    address = 0x0100
    type = "uint16"
    scale = "1"

    [values.power_w]
    function = 4                     # optional when [modbus] gives a default
    address = 0x000C
    type = "float32"                 # uint16 | int16 | uint32 | int32 | float32
    scale = "1"                      # decimal multiplier from register units to SI: "0.1" for
                                     # 0.1 V units, "1000" for kW -> W (default "1")
    word_order = "little"            # optional override of [modbus].word_order
    unit = "W"                       # optional, what the register holds (documentation)
    group = "fast"

    [supply]
    kind = "relay"
    function = 3                     # how the state is read ...
    address = 0x001A
    on_state = [1]                   # ... the registers read while the supply is on
    off_state = [0]                  # optional: while it is off (else: anything but on_state)
    write_function = 16              # 6 or 16 (6 only for one register)
    write_address = 0x001A           # default: address
    on_registers = [1]               # written to switch the supply on
    off_registers = [0]              # written to switch it off

Batching: with ``[[modbus.batch]]`` tables every value must lie inside one batch of its function
and each batch is one request. Without them, values of one function and one group are merged
while they are contiguous (up to ``max_gap`` unused registers apart) and the request stays within
``max_registers_per_request``.
"""

from __future__ import annotations

import itertools
import math
import struct
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import TYPE_CHECKING, Any

from app.hardware.errors import FrameError, ProfileError
from app.hardware.meter_side_guard import check_meter_side_guard

if TYPE_CHECKING:
    from app.hardware.profiles import Profile

REGISTER_TYPES = {"uint16": 1, "int16": 1, "uint32": 2, "int32": 2, "float32": 2}
WORD_ORDERS = ("big", "little")
READ_FUNCTIONS = (3, 4)
WRITE_FUNCTIONS = (6, 16)
MAX_READ = 125
VALUE_KEYS = {"function", "address", "type", "scale", "word_order", "unit", "group"}
MODBUS_KEYS = {
    "function",
    "word_order",
    "max_registers_per_request",
    "max_gap",
    "batch",
    "parameters",
}
BATCH_KEYS = {"function", "address", "count"}
SUPPLY_KEYS = {
    "kind",
    "function",
    "address",
    "on_state",
    "off_state",
    "write_function",
    "write_address",
    "on_registers",
    "off_registers",
}
PARAMETER_KEYS = {"function", "address", "type", "scale", "word_order", "unit"}
_STRUCT = {"uint16": ">H", "int16": ">h", "uint32": ">I", "int32": ">i", "float32": ">f"}
_LIMITS = {
    "uint16": (0, 0xFFFF),
    "int16": (-0x8000, 0x7FFF),
    "uint32": (0, 0xFFFFFFFF),
    "int32": (-0x80000000, 0x7FFFFFFF),
}


@dataclass(frozen=True, slots=True)
class RegisterValue:
    """Where one value lives and how to turn its registers into an SI number."""

    name: str
    function: int
    address: int
    type: str
    scale: Decimal
    word_order: str
    group: str = "fast"

    @property
    def size(self) -> int:
        return REGISTER_TYPES[self.type]

    @property
    def end(self) -> int:
        """One past the last register."""
        return self.address + self.size

    def describe(self) -> str:
        return f"{self.name} (FC{self.function:02d} 0x{self.address:04X})"


@dataclass(frozen=True, slots=True)
class Batch:
    """One read request and the values it carries."""

    function: int
    address: int
    count: int
    values: tuple[RegisterValue, ...]

    @property
    def groups(self) -> frozenset[str]:
        return frozenset(v.group for v in self.values)

    @property
    def end(self) -> int:
        return self.address + self.count

    def describe(self) -> str:
        names = ", ".join(v.name for v in self.values)
        return f"FC{self.function:02d} 0x{self.address:04X}+{self.count} ({names})"


@dataclass(frozen=True, slots=True)
class SupplyRegisters:
    """How the relay or valve is read and switched."""

    function: int
    address: int
    on_state: tuple[int, ...]
    off_state: tuple[int, ...] | None
    write_function: int
    write_address: int
    on_registers: tuple[int, ...]
    off_registers: tuple[int, ...]

    @property
    def count(self) -> int:
        return len(self.on_state)

    def state_of(self, registers: Sequence[int]) -> bool | None:
        """True = supply on; None when the registers match neither state."""
        registers = tuple(registers)
        if registers == self.on_state:
            return True
        if self.off_state is None or registers == self.off_state:
            return False
        return None

    def registers_for(self, on: bool) -> tuple[int, ...]:
        """What the meter shows in its state registers when the supply is ``on``."""
        if on:
            return self.on_state
        if self.off_state is not None:
            return self.off_state
        return tuple(0 if r else 1 for r in self.on_state)


@dataclass(frozen=True, slots=True)
class RegisterMap:
    """A profile's compiled register map."""

    values: tuple[RegisterValue, ...]
    batches: tuple[Batch, ...]
    supply: SupplyRegisters | None
    parameters: tuple[RegisterValue, ...]
    max_registers: int

    def batches_for(self, groups: Iterable[str]) -> tuple[Batch, ...]:
        wanted = frozenset(groups)
        return tuple(b for b in self.batches if b.groups & wanted)

    def parameter(self, name: str) -> RegisterValue:
        for spec in self.parameters:
            if spec.name == name:
                return spec
        known = ", ".join(p.name for p in self.parameters) or "none"
        raise KeyError(f"no parameter {name!r}; this profile has: {known}")


# --- registers <-> values --------------------------------------------------------------------


def _words(data: bytes, word_order: str) -> list[int]:
    words = [int.from_bytes(data[i : i + 2], "big") for i in range(0, len(data), 2)]
    return words[::-1] if word_order == "little" else words


def decode_value(spec: RegisterValue, registers: Sequence[int]) -> float:
    """The SI value of ``spec`` from its registers (exactly ``spec.size`` of them)."""
    if len(registers) != spec.size:
        raise FrameError(f"{spec.name} needs {spec.size} registers, got {len(registers)}")
    if any(not 0 <= r <= 0xFFFF for r in registers):
        raise FrameError(f"{spec.name}: a register value is outside 0-65535")
    ordered = list(registers)[::-1] if spec.word_order == "little" else list(registers)
    data = b"".join(r.to_bytes(2, "big") for r in ordered)
    (raw,) = struct.unpack(_STRUCT[spec.type], data)
    if spec.type == "float32" and not math.isfinite(raw):
        raise FrameError(f"{spec.name} is not a number ({raw})")
    if spec.scale == 1:
        return float(raw)
    if spec.type == "float32":
        return float(raw) * float(spec.scale)
    return float(Decimal(int(raw)) * spec.scale)  # exact for integer registers


def encode_value(spec: RegisterValue, value: float) -> list[int]:
    """The registers that hold the SI ``value`` (the simulator's side). Integers are rounded
    and held at the type's limits, as a meter's display saturates."""
    raw = value / float(spec.scale)
    if spec.type == "float32":
        data = struct.pack(">f", raw)
    else:
        lo, hi = _LIMITS[spec.type]
        number = min(hi, max(lo, round(raw))) if math.isfinite(raw) else 0
        data = struct.pack(_STRUCT[spec.type], number)
    return _words(data, spec.word_order)


def decode_batch(batch: Batch, registers: Sequence[int]) -> dict[str, float]:
    """Every value of ``batch`` from the registers one read of it returned."""
    if len(registers) != batch.count:
        raise FrameError(f"{batch.describe()}: {len(registers)} registers came back")
    values: dict[str, float] = {}
    for spec in batch.values:
        start = spec.address - batch.address
        values[spec.name] = decode_value(spec, registers[start : start + spec.size])
    return values


# --- compiling and checking a profile ---------------------------------------------------------


def validate(profile: Profile) -> None:
    """Check a Modbus profile; ProfileError names the file, the key and what is wrong."""
    rmap = compile_map(profile)
    check_meter_side_guard(profile, {p.name for p in rmap.parameters})


def compile_map(profile: Profile) -> RegisterMap:
    """The register map of ``profile``; ProfileError when it cannot be used."""
    return _Compiler(profile.path, profile.options, profile.values, profile.supply).run()


def compile_tables(
    path: Path,
    options: Mapping[str, Any],
    values: Mapping[str, Mapping[str, Any]],
    supply: Mapping[str, Any] | None,
) -> RegisterMap:
    """As ``compile_map``, from the raw tables (for tests and tools)."""
    return _Compiler(path, options, values, supply).run()


def _span(spec: RegisterValue) -> str:
    return f"0x{spec.address:04X}-0x{spec.end - 1:04X} (FC{spec.function:02d})"


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


class _Compiler:
    def __init__(
        self,
        path: Path,
        options: Mapping[str, Any],
        values: Mapping[str, Mapping[str, Any]],
        supply: Mapping[str, Any] | None,
    ) -> None:
        self.path = path
        self.options = options
        self.values = values
        self.supply = supply

    def fail(self, key: str, reason: str) -> ProfileError:
        return ProfileError(f"{self.path.name}: {key}: {reason}")

    def run(self) -> RegisterMap:
        unknown = set(self.options) - MODBUS_KEYS
        if unknown:
            raise self.fail("modbus." + sorted(unknown)[0], "unknown key")
        word_order = self.options.get("word_order", "big")
        if word_order not in WORD_ORDERS:
            raise self.fail("modbus.word_order", f"must be big or little, not {word_order!r}")
        default_function = self.options.get("function")
        if default_function is not None and default_function not in READ_FUNCTIONS:
            raise self.fail(
                "modbus.function", f"must be 3 (holding) or 4 (input), not {default_function!r}"
            )
        cap = self.int_key(
            self.options, "max_registers_per_request", "modbus.", 1, MAX_READ, MAX_READ
        )
        max_gap = self.int_key(self.options, "max_gap", "modbus.", 0, MAX_READ, 0)
        specs = [
            self.register_value(f"values.{name}", name, table, default_function, word_order, True)
            for name, table in self.values.items()
        ]
        self.check_overlaps(specs, "values.")
        for spec in specs:
            if spec.size > cap:
                raise self.fail(
                    f"values.{spec.name}",
                    f"needs {spec.size} registers, more than max_registers_per_request = {cap}",
                )
        if "batch" in self.options:
            batches = self.explicit_batches(specs, cap)
        else:
            batches = auto_batches(specs, cap, max_gap)
        parameters = self.parameters(default_function, word_order)
        return RegisterMap(tuple(specs), batches, self.supply_registers(), parameters, cap)

    def int_key(
        self, table: Mapping[str, Any], key: str, where: str, lo: int, hi: int, default: int | None
    ) -> int:
        value = table.get(key, default)
        if not _is_int(value) or not lo <= value <= hi:
            raise self.fail(where + key, f"must be a whole number from {lo} to {hi}, not {value!r}")
        assert isinstance(value, int)
        return value

    def register_value(
        self,
        where: str,
        name: str,
        table: Mapping[str, Any],
        default_function: int | None,
        default_order: str,
        is_value: bool,
    ) -> RegisterValue:
        if not isinstance(table, Mapping):
            raise self.fail(where, "must be a table")
        allowed = VALUE_KEYS if is_value else PARAMETER_KEYS
        unknown = set(table) - allowed
        if unknown:
            raise self.fail(f"{where}.{sorted(unknown)[0]}", "unknown key")
        function = table.get("function", default_function)
        if function is None:
            raise self.fail(f"{where}.function", "missing; give 3 or 4 here or in [modbus]")
        if function not in READ_FUNCTIONS:
            raise self.fail(
                f"{where}.function", f"must be 3 (holding) or 4 (input), not {function!r}"
            )
        address = self.int_key(table, "address", where + ".", 0, 0xFFFF, None)
        kind = table.get("type")
        if kind not in REGISTER_TYPES:
            raise self.fail(
                f"{where}.type", f"must be one of {', '.join(REGISTER_TYPES)}, not {kind!r}"
            )
        if address + REGISTER_TYPES[kind] > 0x10000:
            raise self.fail(f"{where}.address", "the value runs past register 0xFFFF")
        scale = self.scale(where, table.get("scale", "1"))
        order = table.get("word_order", default_order)
        if order not in WORD_ORDERS:
            raise self.fail(f"{where}.word_order", f"must be big or little, not {order!r}")
        unit = table.get("unit", "")
        if not isinstance(unit, str):
            raise self.fail(f"{where}.unit", "must be text")
        group = str(table.get("group", "fast"))
        return RegisterValue(name, function, address, kind, scale, order, group)

    def scale(self, where: str, raw: object) -> Decimal:
        if _is_int(raw):
            raw = str(raw)
        if not isinstance(raw, str):
            raise self.fail(
                f"{where}.scale", f'must be a decimal in quotes like "0.1", not {raw!r}'
            )
        try:
            scale = Decimal(raw)
        except InvalidOperation:
            raise self.fail(f"{where}.scale", f"{raw!r} is not a decimal number") from None
        if not scale.is_finite() or scale == 0:
            raise self.fail(f"{where}.scale", f"must be a finite number other than 0, not {raw!r}")
        return scale

    def check_overlaps(self, specs: Sequence[RegisterValue], prefix: str) -> None:
        ordered = sorted(specs, key=lambda s: (s.function, s.address))
        for before, after in itertools.pairwise(ordered):
            if before.function == after.function and after.address < before.end:
                raise self.fail(
                    f"{prefix}{after.name}",
                    f"registers {_span(after)} overlap {prefix}{before.name}",
                )

    def explicit_batches(self, specs: Sequence[RegisterValue], cap: int) -> tuple[Batch, ...]:
        tables = self.options["batch"]
        if not isinstance(tables, list) or not tables:
            raise self.fail("modbus.batch", "must be one or more [[modbus.batch]] tables")
        spans: list[tuple[int, int, int]] = []  # function, address, count
        for index, table in enumerate(tables):
            where = f"modbus.batch[{index}]"
            if not isinstance(table, Mapping):
                raise self.fail(where, "must be a table")
            unknown = set(table) - BATCH_KEYS
            if unknown:
                raise self.fail(f"{where}.{sorted(unknown)[0]}", "unknown key")
            function = table.get("function")
            if function not in READ_FUNCTIONS:
                raise self.fail(f"{where}.function", f"must be 3 or 4, not {function!r}")
            assert isinstance(function, int)
            address = self.int_key(table, "address", where + ".", 0, 0xFFFF, None)
            raw_count = table.get("count")
            if not isinstance(raw_count, int) or isinstance(raw_count, bool) or raw_count < 1:
                raise self.fail(
                    f"{where}.count", f"must be a whole number of registers, not {raw_count!r}"
                )
            count = raw_count
            if count > cap:
                raise self.fail(
                    f"{where}.count",
                    f"{count} registers is more than max_registers_per_request = {cap}",
                )
            if address + count > 0x10000:
                raise self.fail(f"{where}.count", "the batch runs past register 0xFFFF")
            for other_index, (f, a, c) in enumerate(spans):
                if f == function and address < a + c and a < address + count:
                    raise self.fail(where, f"overlaps modbus.batch[{other_index}]")
            spans.append((function, address, count))
        members: list[list[RegisterValue]] = [[] for _ in spans]
        for spec in specs:
            for index, (f, a, c) in enumerate(spans):
                if f == spec.function and a <= spec.address and spec.end <= a + c:
                    members[index].append(spec)
                    break
            else:
                raise self.fail(
                    f"values.{spec.name}",
                    f"registers {_span(spec)} lie outside every [[modbus.batch]]",
                )
        batches = []
        for index, ((f, a, c), values) in enumerate(zip(spans, members, strict=True)):
            if not values:
                raise self.fail(f"modbus.batch[{index}]", "holds no value; remove it")
            batches.append(Batch(f, a, c, tuple(values)))
        return tuple(batches)

    def parameters(
        self, default_function: int | None, word_order: str
    ) -> tuple[RegisterValue, ...]:
        tables = self.options.get("parameters", {})
        if not isinstance(tables, Mapping):
            raise self.fail("modbus.parameters", "must be tables like [modbus.parameters.NAME]")
        specs = [
            self.register_value(
                f"modbus.parameters.{name}", name, table, default_function or 3, word_order, False
            )
            for name, table in tables.items()
        ]
        self.check_overlaps(specs, "modbus.parameters.")
        return tuple(specs)

    def registers_list(
        self, table: Mapping[str, Any], key: str, required: bool
    ) -> tuple[int, ...] | None:
        raw = table.get(key)
        if raw is None and not required:
            return None
        if (
            not isinstance(raw, list)
            or not 1 <= len(raw) <= 123
            or not all(_is_int(r) and 0 <= r <= 0xFFFF for r in raw)
        ):
            raise self.fail(
                f"supply.{key}", f"must be a list of register values 0-65535, not {raw!r}"
            )
        return tuple(raw)

    def supply_registers(self) -> SupplyRegisters | None:
        table = self.supply
        if table is None:
            return None
        unknown = set(table) - SUPPLY_KEYS
        if unknown:
            raise self.fail("supply." + sorted(unknown)[0], "unknown key")
        function = table.get("function")
        if function not in READ_FUNCTIONS:
            raise self.fail("supply.function", f"must be 3 or 4, not {function!r}")
        address = self.int_key(table, "address", "supply.", 0, 0xFFFF, None)
        on_state = self.registers_list(table, "on_state", True)
        assert on_state is not None
        off_state = self.registers_list(table, "off_state", False)
        if off_state is not None and len(off_state) != len(on_state):
            raise self.fail("supply.off_state", "must have as many registers as on_state")
        if off_state == on_state:
            raise self.fail("supply.off_state", "must differ from on_state")
        write_function = table.get("write_function")
        if write_function not in WRITE_FUNCTIONS:
            raise self.fail("supply.write_function", f"must be 6 or 16, not {write_function!r}")
        write_address = self.int_key(table, "write_address", "supply.", 0, 0xFFFF, address)
        on_registers = self.registers_list(table, "on_registers", True)
        off_registers = self.registers_list(table, "off_registers", True)
        assert on_registers is not None
        assert off_registers is not None
        if len(on_registers) != len(off_registers):
            raise self.fail("supply.off_registers", "must have as many registers as on_registers")
        if on_registers == off_registers:
            raise self.fail("supply.off_registers", "must differ from on_registers")
        if write_function == 6 and len(on_registers) != 1:
            raise self.fail("supply.write_function", "6 writes one register; use 16 for more")
        return SupplyRegisters(
            function,
            address,
            on_state,
            off_state,
            write_function,
            write_address,
            on_registers,
            off_registers,
        )


def auto_batches(specs: Sequence[RegisterValue], cap: int, max_gap: int) -> tuple[Batch, ...]:
    """Merge values of one function and group while they are contiguous (``max_gap`` unused
    registers allowed between them) and the read stays within ``cap`` registers."""
    batches: list[Batch] = []
    ordered = sorted(specs, key=lambda s: (s.function, s.group, s.address))
    current: list[RegisterValue] = []
    for spec in ordered:
        if current:
            first, last = current[0], current[-1]
            if (
                spec.function == first.function
                and spec.group == first.group
                and spec.address - last.end <= max_gap
                and spec.end - first.address <= cap
            ):
                current.append(spec)
                continue
            batches.append(_batch_of(current))
        current = [spec]
    if current:
        batches.append(_batch_of(current))
    return tuple(batches)


def _batch_of(values: Sequence[RegisterValue]) -> Batch:
    start = values[0].address
    end = max(v.end for v in values)
    return Batch(values[0].function, start, end - start, tuple(values))
