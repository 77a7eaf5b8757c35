"""Text messages to tenants, written where what they tell happens.

Each ``tell_*`` runs inside the transaction of its event (the recharge, the low-balance or cut-off
alarm, the verified restore, the load-guard trip) and queues one ``Notice`` for the account's
phone, in the site's language, worded from the site's template. So a notice is never lost (it
commits with its event) and never written twice (its ``key`` names the event: the receipt, the
alarm, the trip; a second write of the same key does nothing). The notice sender
(``app.runtime.notice_sender``) sends it. Nothing is queued while no modem is set, for an account
without a phone number a modem can dial, or for a kind the site turned off (an empty wording);
a notice written in quiet hours waits for their end.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, time
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.billing.money import Money
from app.billing.quiet_hours import parse_span, quiet_until
from app.hardware.sms.pdu import encode_address
from app.queries.site_facts import site_zone
from app.services.notice_templates import render, template_text
from app.services.settings import (
    NO_MODEM,
    SMS_BAUD,
    SMS_LANGUAGE,
    SMS_PORT,
    SMS_QUIET_HOURS,
    setting_values,
)
from app.store.bulk_rows import insert_missing
from app.store.models import Account, Alarm, Meter, Notice, Site
from app.vocabulary import DEFAULT_CURRENCY, AlarmKind, NoticeKind, NoticeState

_DIAL_NOISE = re.compile(r"[\s\-().]")
BALANCE_NOTICES = {
    AlarmKind.LOW_BALANCE_1: NoticeKind.LOW_BALANCE_1,
    AlarmKind.LOW_BALANCE_2: NoticeKind.LOW_BALANCE_2,
    AlarmKind.CUT_OFF: NoticeKind.CUT_OFF,
}


@dataclass(frozen=True)
class NoticeSetup:
    """What writing and sending notices needs from the site and its settings."""

    port: str | None  # None: no modem is set, nothing is queued or sent
    baud: int
    languages: tuple[str, ...]  # each language's text, in this order, in one message
    quiet: tuple[time, time] | None
    zone: ZoneInfo
    site: str
    currency: str

    def due_at(self, now: datetime) -> datetime:
        """When a notice written at ``now`` may go: now, or when quiet hours end."""
        local = now.astimezone(self.zone).replace(tzinfo=None)
        until = quiet_until(local, self.quiet)
        if until is None:
            return now
        return until.replace(tzinfo=self.zone).astimezone(UTC)


def notice_setup(session: Session) -> NoticeSetup:
    values = setting_values(session)
    site = session.scalars(select(Site).order_by(Site.id).limit(1)).first()
    port = str(values[SMS_PORT])
    return NoticeSetup(
        port=None if port == NO_MODEM else port,
        baud=int(str(values[SMS_BAUD])),
        languages=tuple(str(values[SMS_LANGUAGE]).split("+")),
        quiet=parse_span(str(values[SMS_QUIET_HOURS])),
        zone=site_zone(session) or ZoneInfo("UTC"),
        site="" if site is None else site.name,
        currency=DEFAULT_CURRENCY if site is None else site.currency,
    )


def dialable(phone: str) -> str | None:
    """The phone number as a modem dials it (spaces, dashes, brackets and dots taken out), or
    None when it is not one (empty, letters, too long)."""
    number = _DIAL_NOISE.sub("", phone)
    if not number:
        return None
    try:
        encode_address(number)
    except ValueError:
        return None
    return number


def queue_notice(
    session: Session,
    kind: NoticeKind,
    account: Account,
    key: str,
    now: datetime,
    *,
    alarm_id: int | None = None,
    values: dict[str, str] | None = None,
    amounts: dict[str, int] | None = None,
) -> None:
    """Queue a notice of ``kind`` to ``account``'s phone under ``key`` (once per key: a second
    write of the key does nothing). ``amounts`` are placeholders of money in minor units,
    shown in the site's currency."""
    setup = notice_setup(session)
    phone = dialable(account.phone)
    if setup.port is None or phone is None:
        return
    money = {
        name: Money(minor, setup.currency).display() for name, minor in (amounts or {}).items()
    }
    filled = {
        "site": setup.site,
        "account": account.number,
        "name": account.holder_name,
        "room": account.room.label if account.room is not None else account.number,
        "balance": Money(account.balance_minor, setup.currency).display(),
        "time": f"{now.astimezone(setup.zone):%m-%d %H:%M}",
        **(values or {}),
        **money,
    }
    texts = [render(template_text(session, kind, language), filled) for language in setup.languages]
    text = "\n".join(part for part in texts if part)
    if not text:
        return  # the site sends no notice of this kind
    insert_missing(
        session,
        Notice,
        [
            {
                "kind": kind,
                "account_id": account.id,
                "phone": phone,
                "language": "+".join(setup.languages),
                "text": text,
                "key": key[:80],
                "state": NoticeState.QUEUED,
                "attempts": 0,
                "created_at": now,
                "due_at": setup.due_at(now),
                "error": "",
                "alarm_id": alarm_id,
            }
        ],
        ["key"],
    )


def tell_alarm(session: Session, alarm: Alarm, now: datetime) -> None:
    """A low-balance or cut-off alarm just raised (flushed: it has its id)."""
    kind = BALANCE_NOTICES.get(AlarmKind(alarm.kind))
    if kind is None or alarm.account_id is None:
        return
    account = session.get_one(Account, alarm.account_id)
    queue_notice(session, kind, account, f"alarm:{alarm.id}", now, alarm_id=alarm.id)


def tell_recharge(
    session: Session, account: Account, amount_minor: int, receipt: int, now: datetime
) -> None:
    """A recharge just credited to ``account`` (its balance is the new one)."""
    queue_notice(
        session,
        NoticeKind.RECHARGE,
        account,
        f"recharge:{receipt}",
        now,
        values={"receipt": f"{receipt:08d}"},
        amounts={"amount": amount_minor},
    )


def tell_restored(session: Session, account_id: int, command_id: int, now: datetime) -> None:
    """A meter's supply came back after arrears (its read-back verified it). An account with
    several meters is told once per time it was cut off: the key names that cut-off alarm."""
    account = session.get_one(Account, account_id)
    cut = session.scalar(
        select(Alarm.id)
        .where(Alarm.account_id == account_id, Alarm.kind == AlarmKind.CUT_OFF)
        .order_by(Alarm.id.desc())
        .limit(1)
    )
    key = f"restored:{account_id}:{cut}" if cut is not None else f"restored:cmd:{command_id}"
    queue_notice(session, NoticeKind.RESTORED, account, key, now)


def tell_trip(session: Session, meter: Meter, trip_id: int, power_w: float, now: datetime) -> None:
    """The load guard cut ``meter``'s supply (trip ``trip_id``)."""
    if meter.account_id is None:
        return
    account = session.get_one(Account, meter.account_id)
    queue_notice(
        session,
        NoticeKind.LOAD_TRIP,
        account,
        f"trip:{trip_id}",
        now,
        values={"power": f"{power_w / 1000:.2f} kW"},
    )
