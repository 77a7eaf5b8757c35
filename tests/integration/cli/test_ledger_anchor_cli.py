"""``main.py ledger verify --anchor N:HEX``: a head printed on paper is found in the trail, a
trail cut short before it is named, and an anchor that is not one is refused (exit 2)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import delete, update

from app.demo.site import DemoSpec, seed_demo_site
from app.services.counters import AUDIT
from app.services.recharge import new_key, recharge
from app.store.database import Database, sqlite_url_for
from app.store.migrate import upgrade
from app.store.models import AuditEvent, Counter
from app.vocabulary import PaymentMethod, Role
from tests.integration.cli.cli_support import run_in_process as run
from tests.integration.services.counter_support import account, who


def paid_site(folder: Path) -> Database:
    folder.mkdir()
    db = Database(sqlite_url_for(folder))
    upgrade(db)
    seed_demo_site(db, DemoSpec(buildings=1, floors=1, rooms_per_floor=3))
    for amount in ("10.00", "20.00"):
        cashier = who(db, Role.CASHIER)
        recharge(db, cashier, account(db).number, amount, PaymentMethod.CASH, new_key())
    return db


def test_an_anchor_is_found_then_named_when_the_trail_is_cut_before_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = paid_site(tmp_path / "site")
    place = ["--data-dir", str(tmp_path / "site")]
    code, out, err = run(capsys, "ledger", "verify", *place, "--json")
    assert code == 0, err
    head = json.loads(out)["audit_head"]
    assert json.loads(out)["sealed_from"] == 1
    code, out, err = run(capsys, "ledger", "verify", *place, "--anchor", head)
    assert code == 0, err
    assert f"Audit head {head}; sealed with the site's key from event 1" in out
    assert "1 anchor(s) found in the trail" in out
    number = int(head.split(":")[0])
    with db.transaction() as session:  # the last event removed and its counter set back
        session.execute(delete(AuditEvent).where(AuditEvent.id == number))
        session.execute(update(Counter).where(Counter.name == AUDIT).values(value=number - 1))
    db.dispose()
    code, out, err = run(capsys, "ledger", "verify", *place, "--anchor", head)
    assert code == 1
    assert f"anchor: anchor {head} names audit event {number}, which is no longer" in out


@pytest.mark.parametrize("anchor", ["57", "x:3fa09c1d2e4b", "0:3fa09c1d2e4b", "5:3fa0", "5:zzzzzz"])
def test_an_anchor_that_is_not_one_is_refused(
    anchor: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _out, err = run(
        capsys, "ledger", "verify", "--data-dir", str(tmp_path), "--anchor", anchor
    )
    assert code == 2
    assert "is not an anchor; give it as printed, e.g. 57:3fa09c1d2e4b" in err
    assert "Traceback" not in err
