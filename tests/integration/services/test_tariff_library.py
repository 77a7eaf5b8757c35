"""Tariffs stored as dated versions: import rules, export by date, listing (SQLite, PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from app.billing.tariff import TariffFileError
from app.demo.site import DemoSpec, seed_demo_site
from app.services.tariff_library import (
    ImportOutcome,
    TariffImportRefused,
    TariffNotFound,
    export_tariff,
    import_tariff,
    list_plans,
)
from app.store.database import Database
from app.store.models import (
    Account,
    Meter,
    Operator,
    TariffPlan,
    TariffVersion,
    UsageCharge,
)

NAME = "Hostel electricity"
DORM = "Dormitory electricity"  # a plan of the demo site, version from 2026-09-01
SHANGHAI = ZoneInfo("Asia/Shanghai")


def tariff(
    effective: str = "2026-09-01",
    price: str = "0.5800",
    *,
    name: str = NAME,
    utility: str = "electricity",
    unit: str = "kWh",
    currency: str = "CNY",
) -> str:
    return (
        f'name = "{name}"\nutility = "{utility}"\nunit = "{unit}"\ncurrency = "{currency}"\n'
        f'effective_from = {effective}\nprice = "{price}"\n'
    )


def dorm_file(effective: str = "2026-09-01", price: str = "0.5800") -> str:
    return tariff(effective, price, name=DORM) + '\n[allowance]\nquantity = "15"\ncycle = "month"\n'


@pytest.fixture
def site(db: Database) -> Database:
    seed_demo_site(db, DemoSpec(buildings=1, floors=1, rooms_per_floor=2))
    return db


def stored_versions(db: Database, name: str = NAME) -> list[tuple[date, int, str]]:
    with db.session() as session:
        rows = session.execute(
            select(TariffVersion.effective_from, TariffVersion.revision, TariffVersion.source_toml)
            .join(TariffPlan)
            .where(TariffPlan.name == name)
            .order_by(TariffVersion.effective_from)
        )
        return [(day, revision, text) for day, revision, text in rows]


def price_usage(db: Database, plan_name: str, effective: date, end_local: datetime) -> None:
    """One usage charge priced with ``plan_name``'s version from ``effective``, ending then."""
    with db.transaction() as session:
        version = session.scalars(
            select(TariffVersion)
            .join(TariffPlan)
            .where(TariffPlan.name == plan_name, TariffVersion.effective_from == effective)
        ).one()
        account = session.scalars(select(Account).order_by(Account.id)).first()
        meter = session.scalars(select(Meter).order_by(Meter.id)).first()
        assert account is not None
        assert meter is not None
        end = end_local.replace(tzinfo=SHANGHAI).astimezone(UTC)
        session.add(
            UsageCharge(
                account_id=account.id,
                meter_id=meter.id,
                start_at=end - timedelta(minutes=15),
                end_at=end,
                quantity="0.25",
                tariff_version_id=version.id,
                kind="energy",
                unit_price="0.5800",
                amount_exact="0.1450",
            )
        )


def test_a_new_name_creates_the_plan_with_its_first_version(db: Database) -> None:
    with db.transaction() as session:
        result = import_tariff(session, tariff())
    assert (result.plan_name, result.effective_from) == (NAME, date(2026, 9, 1))
    assert (result.outcome, result.revision) == (ImportOutcome.CREATED, 1)
    with db.session() as session:
        [plan] = list_plans(session)
    assert (plan.name, plan.utility, plan.unit, plan.currency) == (
        NAME,
        "electricity",
        "kWh",
        "CNY",
    )
    assert [(v.effective_from, v.revision, v.usage_charges) for v in plan.versions] == [
        (date(2026, 9, 1), 1, 0)
    ]
    assert stored_versions(db) == [(date(2026, 9, 1), 1, tariff())]


def test_another_date_adds_a_version_and_the_same_file_again_changes_nothing(
    db: Database,
) -> None:
    with db.transaction() as session:
        import_tariff(session, tariff())
    with db.transaction() as session:
        added = import_tariff(session, tariff("2027-01-01", "0.6100"))
    assert (added.outcome, added.revision) == (ImportOutcome.NEW_VERSION, 1)
    with db.session() as session:
        created_at = session.scalars(select(TariffVersion.created_at)).all()
    with db.transaction() as session:
        again = import_tariff(session, tariff("2027-01-01", "0.6100"))
    assert (again.outcome, again.revision) == (ImportOutcome.UNCHANGED, 1)
    assert again.effective_from == date(2027, 1, 1)
    assert stored_versions(db) == [
        (date(2026, 9, 1), 1, tariff()),
        (date(2027, 1, 1), 1, tariff("2027-01-01", "0.6100")),
    ]
    with db.session() as session:
        assert session.scalars(select(TariffVersion.created_at)).all() == created_at
        assert session.scalar(select(func.count()).select_from(TariffPlan)) == 1


def test_other_text_for_an_unpriced_date_replaces_it_and_bumps_the_revision(site: Database) -> None:
    with site.session() as session:
        operator = session.scalars(select(Operator.id).where(Operator.username == "admin")).one()
    with site.transaction() as session:
        import_tariff(session, tariff())
    with site.transaction() as session:
        result = import_tariff(session, tariff(price="0.6000"), operator_id=operator)
    assert (result.outcome, result.revision) == (ImportOutcome.REVISED, 2)
    assert stored_versions(site) == [(date(2026, 9, 1), 2, tariff(price="0.6000"))]
    with site.session() as session:
        version = session.scalars(
            select(TariffVersion).join(TariffPlan).where(TariffPlan.name == NAME)
        ).one()
        assert version.created_by_id == operator
        assert export_tariff(session, NAME, at=date(2026, 9, 1)) == tariff(price="0.6000")


def test_other_text_for_a_date_with_priced_usage_is_refused(site: Database) -> None:
    price_usage(site, DORM, date(2026, 9, 1), datetime(2026, 9, 2, 8, 0))
    with pytest.raises(TariffImportRefused) as refused, site.transaction() as session:
        import_tariff(session, dorm_file(price="0.6000"))
    message = str(refused.value)
    assert f"'{DORM}' already has a version from 2026-09-01" in message
    assert "usage has been priced with it" in message
    assert "give the file a new effective_from" in message
    [(_, revision, text)] = stored_versions(site, DORM)
    assert revision == 1
    assert "0.5800" in text
    with site.transaction() as session:  # the stored text itself is still "already imported"
        assert import_tariff(session, text).outcome is ImportOutcome.UNCHANGED


def test_a_new_version_may_not_take_over_usage_already_priced(site: Database) -> None:
    price_usage(site, DORM, date(2026, 9, 1), datetime(2026, 10, 5, 12, 0))
    with pytest.raises(TariffImportRefused) as refused, site.transaction() as session:
        import_tariff(session, dorm_file("2026-10-01", "0.6000"))
    assert "Usage up to 2026-10-05 12:00 is already priced" in str(refused.value)
    assert "effective_from = 2026-10-06 or later" in str(refused.value)
    assert len(stored_versions(site, DORM)) == 1
    with site.transaction() as session:
        result = import_tariff(session, dorm_file("2026-10-06", "0.6000"))
    assert result.outcome is ImportOutcome.NEW_VERSION


def test_usage_ending_at_midnight_leaves_that_day_free_for_a_new_version(site: Database) -> None:
    price_usage(site, DORM, date(2026, 9, 1), datetime(2026, 10, 6, 0, 0))
    with site.transaction() as session:
        result = import_tariff(session, dorm_file("2026-10-06", "0.6000"))
    assert result.outcome is ImportOutcome.NEW_VERSION


@pytest.mark.parametrize(
    ("utility", "unit", "currency", "says"),
    [
        ("water", "m3", "CNY", "this file says water in m3 priced in CNY"),
        ("electricity", "kWh", "USD", "this file says electricity in kWh priced in USD"),
    ],
)
def test_a_plan_keeps_its_utility_unit_and_currency(
    db: Database, utility: str, unit: str, currency: str, says: str
) -> None:
    with db.transaction() as session:
        import_tariff(session, tariff())
    changed = tariff("2027-01-01", utility=utility, unit=unit, currency=currency)
    with pytest.raises(TariffImportRefused) as refused, db.transaction() as session:
        import_tariff(session, changed)
    assert f"'{NAME}' is electricity in kWh priced in CNY, but {says}" in str(refused.value)
    assert "keeps its utility, unit and currency" in str(refused.value)
    assert len(stored_versions(db)) == 1


def test_a_tariff_in_another_currency_than_the_site_is_refused(site: Database) -> None:
    with pytest.raises(TariffImportRefused, match="the site bills in CNY"), site.transaction() as s:
        import_tariff(s, tariff(currency="USD"))
    assert stored_versions(site) == []


def test_a_name_differing_only_in_letter_case_is_refused(site: Database) -> None:
    with pytest.raises(TariffImportRefused) as refused, site.transaction() as session:
        import_tariff(session, tariff("2027-01-01", name=DORM.upper()))
    assert f'write name = "{DORM}"' in str(refused.value)
    assert stored_versions(site, DORM.upper()) == []


def test_every_mistake_of_the_file_is_raised_and_nothing_is_written(db: Database) -> None:
    broken = tariff(price="0.58").replace('unit = "kWh"', 'unit = "m3"') + "colour = 1\n"
    with pytest.raises(TariffFileError) as mistakes, db.transaction() as session:
        import_tariff(session, broken, source="broken.toml")
    assert len(mistakes.value.problems) == 2
    assert all(line.startswith("broken.toml: ") for line in mistakes.value.problems)
    assert "'unit' is 'm3'" in mistakes.value.problems[0]
    assert "colour" in mistakes.value.problems[1]
    with db.session() as session:
        assert list_plans(session) == []


# Byte-exact text: comments, CRLF line ends, CJK, trailing blanks, no final newline.
FIRST = "# 学生宿舍电价 (first)\r\n" + tariff().replace("\n", "\r\n") + "   \r\n# end"
SECOND = "# second version\n" + tariff("2027-01-01", "0.6100") + "\n\n"


@pytest.mark.parametrize(
    ("at", "expected"),
    [
        (date(2026, 9, 1), FIRST),
        (date(2026, 12, 31), FIRST),
        (date(2027, 1, 1), SECOND),
        (date(2031, 6, 1), SECOND),
    ],
)
def test_export_gives_the_exact_text_in_force_on_the_date(
    db: Database, at: date, expected: str
) -> None:
    with db.transaction() as session:
        import_tariff(session, SECOND)
        import_tariff(session, FIRST)
    with db.session() as session:
        assert export_tariff(session, NAME, at=at) == expected


def test_export_before_the_first_version_or_of_an_unknown_plan_says_what_exists(
    db: Database,
) -> None:
    with db.session() as session, pytest.raises(TariffNotFound, match="no tariffs are stored"):
        export_tariff(session, NAME, at=date(2026, 9, 1))
    with db.transaction() as session:
        import_tariff(session, tariff())
    with db.session() as session:
        with pytest.raises(TariffNotFound) as early:
            export_tariff(session, NAME, at=date(2026, 8, 31))
        assert "no version in force on 2026-08-31: its first version starts 2026-09-01" in str(
            early.value
        )
        with pytest.raises(TariffNotFound, match=f"did you mean '{NAME}'"):
            export_tariff(session, NAME.lower())
        with pytest.raises(TariffNotFound, match=f"use one of the stored plans: '{NAME}'"):
            export_tariff(session, "Gas")


def test_export_and_list_default_to_today_at_the_site(site: Database) -> None:
    old, future = tariff("2000-01-01", "0.5000"), tariff("2999-01-01", "0.9000")
    with site.transaction() as session:
        import_tariff(session, old)
        import_tariff(session, future)
    with site.session() as session:
        assert export_tariff(session, NAME) == old
        plans = {plan.name: plan for plan in list_plans(session)}
    assert [v.in_force for v in plans[NAME].versions] == [True, False]


def test_list_counts_the_usage_priced_with_each_version(site: Database) -> None:
    with site.transaction() as session:
        import_tariff(session, dorm_file("2026-11-01", "0.6000"))
    price_usage(site, DORM, date(2026, 9, 1), datetime(2026, 9, 2, 8, 0))
    price_usage(site, DORM, date(2026, 9, 1), datetime(2026, 9, 3, 8, 0))
    price_usage(site, DORM, date(2026, 11, 1), datetime(2026, 11, 3, 8, 0))
    with site.session() as session:
        plans = {plan.name: plan for plan in list_plans(session)}
    assert list(plans) == sorted(plans, key=str.casefold)
    assert [(v.effective_from, v.usage_charges) for v in plans[DORM].versions] == [
        (date(2026, 9, 1), 2),
        (date(2026, 11, 1), 1),
    ]
