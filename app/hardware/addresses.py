"""Meter addresses as people type them: Modbus unit ids, DL/T 645 and CJ/T 188 BCD numbers."""

from __future__ import annotations

ADDRESS_DIGITS = {"dlt645-2007": 12, "cjt188": 14}
MODBUS_MAX_UNIT = 247  # meters are Modbus units 1-247 (0 is broadcast, 248-255 reserved)
LONGEST_ADDRESS = max(ADDRESS_DIGITS.values())
MAX_ADDRESSES = 10_000  # one list or range typed for a scan or a simulator


def parse_addresses(text: str) -> list[str]:
    """``1-32``, ``1,5,9-12``, or DL/T 645 / CJ/T 188 addresses and ranges such as
    ``000000000001-000000000004`` (the width of the first address is kept)."""
    addresses: list[str] = []
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        low, dash, high = part.partition("-")
        if not (_is_address_number(low) and (not dash or _is_address_number(high))):
            raise ValueError(f"{_shown(part)} is not an address or a range like 1-32")
        if not dash:
            addresses.append(low)
            continue
        if int(low) > int(high):
            raise ValueError(f"{part!r} runs backwards")
        if int(high) - int(low) >= MAX_ADDRESSES:
            raise ValueError(f"{part!r} is more than {MAX_ADDRESSES:,} addresses")
        width = len(low) if len(low) >= 12 else 0
        addresses.extend(str(n).zfill(width) for n in range(int(low), int(high) + 1))
        if len(addresses) > MAX_ADDRESSES:
            raise ValueError(f"more than {MAX_ADDRESSES:,} addresses")
    if not addresses:
        raise ValueError("no address given")
    return addresses


def addresses_problem(protocol: str, addresses: list[str]) -> str | None:
    """None when ``protocol`` can have every one of ``addresses`` (a DL/T 645 or CJ/T 188 number
    may be short: the driver pads it), else what is wrong with the first that it cannot have,
    naming the range it can: a scan refuses them before it sends anything."""
    for address in addresses:
        if protocol == "modbus-rtu":
            problem = address_problem(protocol, address)
        elif protocol in ADDRESS_DIGITS:
            digits = ADDRESS_DIGITS[protocol]
            problem = (
                None
                if _is_number(address) and len(address) <= digits
                else f"{protocol} address {_shown(address)} must be at most {digits} digits, "
                f"{'0' * digits} to {'9' * digits}"
            )
        else:
            problem = None  # a protocol without address rules here (tests' toy protocol)
        if problem is not None:
            return problem
    return None


def address_problem(protocol: str, address: str) -> str | None:
    """None when ``address`` suits ``protocol``, else what is wrong with it."""
    if protocol == "modbus-rtu":
        if not _is_number(address) or len(address) > 3 or not 1 <= int(address) <= MODBUS_MAX_UNIT:
            return f"Modbus address {_shown(address)} must be a number from 1 to {MODBUS_MAX_UNIT}"
        return None
    digits = ADDRESS_DIGITS[protocol]
    if not _is_number(address) or len(address) != digits:
        return f"{protocol} address {_shown(address)} must be {digits} digits"
    return None


def _is_number(text: str) -> bool:
    """Plain digits 0-9 (``isdigit`` alone takes ``²`` and other scripts' digits)."""
    return text.isascii() and text.isdigit()


def _is_address_number(text: str) -> bool:
    return _is_number(text) and len(text) <= LONGEST_ADDRESS


def _shown(address: str) -> str:
    """An address as a message quotes it: a very long one cut short."""
    return repr(address if len(address) <= 20 else address[:20] + "...")
