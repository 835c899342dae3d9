"""Drilling to the 1.5 m target: what one attempt reaches, how long it takes, and what it costs the drill.

An auger (LUPEX carries a 1.5 m auger drill, DATA.md) bores through a desiccated overburden of loose regolith,
then through the regolith below it, whose strength depends on its ice content. Icy simulants at ~110 K behave
"like high-strength concrete or sand, nothing in between" once ice exceeds a critical 1-3 wt% (Johnson et al.
2024, DATA.md), so the penetration rate below the overburden falls steeply from the dry rate to the icy rate as
the water content ``w`` crosses the critical content ``w_c``::

    rate(w) = icy + (dry - icy) / (1 + (w / w_c)^n)

Below ~0.3 m polar regolith stays far below 150 K all year, so the cold condition is taken as always met at
drilling depth (stated assumption). Three things end an attempt before the target:

* a rock the auger cannot pass: blocking rocks are a Poisson process in depth (``rock_blocking_per_m``), so the
  depth of the first is exponential;
* a bit jam: a Poisson process in drilling time (``jam_per_h``); a jam loses the drill string with probability
  ``jam_loses_drill_prob``;
* the attempt's time budget (``max_attempt_h`` of drilling).

Wear: a metre of icy regolith wears the bit ``icy_wear_factor`` times as much as a metre of loose regolith; the
bit is spent after ``bit_life_m`` metres-equivalent, summed over the mission's attempts by the caller.

Every random quantity comes in as a uniform draw, so that on common random numbers (the same draws) more rock or
more ice can only make an attempt end shallower: the tests check this monotonicity. Pure functions of one
attempt; the surface model evaluates them for every (site, attempt) pair before its time loop.
"""

from __future__ import annotations

from typing import NamedTuple

import jax.numpy as jnp

from ._spec import Input, Param, Section

SECTION = Section(
    name="drill",
    params=(
        Param("target_depth_m", "m", "Depth the sampling goal asks for", gt=0),
        Param("max_attempts_per_site", "1", "Attempts at one science site before moving on", ge=1, integer=True),
        Param("dry_rate_m_per_h", "m/h", "Penetration rate in loose, dry regolith", gt=0),
        Param("icy_rate_m_per_h", "m/h", "Penetration rate in ice-cemented regolith", gt=0),
        Param(
            "ice_transition_sharpness",
            "1",
            "Exponent n of the strength transition around the critical ice content",
            gt=0,
        ),
        Param("rock_blocking_per_m", "1/m", "Rocks the auger cannot pass, per metre drilled", ge=0),
        Param("jam_per_h", "1/h", "Bit jams per hour of drilling", ge=0),
        Param("jam_loses_drill_prob", "1", "Probability that a jam loses the drill string", ge=0, le=1),
        Param("bit_life_m", "m", "Metres of loose regolith a bit drills before it is spent", gt=0),
        Param("icy_wear_factor", "1", "Wear per metre of icy regolith relative to loose regolith", ge=1),
        Param("max_attempt_h", "h", "Drilling time after which an attempt is abandoned", gt=0),
        Param(
            "setup_h", "h", "Time per attempt besides boring: deploy, retract, sample transfer to the analysers", ge=0
        ),
        Param("min_sample_depth_m", "m", "A hole shallower than this yields no sample", ge=0),
    ),
    inputs=(
        Input(
            "ice_critical_wt",
            "wt%",
            "Water content above which cold regolith becomes concrete-like",
            (0.0, float("inf")),
        ),
        Input("rock_abundance_factor", "1", "Realised / nominal density of blocking rocks", (0.0, float("inf"))),
    ),
)


class Attempt(NamedTuple):
    """What one attempt did (scalars, or arrays of any common shape)."""

    depth_m: jnp.ndarray  # depth reached
    drilling_h: jnp.ndarray  # boring time spent (setup excluded)
    reached_target: jnp.ndarray  # bool
    stopped_by: jnp.ndarray  # int: 0 target, 1 rock, 2 jam, 3 time budget
    drill_lost: jnp.ndarray  # bool: a jam lost the drill string
    wear_m: jnp.ndarray  # bit wear in metres-equivalent of loose regolith


REACHED, ROCK, JAM, TIME = 0, 1, 2, 3


def penetration_rate_m_per_h(p, water_wt, ice_critical_wt):
    """Penetration rate (m/h) below the dry overburden for a water content ``water_wt`` (wt%)."""
    x = (jnp.maximum(water_wt, 0.0) / ice_critical_wt) ** p.ice_transition_sharpness
    return p.icy_rate_m_per_h + (p.dry_rate_m_per_h - p.icy_rate_m_per_h) / (1.0 + x)


def attempt(p, water_wt, dry_layer_m, ice_critical_wt, rock_factor, u_rock, u_jam, u_lose) -> Attempt:
    """One attempt at a spot with ``water_wt`` (wt%) below a loose overburden ``dry_layer_m`` (m) thick.

    ``p`` holds the ``drill`` parameters (names without the section prefix); ``u_*`` are uniform draws in (0, 1)
    for the depth of the first blocking rock, the drilling time to a jam and whether that jam loses the drill."""
    target = p.target_depth_m
    dry_rate = p.dry_rate_m_per_h
    icy_rate = penetration_rate_m_per_h(p, water_wt, ice_critical_wt)
    dry_layer = jnp.minimum(dry_layer_m, target)

    def depth_after(hours):
        """Depth bored in ``hours`` of drilling (no obstacle)."""
        t_dry = dry_layer / dry_rate
        return jnp.where(hours <= t_dry, hours * dry_rate, dry_layer + (hours - t_dry) * icy_rate)

    def hours_to(depth):
        return jnp.minimum(depth, dry_layer) / dry_rate + jnp.maximum(depth - dry_layer, 0.0) / icy_rate

    rock_rate = p.rock_blocking_per_m * rock_factor
    rock_depth = jnp.where(rock_rate > 0, -jnp.log(u_rock) / jnp.maximum(rock_rate, 1e-30), jnp.inf)
    jam_h = jnp.where(p.jam_per_h > 0, -jnp.log(u_jam) / jnp.maximum(p.jam_per_h, 1e-30), jnp.inf)
    budget_h = p.max_attempt_h

    limits = jnp.stack(
        jnp.broadcast_arrays(
            target,
            jnp.minimum(rock_depth, target * 2),
            depth_after(jnp.minimum(jam_h, budget_h * 2)),
            depth_after(budget_h),
        ),
        axis=-1,
    )
    stopped_by = jnp.argmin(limits, axis=-1)
    depth = jnp.min(limits, axis=-1)
    reached = stopped_by == REACHED
    jammed = stopped_by == JAM
    wear = jnp.minimum(depth, dry_layer) + p.icy_wear_factor * jnp.maximum(depth - dry_layer, 0.0)
    return Attempt(
        depth_m=depth,
        drilling_h=jnp.where(jammed, jam_h, hours_to(depth)),
        reached_target=reached,
        stopped_by=stopped_by.astype(jnp.int32),
        drill_lost=jammed & (u_lose < p.jam_loses_drill_prob),
        wear_m=wear,
    )
