"""Mobility: the traverse between planned science sites, its hazards, and where the route runs in shadow.

The plan is a sequence of legs (``leg_km``: from the landing point to the first science site, then from each
site to the next). The rover drives at ``drive_speed_kmph`` (an effective speed: stops for imaging and path
planning included; VIPER's top speed is 0.8 km/h, DATA.md) and only when the operations planner allows it
(:mod:`campaign.models.surface`: power, thermal state, the link to Earth, battery margin in darkness).

Hazards per km: entrapment (soft soil, a rock between the wheels) and a wheel or actuator failure, each a
Poisson process in distance, so the odometer reading at which each happens is exponential; either ends the
rover's mobility (it lives on where it stopped, a shadowed place included).

Shadow: a site marked shadowed (``science.site_shadowed``) lies in or at the edge of shadow. The last
``shadow_reach_km`` of the leg into it and the first ``shadow_reach_km`` of the leg out of it run in shadow: no
sunlight on the array, and the box radiates to ground at ``shadow_sink_temp_k``. These excursions run on
battery.
"""

from __future__ import annotations

import jax.numpy as jnp

from . import rules
from ._spec import Input, Param, Section

SECTION = Section(
    name="mobility",
    params=(
        Param(
            "leg_km",
            "km",
            "Planned legs: landing point to the first science site, then site to site",
            ge=0,
            kind="floats",
        ),
        Param("drive_speed_kmph", "km/h", "Effective traverse speed while driving (stops included)", gt=0),
        Param("entrapment_per_km", "1/km", "Entrapments (soft soil, rocks) per km driven", ge=0),
        Param("wheel_failure_per_km", "1/km", "Wheel or actuator failures per km driven", ge=0),
        Param("shadow_reach_km", "km", "Length of route in shadow on the way into and out of a shadowed site", ge=0),
        Param("shadow_sink_temp_k", "K", "Radiative sink seen by the box in shadow", gt=0),
    ),
    inputs=(
        Input("speed_factor", "1", "Realised / planned effective speed", (0.0, float("inf"))),
        Input("hazard_factor", "1", "Realised / nominal hazard rates per km (terrain knowledge)", (0.0, float("inf"))),
    ),
)

ENTRAPPED, WHEEL_FAILED = 1, 2  # mobility-loss codes (0: still mobile)


def km_to_hazards(p, hazard_factor, u_entrapment, u_wheel):
    """Odometer readings (km) at which the rover would be entrapped and would lose a wheel or actuator, from
    uniform draws in (0, 1) (infinite where the rate is zero)."""
    return (
        rules.exponential_first_event(p.entrapment_per_km * hazard_factor, u_entrapment, jnp),
        rules.exponential_first_event(p.wheel_failure_per_km * hazard_factor, u_wheel, jnp),
    )


def in_shadow(p, legs_km, shadowed, leg, to_go_km):
    """Whether the rover on ``leg`` (index into ``legs_km``), ``to_go_km`` before its end, is in shadow
    (:func:`campaign.models.rules.in_shadow`, with the ``mobility`` section's ``shadow_reach_km``)."""
    return rules.in_shadow(p.shadow_reach_km, legs_km, shadowed, leg, to_go_km, jnp)
