"""The simulated lines of a demo or ``--simulate`` site: a meter whose profile cannot be loaded
is left out (the bus worker names it as a problem) and the other meters of its line answer."""

from __future__ import annotations

import uuid

import pytest

from app.runtime.sim_site import SimMeterSpec, SimSite


def test_a_meter_without_a_loadable_profile_is_left_out_and_the_rest_simulated() -> None:
    url = f"sim://test-{uuid.uuid4().hex[:8]}"
    site = SimSite(
        [
            SimMeterSpec(url, "no-such-profile", "2"),
            SimMeterSpec(url, "eastron-sdm120", "1", register=12.5),
        ],
        scale=0.0,
    )
    try:
        assert site.meter(url, "1").profile.name == "eastron-sdm120"
        with pytest.raises(KeyError):
            site.meter(url, "2")
        site.update([SimMeterSpec(url, "also-missing", "3")])  # a reload with only a bad one
        with pytest.raises(KeyError):
            site.meter(url, "3")
    finally:
        site.close()
