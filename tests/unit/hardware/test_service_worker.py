"""A service worker: the port opens before any thread starts, requests are served and logged,
nothing is polled."""

from __future__ import annotations

import threading
import time

import pytest

from app.hardware import service_worker
from app.hardware.bus_worker import BusMeter
from app.hardware.errors import PortUnavailable
from app.hardware.service_worker import open_service_worker
from app.hardware.simulator.faults import Answerer
from app.hardware.simulator.sim_line import SimLine, register_line, unregister_line
from app.hardware.simulator.sim_meter import SimMeter
from app.hardware.snapshot import Quality
from tests.unit.hardware.toy_protocol import SPEC, toy_profile


def test_a_port_that_cannot_be_opened_is_reported_before_any_thread_starts() -> None:
    before = threading.active_count()
    with pytest.raises(PortUnavailable, match="sim://nowhere"):
        open_service_worker("t", "sim://nowhere", toy_profile().line, [])
    assert threading.active_count() == before


def test_it_serves_requests_and_does_not_poll() -> None:
    profile = toy_profile()
    meter = SimMeter("7", profile, seed=1)
    register_line(SimLine("service-line", [Answerer(SPEC, {"7": meter}, seed=2)]))
    try:
        worker = open_service_worker(
            "t", "sim://service-line", profile.line, [BusMeter(0, "7", profile)]
        )
        try:
            time.sleep(0.3)
            assert worker.stats.frames_total == 0, "a service worker must not poll"
            snapshot = worker.read_now("7").result(timeout=10)
            assert snapshot.quality is Quality.GOOD
            assert snapshot.power_w is not None
            assert snapshot.relay_closed is True
            assert worker.stats.frames_total >= 2  # the request and its reply were logged
        finally:
            worker.stop()
        assert not worker.alive
    finally:
        unregister_line("service-line")


def test_opening_a_port_again_first_stops_the_worker_that_had_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    profile = toy_profile()
    register_line(SimLine("service-again", [Answerer(SPEC, {"7": SimMeter("7", profile)})]))
    try:
        first = open_service_worker("t", "sim://service-again", profile.line, [])
        second = open_service_worker("t", "sim://service-again", profile.line, [])
        assert not first.alive, "the port's last worker must have let go before it reopened"
        assert second.alive
        busy = threading.Event()
        second.call(lambda _link: (busy.set(), time.sleep(1.0)))
        assert busy.wait(5)
        monkeypatch.setattr(service_worker, "LET_GO_S", 0.05)
        with pytest.raises(PortUnavailable, match="still busy on it"):
            open_service_worker("t", "sim://service-again", profile.line, [])
        second.stop()
        assert not second.alive
        third = open_service_worker("t", "sim://service-again", profile.line, [])
        third.stop()
    finally:
        unregister_line("service-again")
