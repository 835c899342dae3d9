"""Each site's calibrated parametric horizon reproduces its published illumination over the publication's period."""

from __future__ import annotations

import pytest

from campaign import sites


@pytest.mark.parametrize("name", sorted(sites.TARGETS))
def test_calibrated_site_reproduces_its_published_illumination(name):
    site, target = sites.load_site(name), sites.TARGETS[name]
    table = sites.sun_table(site, target.start_utc, target.end_utc)
    assert sites.illumination_percent(site, table) == pytest.approx(target.percent, abs=0.1)


def test_a_higher_horizon_never_lets_in_more_light():
    site = sites.load_site("connecting_ridge")
    table = sites.sun_table(site, "2028-01-01", "2029-01-01")
    values = [sites.illumination_percent(site, table, mean) for mean in (-3.0, -2.0, -1.0, 0.0, 1.0)]
    assert all(a >= b for a, b in zip(values, values[1:])) and values[0] > values[-1]


def test_every_site_file_is_calibrated_and_composes():
    from tests.helpers import compose

    for name in sites.TARGETS:
        config = compose("+experiment=night_survival", f"site={name}")
        assert dict(config.params)["site.latitude_deg"] == sites.load_site(name)["latitude_deg"]
