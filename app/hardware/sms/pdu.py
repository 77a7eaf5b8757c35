"""SMS-SUBMIT PDUs (3GPP TS 23.040 / 23.038) for a GSM modem in PDU mode: pure functions.

A message goes in the GSM 7-bit default alphabet when every character is in it (the extension
characters ``€[]{}|^~\\`` and form feed take an escape pair, two septets); otherwise in UCS-2,
which carries Chinese. A message longer than one SMS is cut into concatenated parts, each led by a
user data header (8-bit reference, parts count, part number): 153 septets or 67 UCS-2 characters
per part, at most ``MAX_PARTS`` parts. A character is never cut in two (an escape pair or a UTF-16
surrogate pair stays in one part).

Every PDU is a hex string that starts with ``00`` (no SMSC address: the modem uses the one on the
SIM) and has TP-MR 00 (the modem numbers the message); ``AT+CMGS=`` is given the TPDU length, the
octets after that ``00``. Validity period: relative, 4 days.
"""

from __future__ import annotations

import re
from typing import NamedTuple

MAX_PARTS = 8
SEPTETS_SINGLE = 160  # one 7-bit SMS
SEPTETS_PART = 153  # one 7-bit part after the 6-octet concatenation header (7 septets)
UCS2_SINGLE = 70  # UTF-16 code units in one UCS-2 SMS (140 octets)
UCS2_PART = 67  # UTF-16 code units in one UCS-2 part after the header

DCS_GSM7 = 0x00
DCS_UCS2 = 0x08
TOA_INTERNATIONAL = 0x91
TOA_NATIONAL = 0x81  # "unknown" type of number, ISDN numbering plan: digits as dialled
FIRST_OCTET = 0x11  # SMS-SUBMIT, validity period present in relative format
UDHI = 0x40  # the user data starts with a header
VALIDITY_4_DAYS = 0xAA
IEI_CONCAT_8BIT = 0x00
IEI_CONCAT_16BIT = 0x08
ESCAPE = 0x1B
MAX_DIGITS = 20  # TP-DA holds at most 10 octets of digits

# The GSM 7-bit default alphabet, by code (0x1B is the escape to the extension table).
GSM7_BASIC = (
    "@£$¥èéùìòÇ\nØø\rÅå"
    "Δ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ"
    " !\"#¤%&'()*+,-./"
    "0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNO"
    "PQRSTUVWXYZÄÖÑÜ§"
    "¿abcdefghijklmno"
    "pqrstuvwxyzäöñüà"
)
assert len(GSM7_BASIC) == 128
GSM7_EXTENSION = {
    "\f": 0x0A,
    "^": 0x14,
    "{": 0x28,
    "}": 0x29,
    "\\": 0x2F,
    "[": 0x3C,
    "~": 0x3D,
    "]": 0x3E,
    "|": 0x40,
    "€": 0x65,
}
_BASIC_CODE = {char: code for code, char in enumerate(GSM7_BASIC) if code != ESCAPE}
_EXTENSION_CHAR = {code: char for char, code in GSM7_EXTENSION.items()}
_NUMBER = re.compile(r"\+?[0-9]+")
_BCD_DIGITS = "0123456789*#abc"


class Concat(NamedTuple):
    """The concatenation header of one part: which message, how many parts, which part (1-based)."""

    reference: int
    parts: int
    part: int


class Submit(NamedTuple):
    """A decoded SMS-SUBMIT: the destination as given ("+86..." or national digits), the text of
    this PDU, and its concatenation header (None for a single SMS)."""

    to: str
    text: str
    udh: Concat | None


# --- encoding -------------------------------------------------------------------------------


def is_gsm7(text: str) -> bool:
    """Whether ``text`` fits the GSM 7-bit default alphabet (with its extension table)."""
    return all(char in _BASIC_CODE or char in GSM7_EXTENSION for char in text)


def encode_submit(to: str, text: str, reference: int = 0) -> list[tuple[str, int]]:
    """The SMS-SUBMIT PDUs of ``text`` to ``to``: for each part, the PDU hex (with the ``00``
    SMSC prefix) and the TPDU length to give ``AT+CMGS=``. ``reference`` (0-255) ties the parts
    of a concatenated message together; the caller should vary it between messages to the same
    phone. ValueError for a bad number, an empty text, or a text longer than ``MAX_PARTS``."""
    address = encode_address(to)
    if not text:
        raise ValueError("the message text is empty: there is nothing to send")
    if not 0 <= reference <= 255:
        raise ValueError(f"the concatenation reference must be 0 to 255, not {reference}")
    gsm7 = is_gsm7(text)
    units = [_septets(char) for char in text] if gsm7 else [_ucs2(char) for char in text]
    single = SEPTETS_SINGLE if gsm7 else UCS2_SINGLE
    if sum(len(unit) for unit in units) <= single:
        chunks = [units]
    else:
        chunks = _split(units, SEPTETS_PART if gsm7 else UCS2_PART)
        if len(chunks) > MAX_PARTS:
            per_part = (
                f"{SEPTETS_PART} characters per part in the GSM alphabet (€[]{{}}|^~\\ count twice)"
                if gsm7
                else f"{UCS2_PART} characters per part for Chinese and other non-GSM text"
            )
            raise ValueError(
                f"the message is too long: {len(text)} characters need {len(chunks)} SMS parts, "
                f"at most {MAX_PARTS} are sent ({per_part}); shorten the text"
            )
    pdus = []
    for number, chunk in enumerate(chunks, start=1):
        udh = b""
        if len(chunks) > 1:
            udh = bytes([5, IEI_CONCAT_8BIT, 3, reference, len(chunks), number])
        codes = [code for unit in chunk for code in unit]
        udl, user_data = _gsm7_user_data(udh, codes) if gsm7 else _ucs2_user_data(udh, codes)
        tpdu = (
            bytes([FIRST_OCTET | (UDHI if udh else 0), 0x00])
            + address
            + bytes([0x00, DCS_GSM7 if gsm7 else DCS_UCS2, VALIDITY_4_DAYS, udl])
            + user_data
        )
        pdus.append(("00" + tpdu.hex().upper(), len(tpdu)))
    return pdus


def encode_address(number: str) -> bytes:
    """TP-DA of ``number``: digit count, type of address, swapped BCD digits (F-padded).
    "+8613800138000" is international (0x91), "13800138000" national (0x81)."""
    given = number.strip()
    if not _NUMBER.fullmatch(given):
        raise ValueError(
            f"{number!r} is not a phone number SMS can go to: give digits, optionally starting "
            "with + (e.g. +8613800138000 or 13800138000), without spaces or dashes"
        )
    international = given.startswith("+")
    digits = given.lstrip("+")
    if len(digits) > MAX_DIGITS:
        raise ValueError(
            f"{number!r} has {len(digits)} digits; a phone number has at most {MAX_DIGITS}"
        )
    padded = digits + ("F" if len(digits) % 2 else "")
    swapped = "".join(padded[i + 1] + padded[i] for i in range(0, len(padded), 2))
    toa = TOA_INTERNATIONAL if international else TOA_NATIONAL
    return bytes([len(digits), toa]) + bytes.fromhex(swapped)


def _septets(char: str) -> tuple[int, ...]:
    if char in _BASIC_CODE:
        return (_BASIC_CODE[char],)
    return (ESCAPE, GSM7_EXTENSION[char])


def _ucs2(char: str) -> tuple[int, ...]:
    """The UTF-16 code units of ``char``: one, or a surrogate pair outside the BMP (emoji)."""
    data = char.encode("utf-16-be")
    return tuple(int.from_bytes(data[i : i + 2], "big") for i in range(0, len(data), 2))


def _split(units: list[tuple[int, ...]], room: int) -> list[list[tuple[int, ...]]]:
    """Cut the characters into parts of at most ``room`` codes, never inside a character."""
    chunks: list[list[tuple[int, ...]]] = [[]]
    used = 0
    for unit in units:
        if used + len(unit) > room:
            chunks.append([])
            used = 0
        chunks[-1].append(unit)
        used += len(unit)
    return chunks


def _gsm7_user_data(udh: bytes, septets: list[int]) -> tuple[int, bytes]:
    """TP-UDL (in septets, header included) and TP-UD: the header octets, then the septets
    packed after fill bits that bring the header to a septet boundary."""
    header_septets = (len(udh) * 8 + 6) // 7
    fill = header_septets * 7 - len(udh) * 8
    return header_septets + len(septets), udh + _pack(septets, fill)


def _ucs2_user_data(udh: bytes, units: list[int]) -> tuple[int, bytes]:
    data = udh + b"".join(unit.to_bytes(2, "big") for unit in units)
    return len(data), data


def _pack(septets: list[int], fill_bits: int = 0) -> bytes:
    """Septets packed least significant bit first, after ``fill_bits`` zero bits."""
    value = 0
    bits = fill_bits
    for septet in septets:
        value |= septet << bits
        bits += 7
    return value.to_bytes((bits + 7) // 8, "little") if bits > fill_bits else b""


# --- decoding -------------------------------------------------------------------------------


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.at = 0

    def take(self, count: int, what: str) -> bytes:
        if self.at + count > len(self.data):
            raise ValueError(
                f"the PDU ends early: {what} needs {count} octets at octet {self.at}, "
                f"{len(self.data) - self.at} are left"
            )
        chunk = self.data[self.at : self.at + count]
        self.at += count
        return chunk

    def byte(self, what: str) -> int:
        return self.take(1, what)[0]


def decode_submit(pdu_hex: str) -> Submit:
    """Read back an SMS-SUBMIT PDU (hex, with its SMSC prefix) as ``(to, text, udh)``.
    ValueError naming what is wrong for anything that is not a well-formed 7-bit or UCS-2
    SMS-SUBMIT."""
    try:
        data = bytes.fromhex(pdu_hex.strip())
    except ValueError:
        raise ValueError(f"the PDU is not a hex string: {pdu_hex[:40]!r}") from None
    reader = _Reader(data)
    reader.take(reader.byte("SMSC length"), "SMSC address")
    first = reader.byte("first octet")
    if first & 0x03 != 0x01:
        raise ValueError(f"not an SMS-SUBMIT: first octet {first:02X} has type {first & 3}")
    reader.byte("message reference")
    to = _decode_address(reader)
    reader.byte("protocol identifier")
    dcs = reader.byte("data coding scheme")
    validity_octets = {0: 0, 1: 7, 2: 1, 3: 7}[(first >> 3) & 0x03]
    reader.take(validity_octets, "validity period")
    udl = reader.byte("user data length")
    user_data = data[reader.at :]
    alphabet = _alphabet(dcs)
    expected = (udl * 7 + 7) // 8 if alphabet == DCS_GSM7 else udl
    if len(user_data) != expected:
        raise ValueError(
            f"the user data has {len(user_data)} octets, its length {udl} calls for {expected}"
        )
    udh = b""
    if first & UDHI:
        if not user_data:
            raise ValueError("the header flag is set but the user data is empty")
        udh = user_data[: 1 + user_data[0]]
        if len(udh) != 1 + user_data[0]:
            raise ValueError("the user data header is longer than the user data")
    if alphabet == DCS_GSM7:
        text = _decode_gsm7(user_data, udl, len(udh))
    else:
        try:
            text = user_data[len(udh) :].decode("utf-16-be")
        except UnicodeDecodeError as exc:
            raise ValueError(f"the UCS-2 text cannot be read: {exc}") from None
    return Submit(to, text, _concat(udh))


def _decode_address(reader: _Reader) -> str:
    digits = reader.byte("address length")
    toa = reader.byte("type of address")
    if toa & 0x70 == 0x50:
        raise ValueError("an alphanumeric destination address is not a phone number")
    nibbles = reader.take((digits + 1) // 2, "address digits").hex()
    swapped = "".join(nibbles[i + 1] + nibbles[i] for i in range(0, len(nibbles), 2))
    number = swapped[:digits]
    if any(d not in "0123456789abc" for d in number):
        raise ValueError(f"the destination address has a non-digit: {swapped!r}")
    number = "".join(_BCD_DIGITS[int(d, 16)] for d in number)
    return ("+" if toa & 0x70 == 0x10 else "") + number


def _alphabet(dcs: int) -> int:
    """DCS_GSM7 or DCS_UCS2 from a data coding scheme of the general group (or F0, 7-bit)."""
    if dcs & 0xC0 == 0x00 and dcs & 0x20 == 0:
        alphabet = dcs & 0x0C
        if alphabet in (DCS_GSM7, DCS_UCS2):
            return alphabet
    elif dcs & 0xF0 == 0xF0 and dcs & 0x04 == 0:
        return DCS_GSM7
    raise ValueError(f"data coding scheme {dcs:02X} is neither GSM 7-bit nor UCS-2 text")


def _decode_gsm7(user_data: bytes, udl: int, udh_octets: int) -> str:
    header_septets = (udh_octets * 8 + 6) // 7
    if header_septets > udl:
        raise ValueError("the user data header is longer than the user data")
    value = int.from_bytes(user_data, "little")
    septets = [(value >> (7 * i)) & 0x7F for i in range(header_septets, udl)]
    chars = []
    escaped = False
    for septet in septets:
        if escaped:
            # An unknown extension code shows as the basic character (TS 23.038 6.2.1.1).
            chars.append(_EXTENSION_CHAR.get(septet, GSM7_BASIC[septet]))
            escaped = False
        elif septet == ESCAPE:
            escaped = True
        else:
            chars.append(GSM7_BASIC[septet])
    return "".join(chars)


def _concat(udh: bytes) -> Concat | None:
    """The concatenation element of a user data header (8- or 16-bit reference), if any."""
    at = 1
    while at + 2 <= len(udh):
        iei, length = udh[at], udh[at + 1]
        body = udh[at + 2 : at + 2 + length]
        if len(body) != length:
            raise ValueError("an element of the user data header runs past its end")
        if iei == IEI_CONCAT_8BIT and length == 3:
            return Concat(body[0], body[1], body[2])
        if iei == IEI_CONCAT_16BIT and length == 4:
            return Concat(int.from_bytes(body[:2], "big"), body[2], body[3])
        at += 2 + length
    return None
