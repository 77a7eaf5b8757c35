"""The Setup screen's list of balance policies: each amount and the friendly hours as the
policy form shows them, and how many open accounts are on it."""

from __future__ import annotations

from app.queries.setup_lists import PolicyRow, list_policies
from app.services.setup_checks import in_transaction
from app.services.site_layout import add_building, add_room
from app.store.database import Database
from app.vocabulary import Role
from tests.integration.services.setup_support import open_in, store_policy, with_site

STAFF = """\
name = "Staff"
alarm_1 = "50.00"
alarm_2 = "10.00"
overdraft_limit = "30.00"
close_permit = "0.00"
hoard_limit = "2000.00"
friendly_dates = [2026-10-01]

[[friendly_hours]]
days = ["sat", "sun"]
from = "00:00"
to = "24:00"

[[friendly_hours]]
days = ["mon", "tue", "wed", "thu", "fri"]
from = "22:00"
to = "08:00"
"""


def test_each_policy_is_listed_as_its_form_shows_it(db: Database) -> None:
    who = with_site(db)
    store_policy(db, who[Role.ADMIN])  # Student dormitory: no hoard limit, no friendly hours
    store_policy(db, who[Role.ADMIN], STAFF)
    sup = who[Role.SUPERVISOR]
    in_transaction(db, add_building, sup, "Block 7")
    in_transaction(db, add_room, sup, "Block 7", 1, "101")
    open_in(db, who[Role.OFFICE], "7-101")
    rows = list_policies(db)
    assert [(r.name, r.accounts) for r in rows] == [("Staff", 0), ("Student dormitory", 1)]
    staff, student = rows
    assert staff == PolicyRow(
        staff.id,
        "Staff",
        "CNY",
        "50.00",
        "10.00",
        "30.00",
        "0.00",
        "2000.00",
        "sat,sun 00:00-24:00; mon-fri 22:00-08:00",  # in the order of the file
        0,
    )
    assert (student.hoard_limit, student.friendly_hours) == ("", "")
    assert (student.alarm_1, student.alarm_2, student.close_permit) == ("20.00", "5.00", "1.00")
