"""The site itself: an administrator sets it up once and changes it; every detail is checked and
a refusal names the field and writes nothing; the currency is fixed once money has moved; on
SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from app.services.permissions import PermissionDenied
from app.services.setup_checks import in_transaction
from app.services.site_import import import_workbook
from app.services.site_setup import (
    SiteDetails,
    change_site,
    currencies,
    init_site,
    site_details,
    time_zones,
)
from app.store.database import Database
from app.vocabulary import Role
from tests.integration.services.setup_support import (
    BACKENDS,
    SITE,
    STUDENT,
    Shared,
    audit_actions,
    last_event,
    refused,
    shared_site,
    snapshot,
    staff,
    store_policy,
    store_tariff,
    with_site,
    workbook,
)


def test_an_administrator_sets_up_the_site_once(db: Database) -> None:
    who = staff(db)
    assert site_details(db) is None
    done = in_transaction(
        db,
        init_site,
        who[Role.ADMIN],
        SiteDetails(
            "  North   Dormitories ",
            " Asia/Shanghai ",
            " cny ",
            "  1 College  Road ",
            " Office 8:00-17:00 \n  Tel  0571 ",
        ),
    )
    expected = SiteDetails(
        "North Dormitories", "Asia/Shanghai", "CNY", "1 College Road", "Office 8:00-17:00\nTel 0571"
    )
    assert done == expected
    assert site_details(db) == expected
    event = last_event(db)
    assert (event.action, event.operator_id, event.before) == (
        "site.init",
        who[Role.ADMIN].operator_id,
        None,
    )
    assert event.after == {
        "name": "North Dormitories",
        "timezone": "Asia/Shanghai",
        "currency": "CNY",
        "address": "1 College Road",
        "receipt_header": "Office 8:00-17:00\nTel 0571",
    }
    again = refused(db, init_site, who[Role.ADMIN], SiteDetails("Other", "UTC", "EUR"))
    assert again.field == "name"
    assert "already holds the site 'North Dormitories'" in str(again)
    assert site_details(db) == expected


@pytest.fixture(scope="module", params=BACKENDS)
def bare(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Shared]:
    """Operators and no site yet, shared by the refusals of this module."""
    yield from shared_site(request, tmp_path_factory, staff)


@pytest.fixture(scope="module", params=BACKENDS)
def sited(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Shared]:
    """Operators and the site, shared by the refusals of this module."""
    yield from shared_site(request, tmp_path_factory, with_site)


NOT_ADMIN = [Role.CASHIER, Role.OFFICE, Role.SUPERVISOR, Role.TECHNICIAN]


@pytest.mark.parametrize("role", NOT_ADMIN)
def test_only_an_administrator_sets_up_the_site(bare: Shared, role: Role) -> None:
    before = snapshot(bare.db)
    with pytest.raises(PermissionDenied) as denied:
        in_transaction(bare.db, init_site, bare.who[role], SITE)
    assert str(denied.value).endswith(
        "may not change the site's name, address, time zone, currency and receipt header; "
        "ask an administrator to do it."
    )
    assert snapshot(bare.db) == before


@pytest.mark.parametrize("role", NOT_ADMIN)
def test_only_an_administrator_changes_the_site(sited: Shared, role: Role) -> None:
    before = snapshot(sited.db)
    with pytest.raises(PermissionDenied, match="ask an administrator to do it"):
        in_transaction(sited.db, change_site, sited.who[role], name="Mine now")
    assert snapshot(sited.db) == before


BAD_DETAILS = [
    (SiteDetails("  ", "Asia/Shanghai", "CNY"), "name", "The site name is empty"),
    (SiteDetails("x" * 121, "Asia/Shanghai", "CNY"), "name", "shorten it to 120"),
    (SiteDetails("North", "Mars/Olympus", "CNY"), "timezone", "'Mars/Olympus' is not a time"),
    (SiteDetails("North", "", "CNY"), "timezone", "give an IANA name"),
    (SiteDetails("North", "Asia/Shanghai", "XYZ"), "currency", "use one of CNY, EUR"),
    (SiteDetails("North", "Asia/Shanghai", "CNY", "a" * 301), "address", "to 300 at most"),
    (
        SiteDetails("North", "Asia/Shanghai", "CNY", receipt_header="1\n2\n3\n4\n5"),
        "receipt_header",
        "has 5 lines; a receipt prints 4 at most",
    ),
    (
        SiteDetails("North", "Asia/Shanghai", "CNY", receipt_header="h" * 301),
        "receipt_header",
        "to 300 at most",
    ),
]


@pytest.mark.parametrize(("details", "field", "says"), BAD_DETAILS)
def test_bad_site_details_are_refused_naming_the_field(
    bare: Shared, details: SiteDetails, field: str, says: str
) -> None:
    problem = refused(bare.db, init_site, bare.who[Role.ADMIN], details)
    assert problem.field == field
    assert says in str(problem)
    assert site_details(bare.db) is None


@pytest.mark.parametrize(("details", "field", "says"), BAD_DETAILS)
def test_bad_site_changes_are_refused_naming_the_field(
    sited: Shared, details: SiteDetails, field: str, says: str
) -> None:
    changes = {
        name: getattr(details, name)
        for name in ("name", "timezone", "currency", "address", "receipt_header")
        if getattr(details, name) != getattr(SITE, name)
    }
    problem = refused(sited.db, change_site, sited.who[Role.ADMIN], **changes)
    assert problem.field == field
    assert says in str(problem)
    assert site_details(sited.db) == SITE


def test_a_change_is_audited_with_before_and_after_and_no_change_writes_nothing(
    db: Database,
) -> None:
    admin = staff(db)[Role.ADMIN]
    no_site = refused(db, change_site, admin, name="North")
    assert (no_site.field, str(no_site)) == (
        "name",
        "There is no site yet; set it up first ('main.py site init').",
    )
    in_transaction(db, init_site, admin, SITE)
    changed = in_transaction(
        db, change_site, admin, timezone="Europe/Berlin", receipt_header="Welcome"
    )
    assert changed == SiteDetails(SITE.name, "Europe/Berlin", "CNY", "", "Welcome")
    event = last_event(db)
    assert event.action == "site.change"
    assert event.before is not None
    assert event.after is not None
    assert (event.before["timezone"], event.after["timezone"]) == ("Asia/Shanghai", "Europe/Berlin")
    assert (event.before["receipt_header"], event.after["receipt_header"]) == ("", "Welcome")
    before = snapshot(db)
    in_transaction(db, change_site, admin, name=f"  {SITE.name} ", timezone="Europe/Berlin")
    assert snapshot(db) == before  # the same values again: no event
    unknown = refused(db, change_site, admin, colour="blue")
    assert (unknown.field, str(unknown)) == ("colour", "There is no site detail 'colour'.")


def test_the_currency_may_change_until_a_tariff_is_stored(db: Database) -> None:
    admin = with_site(db)[Role.ADMIN]
    assert in_transaction(db, change_site, admin, currency="eur").currency == "EUR"
    in_transaction(db, change_site, admin, currency="CNY")
    store_tariff(db, admin)
    fixed = refused(db, change_site, admin, currency="EUR")
    assert fixed.field == "currency"
    assert str(fixed).startswith("The currency stays CNY: money has moved or tariffs are stored")
    assert in_transaction(db, change_site, admin, name="Still mine").currency == "CNY"


def test_the_currency_is_fixed_once_money_has_moved(db: Database) -> None:
    who = with_site(db)
    admin = who[Role.ADMIN]
    store_policy(db, admin)
    assert in_transaction(db, change_site, admin, currency="EUR").currency == "EUR"
    book = workbook(
        rooms=[{"building": "Block 7", "floor": "1", "room": "101"}],
        tenants=[
            {"room": "7-101", "holder": "Li Wei", "policy": STUDENT, "opening_balance": "25.00"}
        ],
    )
    import_workbook(db, admin, book, source="one.csv", digest="0" * 64)
    assert "site.import" in audit_actions(db)
    fixed = refused(db, change_site, admin, currency="CNY")
    assert fixed.field == "currency"
    assert str(fixed).startswith("The currency stays EUR")
    assert "every amount in the database is in its minor units" in str(fixed)


def test_the_choice_lists_hold_what_the_checks_take() -> None:
    assert {"CNY", "EUR", "USD", "JPY"} <= set(currencies())
    assert list(currencies()) == sorted(currencies())
    zones = time_zones()
    assert {"Asia/Shanghai", "Europe/Berlin", "UTC"} <= set(zones)
    assert "Mars/Olympus" not in zones
