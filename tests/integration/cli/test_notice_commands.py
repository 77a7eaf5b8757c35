"""``main.py notice template`` shows and changes the wording of tenants' texts (refusing one
that cannot be filled in, audited), and ``main.py report notices`` lists what was written."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from app.demo.site import DEMO_PASSWORD, DemoSpec, seed_demo_site
from app.services.operators import login
from app.services.recharge import new_key, recharge
from app.services.settings import SMS_PORT, SMS_QUIET_HOURS, change_setting
from app.store.database import Database
from app.store.models import Account, AuditEvent, Meter
from app.vocabulary import PaymentMethod
from tests.support import run_python


@pytest.fixture
def site(db: Database) -> Database:
    seed_demo_site(db, DemoSpec(buildings=1, floors=1, rooms_per_floor=2))
    boss = login(db, "supervisor", DEMO_PASSWORD)
    with db.transaction() as session:
        change_setting(session, boss, SMS_PORT, "socket://127.0.0.1:9")
        change_setting(session, boss, SMS_QUIET_HOURS, "none")
        for account in session.scalars(select(Account)):
            account.phone = "138 0013 8000"
    return db


def main(db: Database, tmp_path: Path, *args: str):  # type: ignore[no-untyped-def]
    url = db.url.render_as_string(hide_password=False)
    return run_python(
        ["main.py", "--data-dir", str(tmp_path), "--db", url, *args],
        env={"METERDESK_PASSWORD": DEMO_PASSWORD},
    )


def test_templates_are_listed_changed_and_checked(site: Database, tmp_path: Path) -> None:
    listed = main(site, tmp_path, "notice", "template")
    assert listed.returncode == 0, listed.stderr
    assert len(listed.stdout.splitlines()) == 12  # six notices in two languages
    assert "recharge       zh  shipped" in listed.stdout
    changed = main(
        site,
        tmp_path,
        "notice",
        "template",
        "recharge",
        "--language",
        "zh",
        "--text",
        "已收到{amount}，余额{balance}",
        "--user",
        "supervisor",
    )
    assert changed.returncode == 0, changed.stderr
    assert "recharge       zh  site     已收到{amount}，余额{balance}" in changed.stdout
    bad = main(
        site, tmp_path, "notice", "template", "recharge", "--language", "en", "--text",
        "{power} used", "--user", "supervisor",
    )  # fmt: skip
    assert bad.returncode == 1
    assert "{power} is not something a recharge notice can fill in" in bad.stderr
    cashier = main(
        site, tmp_path, "notice", "template", "recharge", "--language", "en", "--off",
        "--user", "cashier",
    )  # fmt: skip
    assert cashier.returncode == 16
    half = main(site, tmp_path, "notice", "template", "recharge", "--off")
    assert half.returncode == 2
    assert "--language" in half.stderr
    with site.session() as session:
        [event] = session.scalars(select(AuditEvent).where(AuditEvent.action == "notice.template"))
    assert event.after == {"text": "已收到{amount}，余额{balance}"}


def test_the_notices_report_lists_what_was_written(site: Database, tmp_path: Path) -> None:
    cashier = login(site, "cashier", DEMO_PASSWORD)
    with site.session() as session:
        number = session.scalar(select(Account.number).order_by(Account.id).limit(1))
    assert number is not None
    recharge(site, cashier, number, "25.00", PaymentMethod.CASH, new_key())
    today = datetime.now(UTC).date().isoformat()
    done = main(
        site, tmp_path, "report", "notices", "--from", today, "--to", today, "--format", "csv",
        "--user", "supervisor",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    rows = list(csv.DictReader(io.StringIO(done.stdout.lstrip("\ufeff"))))
    [row] = [r for r in rows if r["Account"] == number]
    assert row["Phone"] == "13800138000"
    assert row["Notice"] == "recharge received"
    assert row["State"] == "queued"
    with site.session() as session:
        serial = session.scalar(
            select(Meter.serial)
            .join(Account, Account.id == Meter.account_id)
            .where(Account.number == number)
        )
    assert serial is not None
    by_meter = main(
        site, tmp_path, "report", "notices", "--from", today, "--to", today, "--format", "csv",
        "--meter", serial, "--user", "supervisor",
    )  # fmt: skip
    assert by_meter.returncode == 0, by_meter.stderr
    listed = csv.DictReader(io.StringIO(by_meter.stdout.lstrip("\ufeff")))
    assert [r["Account"] for r in listed if r["Account"]] == [number]  # not the totals row
    unknown = main(
        site, tmp_path, "report", "notices", "--from", today, "--to", today, "--meter", "NOPE",
        "--user", "supervisor",
    )  # fmt: skip
    assert unknown.returncode == 1
    assert "there is no meter NOPE" in unknown.stderr
