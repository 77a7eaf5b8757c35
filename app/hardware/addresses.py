"""Meter addresses as people type them: Modbus unit ids, DL/T 645 and CJ/T 188 BCD numbers."""

from __future__ import annotations

ADDRESS_DIGITS = {"dlt645-2007": 12, "cjt188": 14}
MODBUS_MAX_UNIT = 247  # meters are Modbus units 1-247 (0 is broadcast, 248-255 reserved)


def parse_addresses(text: str) -> list[str]:
    """``1-32``, ``1,5,9-12``, or DL/T 645 / CJ/T 188 addresses and ranges such as
    ``000000000001-000000000004`` (the width of the first address is kept)."""
    addresses: list[str] = []
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        low, dash, high = part.partition("-")
        if not (low.isdigit() and (not dash or high.isdigit())):
            raise ValueError(f"{part!r} is not an address or a range like 1-32")
        if not dash:
            addresses.append(low)
            continue
        if int(low) > int(high):
            raise ValueError(f"{part!r} runs backwards")
        if int(high) - int(low) > 10_000:
            raise ValueError(f"{part!r} is more than 10,000 addresses")
        width = len(low) if len(low) >= 12 else 0
        addresses.extend(str(n).zfill(width) for n in range(int(low), int(high) + 1))
    if not addresses:
        raise ValueError("no address given")
    return addresses


def address_problem(protocol: str, address: str) -> str | None:
    """None when ``address`` suits ``protocol``, else what is wrong with it."""
    if protocol == "modbus-rtu":
        if not address.isdigit() or not 1 <= int(address) <= MODBUS_MAX_UNIT:
            return f"Modbus address {address!r} must be a number from 1 to {MODBUS_MAX_UNIT}"
        return None
    digits = ADDRESS_DIGITS[protocol]
    if not address.isdigit() or len(address) != digits:
        return f"{protocol} address {address!r} must be {digits} digits"
    return None
