"""A service worker: the port opens before any thread starts, requests are served and logged,
nothing is polled."""

from __future__ import annotations

import threading
import time

import pytest

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
