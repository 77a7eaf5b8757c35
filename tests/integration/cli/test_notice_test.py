"""``main.py notice test`` sends one message through the modem the settings name, over a real
pseudo-terminal to a simulated modem: Chinese text arrives exactly, the modem's maker, model
and signal are said, it is audited; no modem set, a bad number and a modem that says no are
messages with exit 1; a cashier may not."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from app.demo.site import DEMO_PASSWORD, DemoSpec, seed_demo_site
from app.hardware.sms.sim_modem import SimModem
from app.services.operators import login
from app.services.settings import (
    SMS_PORT,
    SMS_QUIET_HOURS,
    SettingRefused,
    change_setting,
    spec_of,
)
from app.store.database import Database
from app.store.models import AuditEvent
from tests.support import run_python, socat_pair

CHINESE = "您的电费余额不足10元，请及时充值。"


@pytest.fixture
def site(db: Database) -> Database:
    seed_demo_site(db, DemoSpec(buildings=1, floors=1, rooms_per_floor=1))
    return db


@pytest.fixture
def line() -> Iterator[tuple[str, str]]:
    """(the console's end, the modem's end) of a socat pty pair."""
    console, far_end, close = socat_pair()
    yield console, far_end
    close()


def set_port(db: Database, port: str) -> None:
    boss = login(db, "supervisor", DEMO_PASSWORD)
    with db.transaction() as session:
        change_setting(session, boss, SMS_PORT, port)


def notice(db: Database, tmp_path: Path, user: str, *extra: str):  # type: ignore[no-untyped-def]
    url = db.url.render_as_string(hide_password=False)
    return run_python(
        [
            "main.py",
            "--data-dir",
            str(tmp_path),
            "--db",
            url,
            "notice",
            "test",
            "--user",
            user,
            *extra,
        ],
        env={"METERDESK_PASSWORD": DEMO_PASSWORD},
    )


def test_a_chinese_message_reaches_the_modem(
    site: Database, line: tuple[str, str], tmp_path: Path
) -> None:
    console, far_end = line
    set_port(site, console)
    with SimModem(far_end, manufacturer="Quectel", model="EC200T", rssi=20) as modem:
        done = notice(site, tmp_path, "supervisor", "--to", "+8613800138000", "--text", CHINESE)
        assert done.returncode == 0, done.stderr
        [sent] = modem.sent
    assert (sent.to, sent.text) == ("+8613800138000", CHINESE)
    assert "Quectel EC200T" in done.stdout
    assert "sent to +8613800138000 in 1 part" in done.stdout
    with site.session() as session:
        event = session.scalars(select(AuditEvent).where(AuditEvent.action == "notice.test")).one()
    assert event.after is not None
    assert event.after["parts"] == 1


def test_refusals_say_what_to_do(site: Database, line: tuple[str, str], tmp_path: Path) -> None:
    console, far_end = line
    unset = notice(site, tmp_path, "supervisor", "--to", "+8613800138000", "--text", "hi")
    assert unset.returncode == 1
    assert "no SMS modem is set" in unset.stderr
    set_port(site, console)
    cashier = notice(site, tmp_path, "cashier", "--to", "+8613800138000", "--text", "hi")
    assert cashier.returncode != 0
    assert "may not" in cashier.stderr
    bad = notice(site, tmp_path, "supervisor", "--to", "call me", "--text", "hi")
    assert bad.returncode == 1
    assert "give digits" in bad.stderr
    with SimModem(far_end, fail_with="+CMS ERROR: 330") as modem:
        said_no = notice(site, tmp_path, "supervisor", "--to", "+8613800138000", "--text", "hi")
        assert modem.sent == []
    assert said_no.returncode == 1
    assert "330" in said_no.stderr
    assert "message centre" in said_no.stderr


def test_the_modem_settings_take_ports_and_quiet_hours() -> None:
    port, hours = spec_of(SMS_PORT), spec_of(SMS_QUIET_HOURS)
    assert port.parse("COM4", "CNY") == "COM4"
    assert port.parse("socket://10.0.0.7:4001", "CNY") == "socket://10.0.0.7:4001"
    assert port.parse(" None ", "CNY") == "none"
    with pytest.raises(SettingRefused, match="not a serial port"):
        port.parse("usb0", "CNY")
    assert hours.parse("22:00 - 07:30", "CNY") == "22:00-07:30"
    with pytest.raises(SettingRefused, match="like 22:00-07:00"):
        hours.parse("10pm-7am", "CNY")
    assert not hours.usable("25:00-07:00")
