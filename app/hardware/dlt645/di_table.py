"""The DL/T 645-2007 data identifiers we know: ``resources/protocols/dlt645-2007-di.toml``.

The table is data (with its sources in comments); this module loads and checks it and turns
wire bytes into values for one identifier.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, time
from decimal import Decimal
from functools import cache
from typing import Any

from app.hardware.dlt645 import codec
from app.hardware.errors import FrameError
from app.resources import resource_path

DI_TABLE_PATH = resource_path("protocols", "dlt645-2007-di.toml")
KINDS = ("number", "date", "time", "word")
KIND_LENGTHS = {"date": 4, "time": 3}
ITEM_KEYS = {"name", "kind", "length", "decimals", "signed", "unit", "writable", "param"}
METER_NUMBER_DI = 0x04000402  # 表号, 12 BCD digits: what the bus scan lists as the serial

Value = Decimal | date | time | int


@dataclass(frozen=True, slots=True)
class DataItem:
    """One data identifier and its wire format."""

    di: int
    name: str
    kind: str = "number"  # number | date | time | word
    length: int = 4
    decimals: int = 0
    signed: bool = False
    unit: str = ""
    writable: bool = False
    param: str | None = None  # name in SimMeter.params (meter-side parameters)

    @property
    def code(self) -> str:
        return f"{self.di:08X}"

    @property
    def label(self) -> str:
        return f"{self.code} {self.name}"

    def decode(self, raw: bytes) -> Value:
        """Wire data (offset removed) -> value. Raises FrameError only."""
        if len(raw) != self.length:
            raise FrameError(f"{self.label}: {len(raw)} data bytes, the format has {self.length}")
        if self.kind == "number":
            return codec.decode_number(raw, self.decimals, self.signed)
        if self.kind == "date":
            return codec.decode_date(raw)
        if self.kind == "time":
            return codec.decode_time(raw)
        return codec.decode_word(raw)

    def decode_number(self, raw: bytes) -> Decimal:
        value = self.decode(raw)
        if not isinstance(value, Decimal):
            raise FrameError(f"{self.label} is a {self.kind}, not a number")
        return value

    def encode(self, value: Value | float) -> bytes:
        """Value -> wire data (offset not yet added). ValueError if it does not fit."""
        if self.kind == "number":
            if isinstance(value, date | time):
                raise ValueError(f"{self.label} takes a number, not {value!r}")
            return codec.encode_number(value, self.length, self.decimals, self.signed)
        if self.kind == "date" and isinstance(value, date):
            return codec.encode_date(value)
        if self.kind == "time" and isinstance(value, time):
            return codec.encode_time(value)
        if self.kind == "word" and isinstance(value, int) and not isinstance(value, bool):
            return codec.encode_word(value, self.length)
        raise ValueError(f"{self.label} takes a {self.kind}, not {value!r}")


def parse_di(text: object) -> int | None:
    """``"02010100"`` -> 0x02010100; None unless it is exactly 8 hex digits."""
    if not isinstance(text, str) or len(text) != 8:
        return None
    if any(c not in "0123456789abcdefABCDEF" for c in text):
        return None
    return int(text, 16)


def _item(code: str, spec: Any, source: str) -> DataItem:
    where = f"{source}: di.{code}"
    di = parse_di(code)
    if di is None:
        raise ValueError(f"{where}: a data identifier is 8 hex digits")
    if not isinstance(spec, dict):
        raise ValueError(f"{where}: must be a table")
    unknown = set(spec) - ITEM_KEYS
    if unknown:
        raise ValueError(f"{where}.{sorted(unknown)[0]}: unknown key")
    name = spec.get("name")
    if not isinstance(name, str) or not name:
        raise ValueError(f"{where}.name: must be text")
    kind = spec.get("kind", "number")
    if kind not in KINDS:
        raise ValueError(f"{where}.kind: must be one of {', '.join(KINDS)}")
    length = spec.get("length")
    if not isinstance(length, int) or isinstance(length, bool) or not 1 <= length <= 64:
        raise ValueError(f"{where}.length: must be a whole number of bytes from 1 to 64")
    if kind in KIND_LENGTHS and length != KIND_LENGTHS[kind]:
        raise ValueError(f"{where}.length: a {kind} has {KIND_LENGTHS[kind]} bytes")
    decimals = spec.get("decimals", 0)
    if not isinstance(decimals, int) or isinstance(decimals, bool) or not 0 <= decimals <= 8:
        raise ValueError(f"{where}.decimals: must be a whole number from 0 to 8")
    signed = spec.get("signed", False)
    writable = spec.get("writable", False)
    if not isinstance(signed, bool) or not isinstance(writable, bool):
        raise ValueError(f"{where}: signed and writable must be true or false")
    unit = spec.get("unit", "")
    param = spec.get("param")
    if not isinstance(unit, str) or (param is not None and not isinstance(param, str)):
        raise ValueError(f"{where}: unit and param must be text")
    return DataItem(di, name, kind, length, decimals, signed, unit, writable, param)


def parse_di_table(text: str, source: str = DI_TABLE_PATH.name) -> dict[int, DataItem]:
    """Check and build the table from TOML text. ValueError names the file and the key."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"{source}: not valid TOML ({exc})") from None
    table = data.get("di")
    if not isinstance(table, dict) or not table:
        raise ValueError(f"{source}: di: missing table of data identifiers")
    items = [_item(code, spec, source) for code, spec in table.items()]
    return {item.di: item for item in items}


@cache
def di_table() -> Mapping[int, DataItem]:
    return parse_di_table(DI_TABLE_PATH.read_text(encoding="utf-8"))


def lookup(di: int) -> DataItem | None:
    return di_table().get(di)


def required(di: int) -> DataItem:
    """An identifier the protocol code relies on (date, time, status word, energy)."""
    item = lookup(di)
    if item is None:
        raise LookupError(f"{DI_TABLE_PATH.name} lacks the data identifier {di:08X}")
    return item


def by_param(param: str) -> DataItem | None:
    """The identifier whose simulator parameter is ``param`` (e.g. ``balance``)."""
    return next((item for item in di_table().values() if item.param == param), None)
