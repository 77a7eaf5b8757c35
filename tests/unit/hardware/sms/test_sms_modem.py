"""SmsModem against the simulated modem over a socat pty pair: real bytes, AT dialogue, PDU mode."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
import serial

from app.hardware.errors import PortUnavailable
from app.hardware.sms.modem import SmsFailed, SmsModem, SmsPortUnavailable
from app.hardware.sms.pdu import decode_submit, encode_submit
from app.hardware.sms.sim_modem import SentMessage, SimModem
from tests.support import socat_pair

TENANT = "+8613800138000"
LOW_BALANCE = "Room 0412: your balance is 12.50 CNY, below the reminder level. Please recharge."
CHINESE = (
    "尊敬的住户：您的电费余额为12.50元，已低于提醒线，请及时充值。如已充值请忽略本短信。谢谢！"
)

Connect = Callable[..., tuple[SmsModem, SimModem]]


def concat_reference(pdu_hex: str) -> int:
    udh = decode_submit(pdu_hex).udh
    assert udh is not None, "a part of a long message without its concatenation header"
    return udh.reference


@pytest.fixture
def connect() -> Iterator[Connect]:
    """Makes a simulated modem (with the faults given) at one end of a socat pty pair and an
    SmsModem at the other; on the way out both are closed, the modem's thread must have
    stopped, and socat ends."""
    console, far_end, close_ptys = socat_pair()
    made: list[tuple[SmsModem, SimModem]] = []

    def make(
        *, timeout_s: float = 5.0, part_timeout_s: float = 5.0, **faults: Any
    ) -> tuple[SmsModem, SimModem]:
        sim = SimModem(far_end, **faults)
        sim.start()
        modem = SmsModem(console, timeout_s=timeout_s, part_timeout_s=part_timeout_s)
        made.append((modem, sim))
        return modem, sim

    try:
        yield make
    finally:
        for modem, sim in made:
            modem.close()
            sim.stop()
        close_ptys()


def test_an_english_message_goes_out_as_one_7bit_sms(connect: Connect) -> None:
    modem, sim = connect()
    result = modem.send(TENANT, LOW_BALANCE)
    [(pdu_hex, length)] = encode_submit(TENANT, LOW_BALANCE, 0)
    assert sim.sent == [SentMessage(TENANT, LOW_BALANCE, 1, (1,), (pdu_hex,))]
    assert result.references == (1,)
    assert result.parts == 1
    assert result.answers[-2:] == ("+CMGS: 1", "OK")
    assert sim.commands == ["AT", "ATE0", "AT+CMGF=0", f"AT+CMGS={length}"]
    assert "in 1 part, modem reference 1" in result.describe()


def test_a_long_chinese_message_goes_out_in_concatenated_parts(connect: Connect) -> None:
    modem, sim = connect()
    text = CHINESE * 2
    result = modem.send(TENANT, text)
    [message] = sim.sent
    assert message.text == text
    assert message.to == TENANT
    assert message.parts == result.parts == 2
    assert message.references == result.references == (1, 2)
    assert [decode_submit(pdu_hex).udh for pdu_hex in message.pdus] == [(0, 2, 1), (0, 2, 2)]


def test_two_long_messages_get_different_concatenation_references(connect: Connect) -> None:
    modem, sim = connect()
    modem.send(TENANT, CHINESE * 2)
    modem.send(TENANT, CHINESE * 3)
    first, second = sim.sent
    assert first.text == CHINESE * 2
    assert second.text == CHINESE * 3
    refs = {concat_reference(pdu_hex) for pdu_hex in first.pdus}
    later = {concat_reference(pdu_hex) for pdu_hex in second.pdus}
    assert len(refs) == len(later) == 1
    assert refs != later


@pytest.mark.parametrize(
    ("answer", "meaning"),
    [
        ("+CMS ERROR: 38", "network out of order"),
        ("+CMS ERROR: 42", "network congestion"),
        ("+CMS ERROR: 330", "SMSC address unknown"),
        ("+CMS ERROR: 515", "please wait"),
        ("ERROR", None),
    ],
)
def test_a_network_error_raises_naming_the_modems_answer(
    connect: Connect, answer: str, meaning: str | None
) -> None:
    modem, sim = connect(fail_with=answer)
    with pytest.raises(SmsFailed) as caught:
        modem.send(TENANT, LOW_BALANCE)
    said = str(caught.value)
    assert answer in said
    if meaning:
        assert meaning in said
    assert "SIM card" in said
    assert "credit" in said
    assert TENANT in said
    assert sim.sent == []


def test_the_failing_part_of_a_long_message_is_named(connect: Connect) -> None:
    modem, sim = connect()
    sim.fail_with = "+CMS ERROR: 38"
    with pytest.raises(SmsFailed, match=r"part 1 of 2\): \+CMS ERROR: 38 \(network out of order"):
        modem.send(TENANT, CHINESE * 2)


def test_no_sim_refuses_the_message_and_probe_says_so(connect: Connect) -> None:
    modem, sim = connect(no_sim=True)
    with pytest.raises(SmsFailed, match=r"\+CMS ERROR: 310 \(SIM not inserted\)"):
        modem.send(TENANT, LOW_BALANCE)
    info = modem.probe()
    assert not info.sim_ready
    assert info.sim_status == "+CME ERROR: 10 (SIM not inserted)"
    assert "SIM not ready: +CME ERROR: 10 (SIM not inserted)" in info.describe()
    assert sim.sent == []


def test_a_silent_modem_ends_in_smsfailed_within_the_timeout(connect: Connect) -> None:
    modem, sim = connect(silent=True, timeout_s=0.3)
    with pytest.raises(SmsFailed, match=r"did not answer AT within 0.3 s \(it said nothing\)") as e:
        modem.send(TENANT, LOW_BALANCE)
    assert "power" in str(e.value)
    assert sim.sent == []


def test_a_network_that_does_not_answer_ends_at_the_part_timeout(connect: Connect) -> None:
    modem, sim = connect(network_delay_s=60, part_timeout_s=0.3)
    with pytest.raises(SmsFailed, match=r"did not send the message within 0.3 s"):
        modem.send(TENANT, LOW_BALANCE)
    assert sim.sent == []


def test_slow_replies_within_the_timeout_still_send(connect: Connect) -> None:
    modem, sim = connect(reply_delay_s=0.05, network_delay_s=0.1)
    modem.send(TENANT, CHINESE)
    assert [message.text for message in sim.sent] == [CHINESE]


def test_a_modem_left_waiting_for_a_pdu_is_brought_back(connect: Connect) -> None:
    modem, sim = connect(timeout_s=0.5)
    # Another program asked AT+CMGS and went away: the modem takes what comes as the PDU.
    with serial.Serial(modem.url, timeout=1) as other:
        other.write(b"AT+CMGS=20\r")
        assert other.read_until(b"> ").endswith(b"> ")
    result = modem.send(TENANT, LOW_BALANCE)
    assert result.references == (1,)
    assert [message.text for message in sim.sent] == [LOW_BALANCE]


def test_probe_reports_maker_model_signal_and_sim(connect: Connect) -> None:
    modem, _ = connect(manufacturer="Quectel", model="EC200T", rssi=20)
    info = modem.probe()
    assert (info.manufacturer, info.model) == ("Quectel", "EC200T")
    assert info.rssi == 20
    assert info.signal_dbm == -73
    assert info.sim_ready
    assert info.describe() == "Quectel EC200T, signal -73 dBm (excellent), SIM ready"


def test_probe_of_a_modem_without_signal(connect: Connect) -> None:
    modem, _ = connect(rssi=99)
    info = modem.probe()
    assert info.signal_dbm is None
    assert "no signal" in info.describe()


def test_a_bad_number_is_refused_before_the_modem_is_asked(connect: Connect) -> None:
    modem, sim = connect()
    with pytest.raises(ValueError, match=r"give digits, optionally starting with \+"):
        modem.send("138-0013-8000", LOW_BALANCE)
    assert sim.commands == []


def test_a_port_that_cannot_be_opened_is_named() -> None:
    modem = SmsModem("/dev/no-such-modem")
    with pytest.raises(SmsPortUnavailable, match="/dev/no-such-modem") as caught:
        modem.probe()
    assert isinstance(caught.value, PortUnavailable)
    assert isinstance(caught.value, SmsFailed)


def test_the_sim_refuses_a_pdu_whose_length_is_not_the_one_announced(connect: Connect) -> None:
    modem, sim = connect()
    [(pdu_hex, length)] = encode_submit(TENANT, LOW_BALANCE)
    with serial.Serial(modem.url, timeout=5) as port:
        port.write(b"ATE0\r")
        assert port.read_until(b"OK\r\n").endswith(b"OK\r\n")
        port.write(f"AT+CMGS={length - 1}\r".encode())
        assert port.read_until(b"> ").endswith(b"> ")
        port.write(pdu_hex.encode() + b"\x1a")
        assert port.read_until(b"304\r\n").endswith(b"+CMS ERROR: 304\r\n")
    assert sim.sent == []


def test_a_later_part_that_fails_says_the_earlier_parts_went_out(connect: Connect) -> None:
    modem, sim = connect(fail_with="+CMS ERROR: 42", fail_after=1)
    with pytest.raises(SmsFailed, match=r"part 2 of 2; the parts before it went out\)"):
        modem.send(TENANT, CHINESE * 2)
    assert sim.sent == []  # the tenant's phone never gets the whole message
