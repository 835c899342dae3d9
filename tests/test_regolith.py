"""1-D regolith heat model: validated against Diviner, and physically consistent."""

from __future__ import annotations

import numpy as np
import pytest

from campaign.models import regolith

SYNODIC_S = 29.530589 * 86400


@pytest.fixture(scope="module")
def equator_last_lunation():
    """Equatorial surface temperature over the last of eight lunations, hourly, with local time (deg from noon)."""
    dt = 3600.0
    t = np.arange(0, 8 * SYNODIC_S, dt)
    hour_angle = 2 * np.pi * t / SYNODIC_S
    elevation = np.degrees(np.arcsin(np.clip(np.cos(hour_angle), -1, 1)))
    temperature = regolith.surface_temperature(regolith.absorbed_flux(elevation, (elevation > 0) * 1.0, 1.0), dt)
    last = slice(t.size - int(SYNODIC_S / dt), t.size)
    return temperature[last], np.mod(np.degrees(hour_angle[last]), 360.0)


def test_reproduces_diviner_equatorial_temperatures(equator_last_lunation):
    """Williams et al. (2017, Icarus 283, 300-325) from 5.5 years of Diviner data: equatorial daytime maxima
    ~387-397 K, ~95 K just before sunrise, dusk ~30 K warmer than dawn. The standard Hayne et al. (2017) model
    with the highland albedo should land within a few kelvin of that."""
    temperature, local = equator_last_lunation
    assert 380.0 <= temperature.max() <= 400.0
    predawn = temperature[np.argmin(np.abs(local - 265.0))]  # ~5 lunar hours before sunrise
    assert 90.0 <= predawn <= 102.0
    dusk, dawn = temperature[np.argmin(np.abs(local - 88.0))], temperature[np.argmin(np.abs(local - 272.0))]
    assert 10.0 <= dusk - dawn <= 50.0


def test_constant_forcing_reaches_radiative_equilibrium():
    flux = 50.0
    temperature = regolith.surface_temperature(np.full(3000, flux), 86400.0, initial_k=150.0)
    props = regolith.RegolithProperties()
    expected = ((flux + props.heat_flow_w_m2) / (props.emissivity * regolith.SIGMA)) ** 0.25
    assert temperature[-1] == pytest.approx(expected, abs=0.05)


def test_darkness_cools_monotonically_towards_the_interior_heat_flow_limit():
    temperature = regolith.surface_temperature(np.zeros(24 * 60), 3600.0, initial_k=250.0)
    assert np.all(np.diff(temperature) <= 1e-9) and temperature[-1] < 100.0  # the warm deep layers still feed it
    floor = (regolith.RegolithProperties().heat_flow_w_m2 / (0.95 * regolith.SIGMA)) ** 0.25
    assert temperature[-1] > floor


def test_heat_capacity_and_albedo_follow_hayne_2017():
    assert regolith.heat_capacity(250.0) == pytest.approx(671.8, abs=0.5)
    assert np.all(np.diff(regolith.heat_capacity(np.linspace(20, 400, 50))) > 0)
    assert regolith.albedo(0.0) == pytest.approx(0.12)
    assert regolith.albedo(90.0) == pytest.approx(0.12 + 0.06 * 8 + 0.25)
