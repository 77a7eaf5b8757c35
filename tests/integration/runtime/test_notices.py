"""Tenants' text messages: written with what they tell (a recharge, a low balance, a cut, a
restore, a load trip), sent once through a simulated GSM modem on a real pty pair, retried
with a bound when the network refuses, held in quiet hours, dropped when no longer true,
never sent twice after a stop mid-send, and a failing modem is an alarm, not a stop."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select, update

from app.demo.site import DEMO_PASSWORD, DemoSpec, seed_demo_site
from app.hardware.sms.modem import SmsModem
from app.hardware.sms.sim_modem import SimModem
from app.runtime.notice_sender import INTERRUPTED, MAX_ATTEMPTS, NoticeSender
from app.runtime.supply_control import Route, SupplyControl
from app.services.notice_templates import TemplateRefused, set_template
from app.services.notices import dialable
from app.services.operators import login
from app.services.recharge import new_key, recharge
from app.services.settings import SMS_LANGUAGE, SMS_PORT, SMS_QUIET_HOURS, change_setting
from app.store.database import Database
from app.store.models import Account, Alarm, Notice
from app.vocabulary import AlarmKind, AlarmState, NoticeKind, NoticeState, PaymentMethod
from tests.support import socat_pair

PHONE = "+8613800138000"


class Clock:
    def __init__(self, at: datetime) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at


@pytest.fixture
def line() -> Iterator[tuple[str, str]]:
    console, far_end, close = socat_pair()
    yield console, far_end
    close()


@pytest.fixture
def site(db: Database, line: tuple[str, str]) -> Database:
    """A one-room demo site whose modem is the console's end of the pty pair, texts any time."""
    seed_demo_site(db, DemoSpec(buildings=1, floors=1, rooms_per_floor=2))
    setting(db, SMS_PORT, line[0])
    setting(db, SMS_QUIET_HOURS, "none")
    with db.transaction() as session:
        for account in session.scalars(select(Account)):
            account.phone = PHONE if account.id == first_account(session) else ""
    return db


def first_account(session) -> int:  # type: ignore[no-untyped-def]
    return int(session.scalar(select(Account.id).order_by(Account.id).limit(1)))


def setting(db: Database, key: str, value: str) -> None:
    boss = login(db, "supervisor", DEMO_PASSWORD)
    with db.transaction() as session:
        change_setting(session, boss, key, value)


def account_number(db: Database) -> str:
    with db.session() as session:
        return str(session.scalar(select(Account.number).order_by(Account.id).limit(1)))


def pay(db: Database, amount: str = "50.00", key: str | None = None) -> int:
    cashier = login(db, "cashier", DEMO_PASSWORD)
    done = recharge(db, cashier, account_number(db), amount, PaymentMethod.CASH, key or new_key())
    return done.receipt_number


def notices(db: Database) -> list[Notice]:
    with db.session() as session:
        return list(session.scalars(select(Notice).order_by(Notice.id)))


def sender(db: Database, clock: Clock) -> NoticeSender:
    """A sender on ``clock`` whose modem waits 0.5 s for an answer (a silent one is found out
    fast; the simulated one answers at once)."""
    return NoticeSender(
        db, lambda: True, clock=clock, modem=lambda port, baud: SmsModem(port, timeout_s=0.5)
    )


def test_a_recharge_is_texted_once_with_its_amount_and_balance(
    site: Database, line: tuple[str, str]
) -> None:
    key = new_key()
    receipt = pay(site, "50.00", key)
    pay(site, "50.00", key)  # the same recharge again (a double click): no second notice
    [notice] = notices(site)
    assert notice.kind is NoticeKind.RECHARGE
    assert notice.phone == PHONE
    assert "¥50.00 received" in notice.text
    assert f"receipt {receipt:08d}" in notice.text
    with site.session() as session:
        balance = session.get_one(Account, notice.account_id).balance_minor
    assert f"Balance ¥{balance // 100:,}.{balance % 100:02d}" in notice.text
    clock = Clock(datetime.now(UTC))
    with SimModem(line[1]) as modem:
        outcome = sender(site, clock).run_once()
        assert outcome.sent == 1
        [sent] = modem.sent
    assert (sent.to, sent.text) == (PHONE, notice.text)
    [after] = notices(site)
    assert after.state is NoticeState.SENT
    assert after.references == list(sent.references)
    assert after.attempts == 1
    with SimModem(line[1]) as modem:  # a later round sends nothing more
        assert sender(site, clock).run_once().sent == 0
        assert modem.sent == []


def test_nothing_is_queued_without_a_modem_or_a_usable_phone(site: Database) -> None:
    setting(site, SMS_PORT, "none")
    pay(site)
    assert notices(site) == []
    setting(site, SMS_PORT, "socket://127.0.0.1:9")
    with site.transaction() as session:
        session.get_one(Account, first_account(session)).phone = "ask the warden"
    pay(site)
    assert notices(site) == []
    assert dialable("138-0013 (8000)") == "13800138000"
    assert dialable("") is None


def test_chinese_wording_and_a_site_wording(site: Database, line: tuple[str, str]) -> None:
    setting(site, SMS_LANGUAGE, "zh")
    pay(site, "20.00")
    boss = login(site, "supervisor", DEMO_PASSWORD)
    set_template(site, boss, "recharge", "zh", "收到{amount}，余额{balance}。{site}")
    pay(site, "30.00")
    first, second = notices(site)
    assert "充值¥20.00" in first.text
    assert second.text.startswith("收到¥30.00，余额")
    with SimModem(line[1]) as modem:
        assert sender(site, Clock(datetime.now(UTC))).run_once().sent == 2
        assert [m.text for m in modem.sent] == [first.text, second.text]
    set_template(site, boss, "recharge", "zh", "")  # the site turns recharge texts off
    pay(site, "10.00")
    assert len(notices(site)) == 2
    with pytest.raises(TemplateRefused, match=r"\{power\} is not something a recharge"):
        set_template(site, boss, "recharge", "en", "{power} used")
    with pytest.raises(TemplateRefused, match="does not close"):
        set_template(site, boss, "recharge", "en", "balance {balance")


def test_quiet_hours_hold_a_notice_until_they_end(site: Database, line: tuple[str, str]) -> None:
    setting(site, SMS_QUIET_HOURS, "22:00-07:00")
    zone = ZoneInfo("Asia/Shanghai")
    with site.session() as session:
        from app.queries.site_facts import site_zone

        zone = site_zone(session) or zone
    pay(site)
    [notice] = notices(site)
    created = notice.created_at.astimezone(zone)
    in_quiet = created.hour >= 22 or created.hour < 7
    if in_quiet:
        assert notice.due_at.astimezone(zone).strftime("%H:%M") == "07:00"
    else:
        assert notice.due_at == notice.created_at
    night = datetime(2026, 12, 8, 23, 30, tzinfo=zone)
    with site.transaction() as session:  # due now, but the sender's clock says 23:30
        session.execute(update(Notice).values(due_at=night - timedelta(hours=1)))
    with SimModem(line[1]) as modem:
        assert sender(site, Clock(night.astimezone(UTC))).run_once().sent == 0
        morning = datetime(2026, 12, 9, 7, 0, tzinfo=zone)
        assert sender(site, Clock(morning.astimezone(UTC))).run_once().sent == 1
        assert len(modem.sent) == 1


def test_a_refused_message_is_retried_with_a_bound(site: Database, line: tuple[str, str]) -> None:
    pay(site)
    clock = Clock(datetime.now(UTC))
    with SimModem(line[1], fail_with="+CMS ERROR: 21") as modem:
        for attempt in range(1, MAX_ATTEMPTS + 1):
            outcome = sender(site, clock).run_once()
            [notice] = notices(site)
            assert notice.attempts == attempt
            if attempt < MAX_ATTEMPTS:
                assert outcome.retried == 1
                assert notice.state is NoticeState.QUEUED
                assert notice.due_at > clock.at
                assert sender(site, clock).run_once().retried == 0  # not before its time
                clock.at = notice.due_at
            else:
                assert outcome.failed == 1
                assert notice.state is NoticeState.FAILED
                assert "after 3 attempts" in notice.error
                assert "rejected by the network" in notice.error
        assert modem.sent == []
    clock.at += timedelta(hours=1)
    with SimModem(line[1]) as modem:
        assert sender(site, clock).run_once().sent == 0  # given up: never sent
        assert modem.sent == []


def test_a_dead_modem_is_an_alarm_and_the_notices_wait(
    site: Database, line: tuple[str, str]
) -> None:
    pay(site)
    clock = Clock(datetime.now(UTC))
    with SimModem(line[1], silent=True):
        outcome = sender(site, clock).run_once()
    assert "did not answer AT" in outcome.modem_error
    [notice] = notices(site)
    assert (notice.state, notice.attempts) == (NoticeState.QUEUED, 0)
    with site.session() as session:
        [alarm] = session.scalars(select(Alarm).where(Alarm.kind == AlarmKind.MODEM_FAILED))
        assert alarm.state is not AlarmState.CLEARED
        assert line[0] in alarm.message
    with SimModem(line[1]) as modem:
        assert sender(site, clock).run_once().sent == 1
        assert len(modem.sent) == 1
    with site.session() as session:
        alarm = session.scalars(select(Alarm).where(Alarm.kind == AlarmKind.MODEM_FAILED)).one()
        assert alarm.state is AlarmState.CLEARED


def test_a_notice_cut_short_by_a_stop_is_never_sent_again(
    site: Database, line: tuple[str, str]
) -> None:
    pay(site)
    with site.transaction() as session:  # the PC stopped after marking it, before the modem
        session.execute(update(Notice).values(state=NoticeState.SENDING, attempts=1))
    with SimModem(line[1]) as modem:
        assert sender(site, Clock(datetime.now(UTC))).run_once().sent == 0
        assert modem.sent == []
    [notice] = notices(site)
    assert (notice.state, notice.error) == (NoticeState.FAILED, INTERRUPTED)


def test_low_balance_and_cut_off_are_told_and_a_cleared_warning_is_dropped(
    site: Database, line: tuple[str, str]
) -> None:
    control = SupplyControl(lambda meter_id, on, command_id: Route.QUEUED)
    now = datetime.now(UTC)
    with site.transaction() as session:
        account = session.get_one(Account, first_account(session))
        account.balance_minor = 300  # below the demo policy's second warning
        account_id = account.id
        control.evaluate(session, [account_id], now)
    kinds = {n.kind for n in notices(site)}
    assert NoticeKind.LOW_BALANCE_2 in kinds
    with site.transaction() as session:
        session.get_one(Account, account_id).balance_minor = -500
        control.evaluate(session, [account_id], now)
    cut = [n for n in notices(site) if n.kind is NoticeKind.CUT_OFF]
    assert len(cut) == 1
    assert "cut off" in cut[0].text
    pay(site, "100.00")  # back above every warning before the texts went
    with site.transaction() as session:
        control.evaluate(session, [account_id], datetime.now(UTC))
    with SimModem(line[1]) as modem:
        outcome = sender(site, Clock(datetime.now(UTC))).run_once()
        texts = [m.text for m in modem.sent]
    assert outcome.dropped >= 2  # the low-balance and cut-off warnings cleared
    [text] = texts  # only the recharge went
    assert "received" in text
    by_kind = {n.kind: n for n in notices(site)}
    assert by_kind[NoticeKind.CUT_OFF].state is NoticeState.DROPPED
    assert "no longer true" in by_kind[NoticeKind.CUT_OFF].error
