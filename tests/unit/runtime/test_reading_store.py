"""Storing readings: one per interval, implausible registers held and never billed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from app.hardware.snapshot import Quality, Snapshot
from app.runtime import reading_store
from app.runtime.reading_store import MeterTrack, ReadingStore, max_units, units_of
from app.services.usage_days import UsagePair
from app.store.models import Alarm, IntervalReading
from app.vocabulary import ReadingQuality, Utility

T0 = datetime(2026, 11, 27, 10, 0, 10, tzinfo=UTC)


class FakeConnection:
    """What ``bulk_rows`` asks of the session's connection: its dialect (batched INSERT here)."""

    class dialect:  # noqa: N801 - as SQLAlchemy spells it
        name = "sqlite"


class FakeSession:
    def __init__(self) -> None:
        self.added: list[object] = []
        self.updates: list[object] = []

    def connection(self) -> FakeConnection:
        return FakeConnection()

    def add(self, obj: object) -> None:
        self.added.append(obj)

    def execute(self, statement: object, rows: object = None) -> None:
        self.updates.append(rows)


def snap(kwh: float | None, at: datetime, quality: Quality = Quality.GOOD) -> Snapshot:
    return Snapshot(1, "1", at.timestamp(), at, quality, energy_import_kwh=kwh, relay_closed=True)


@pytest.fixture(autouse=True)
def rollup(monkeypatch: pytest.MonkeyPatch) -> list[UsagePair]:
    """The usage pairs the store hands to the daily rollup (which needs a real database: the
    integration tests of usage_days cover it)."""
    handed: list[UsagePair] = []

    def add_pairs(_session: object, pairs: list[UsagePair]) -> int:
        handed.extend(pairs)
        return len(pairs)

    monkeypatch.setattr(reading_store, "add_pairs", add_pairs)
    return handed


@pytest.fixture
def store() -> ReadingStore:
    store = ReadingStore(interval_s=900)
    store.tracks[1] = MeterTrack(1, Utility.ELECTRICITY, rated_current_a=40)
    return store


def readings(session: FakeSession) -> list[IntervalReading]:
    return [o for o in session.added if isinstance(o, IntervalReading)]


def test_one_reading_per_interval_and_usage_between_polls(
    store: ReadingStore, rollup: list[UsagePair]
) -> None:
    session = FakeSession()
    first = store.store(session, [snap(100.000, T0)])  # type: ignore[arg-type]
    second = store.store(session, [snap(100.050, T0 + timedelta(seconds=60))])  # type: ignore[arg-type]
    third = store.store(session, [snap(100.400, T0 + timedelta(minutes=16))])  # type: ignore[arg-type]
    assert (first.readings, second.readings, third.readings) == (1, 0, 1)
    assert second.usage_units == {1: 50}
    assert third.usage_units == {1: 350}
    assert [r.units for r in first.stored + third.stored] == [100_000, 100_400]
    inserted = [rows for rows in session.updates if rows and "register_units" in rows[0]]  # type: ignore[index]
    assert [row["register_units"] for rows in inserted for row in rows] == [100_000, 100_400]  # type: ignore[attr-defined]
    # The stored readings' usage goes to the daily rollup: the first has nothing before it.
    assert [(p.start_units, p.end_units) for p in rollup] == [(100_000, 100_400)]
    assert first.seen == 1


def test_a_register_that_goes_backwards_is_held_with_an_alarm(store: ReadingStore) -> None:
    session = FakeSession()
    store.store(session, [snap(100.0, T0)])  # type: ignore[arg-type]
    result = store.store(session, [snap(99.0, T0 + timedelta(seconds=30))])  # type: ignore[arg-type]
    assert result.held == 1
    assert not result.usage_units
    held = readings(session)[-1]
    assert held.quality is ReadingQuality.HELD
    alarm = next(o for o in session.added if isinstance(o, Alarm))
    assert "went backwards" in alarm.message
    # The register to bill from stays the last good one.
    after = store.store(session, [snap(100.1, T0 + timedelta(seconds=60))])  # type: ignore[arg-type]
    assert after.usage_units == {1: 100}


def test_a_jump_beyond_the_rating_is_held(store: ReadingStore) -> None:
    session = FakeSession()
    store.store(session, [snap(100.0, T0)])  # type: ignore[arg-type]
    # 40 A at 230 V is 9.2 kW: 10 kWh in one minute is impossible.
    result = store.store(session, [snap(110.0, T0 + timedelta(seconds=60))])  # type: ignore[arg-type]
    assert result.held == 1
    assert not result.usage_units


def test_failed_polls_and_missing_registers_store_nothing(store: ReadingStore) -> None:
    session = FakeSession()
    result = store.store(session, [snap(None, T0), snap(5.0, T0, Quality.FAILED)])  # type: ignore[arg-type]
    assert result.readings == 0
    assert not readings(session)


def test_units_and_limits() -> None:
    at = T0
    water = Snapshot(2, "2", 0, at, Quality.GOOD, volume_m3=12.3456)
    assert units_of(water, Utility.WATER) == 12_346  # litres
    assert units_of(snap(1.23, at), Utility.ELECTRICITY) == 1_230  # Wh
    track = MeterTrack(1, Utility.ELECTRICITY, 10)
    assert max_units(track, 3600) == pytest.approx(1.25 * 2300 + 1)


def test_rate_registers_are_packed_and_read_back_in_both_stored_forms() -> None:
    from app.runtime.reading_store import pack_rates, unpack_rates

    rates = {"rate_2": 401000, "rate_4": 301000}
    assert pack_rates(rates) == [None, 401000, None, 301000]
    assert unpack_rates(pack_rates(rates)) == rates
    assert unpack_rates({"rate_2": 401000, "rate_4": 301000}) == rates  # rows of 0.1
    assert unpack_rates(None) is None
    assert pack_rates({}) is None
