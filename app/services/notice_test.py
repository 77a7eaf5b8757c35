"""``main.py notice test``: one text message through the site's GSM modem, to check the modem
before tenants are texted (``sms_port``, ``sms_baud`` settings). Whoever may change the site's
settings may send it; it is audited (``notice.test``: to whom, how many parts, the network's
references). The modem's maker, model, signal and SIM state come back with what it answered."""

from __future__ import annotations

from dataclasses import dataclass

from app.hardware.sms.modem import ModemInfo, SendResult, SmsModem
from app.hardware.sms.pdu import encode_submit
from app.services.audit import record_audit
from app.services.operators import SignedIn
from app.services.permissions import Action
from app.services.settings import NO_MODEM, SMS_BAUD, SMS_PORT, setting_values
from app.store.database import Database


class NoModem(ValueError):
    """No modem is set; the message says how to set one."""


@dataclass(frozen=True)
class TestSent:
    port: str
    info: ModemInfo
    result: SendResult


def modem_port(db: Database) -> tuple[str, int]:
    """The modem's port and baud rate as the settings say; NoModem when none is set."""
    with db.session() as session:
        values = setting_values(session)
    port = str(values[SMS_PORT])
    if port == NO_MODEM:
        raise NoModem(
            "no SMS modem is set: give its port with 'main.py setting set sms_port /dev/ttyUSB1 "
            "--user NAME' (and sms_baud if it is not 115200)"
        )
    return port, int(str(values[SMS_BAUD]))


def send_test_text(
    db: Database, who: SignedIn, to: str, text: str, *, timeout_s: float = 5.0
) -> TestSent:
    """Probe the modem and send ``text`` to ``to``. Raises PermissionDenied, NoModem,
    ValueError (a bad number or text, before the modem is touched) or SmsFailed (what the
    modem answered and what to check)."""
    who.require(Action.CHANGE_POLICY)
    port, baud = modem_port(db)
    encode_submit(to, text)  # a bad number or a text too long is refused before the port opens
    with SmsModem(port, baudrate=baud, timeout_s=timeout_s) as modem:
        info = modem.probe()
        result = modem.send(to, text)
    with db.transaction() as session:
        record_audit(
            session,
            who,
            "notice.test",
            "phone",
            to[-40:],
            None,
            {"parts": result.parts, "references": list(result.references), "port": port},
        )
    return TestSent(port, info, result)
