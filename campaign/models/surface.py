"""The surface mission: power and thermal, mobility, drilling and water science in one time loop, run by a
rule-based operations planner, with random component failures and thermal-cycle damage.

Before the loop (per mission): the ground truth of every planned science site (:mod:`campaign.models.science`),
what every possible drilling attempt at each site would do (:mod:`campaign.models.drill`: depth, time, wear,
loss of the drill, the sample and its reported water), the odometer readings of the mobility hazards
(:mod:`campaign.models.mobility`), the hour of a random component failure and the thermal cycles the rover
survives. Precomputing what an attempt *would* do costs nothing in honesty: an attempt's outcome is fixed by
its own draws, and the loop decides whether and when it happens.

Each step (``surface.step_hours``), the planner looks at the light on the array where the rover is (a shadowed
stretch of the route is dark), the Earth, the battery and the box temperature, and picks one mode:

1. ``HIBERNATE`` unless awake: the box at most ``max_operating_temp_k``, and either in sunlight with the battery
   at ``power.soc_operate_min`` or more, or in shadow with at least ``soc_dark_drive_min``;
2. ``DRIVE`` out of shadow when, in shadow, the battery has fallen to the reserve ``soc_shadow_exit`` plus the
   energy to drive the whole shadowed stretch (the site it was working at, or approaching, is abandoned);
3. ``ANALYSE`` a sample waiting for the analysers;
4. ``DRILL`` at a science site still open (an attempt runs over as many steps as it needs; a sample from the
   target depth closes the site, so do ``drill.max_attempts_per_site`` attempts, a lost or worn-out drill);
5. ``DRIVE`` along the plan: with the Earth in view (if ``needs_earth_to_drive``), and into shadow only with
   ``soc_shadow_entry`` and a forecast of at least ``shadow_min_sun_ahead_h`` of sunshine after it (the
   operators' illumination forecast, made with the surveyed horizon: :func:`sun_hours_ahead`); in darkness
   never below ``soc_dark_drive_min``;
6. ``IDLE`` otherwise (awake, communicating when the Earth is in view).

The mode sets the electrical demand (idle plus the activity's load, plus communication with the Earth in view;
hibernation load otherwise) for :func:`campaign.models.power_thermal.step`; an activity advances only in a step
whose load was served. The rover dies of cold, heat, a component failure (exponential in time) or thermal
fatigue (when its thermal cycles reach a log-normal number of cycles to failure).

The longest darkness and the sunlit and Earth-visible fractions are those of the landing site over the planned
stay (:class:`campaign.models.site.SiteLight`), as in the night-survival model: a shadowed stretch darkens
the rover, not the site, and the site's light goes on when the rover dies.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from . import drill as drillmod
from . import environment as envmod
from . import mobility as mob
from . import night_survival as ns
from . import power_thermal as pt
from . import rules
from . import science as sci
from . import site as sitemod
from ._keys import indexed, open_uniform, subkey
from ._spec import Kind, MissionModel, Output, Param, Section, TableArray, as_dtype
from .outcomes import Outcome

OPERATIONS = Section(
    name="operations",
    params=(
        Param("soc_shadow_entry", "1", "State of charge needed to drive into shadow", ge=0, le=1),
        Param("soc_shadow_exit", "1", "Reserve the rover keeps when it has driven out of shadow", ge=0, le=1),
        Param("soc_dark_drive_min", "1", "No driving (and no work) in darkness below this state of charge", ge=0, le=1),
        Param("max_operating_temp_k", "K", "Box temperature above which the rover stops working to cool down", gt=0),
        Param(
            "needs_earth_to_drive",
            "",
            "Driving needs the Earth in view (ground in the loop); false: autonomous",
            kind="bool",
        ),
        Param("shadow_min_sun_ahead_h", "h", "Enter shadow only if the forecast keeps the Sun up this long", ge=0),
    ),
    inputs=(),
)
RELIABILITY = Section(
    name="reliability",
    params=(
        Param("component_failure_per_year", "1/yr", "Rate of fatal random failures of single-string components", ge=0),
        Param(
            "fatigue_cycles_median", "1", "Median number of box thermal cycles to a fatal solder/harness failure", gt=0
        ),
        Param("fatigue_sigma_log", "1", "Log-normal spread of the cycles to failure", ge=0),
    ),
    inputs=(),
)

OUTPUTS = ns.OUTPUTS + (
    Output("water_goal_met", Kind.BOOL, "", "The water goal, counted from what the rover measured", role="goal"),
    Output("sites_water_quantified", Kind.INT, "1", "Sites with water quantified in a sample from the target depth"),
    Output("shadow_sites_water_quantified", Kind.INT, "1", "Of those, sites in or at the edge of shadow"),
    Output("samples_analysed", Kind.INT, "1", "Drilled samples analysed"),
    Output("target_depth_samples", Kind.INT, "1", "Analysed samples from the target depth"),
    Output("sample_analysed", Kind.BOOL, "", "At least one sample was analysed"),
    Output(
        "best_reported_water_wt",
        Kind.FLOAT,
        "wt%",
        "Highest water content reported by the analysers",
        valid_when="sample_analysed",
    ),
    Output("sites_reached", Kind.INT, "1", "Planned science sites reached"),
    Output("drill_attempts", Kind.INT, "1", "Drilling attempts completed"),
    Output("drilled", Kind.BOOL, "", "At least one drilling attempt was completed"),
    Output("max_depth_m", Kind.FLOAT, "m", "Deepest hole", valid_when="drilled"),
    Output("mean_depth_m", Kind.FLOAT, "m", "Mean depth of the completed attempts", valid_when="drilled"),
    Output("drill_lost", Kind.BOOL, "", "The drill was lost to a jam or its bit wore out"),
    Output("km_driven", Kind.FLOAT, "km", "Odometer: distance driven"),
    Output("traverse_km", Kind.FLOAT, "km", "Distance driven with the radar and neutron spectrometer working"),
    Output("drive_hours", Kind.FLOAT, "h", "Hours spent driving"),
    Output("shadow_hours", Kind.FLOAT, "h", "Hours spent in shadow"),
    Output("plan_completed", Kind.BOOL, "", "Every planned site visited and the route driven to its end"),
    Output("immobilised", Kind.BOOL, "", "Mobility lost (entrapment, wheel or actuator failure)"),
    Output("mobility_loss", Kind.INT, "1", "0: mobile, 1: entrapped, 2: wheel or actuator failure"),
    Output("immobilised_day", Kind.FLOAT, "d", "Day mobility was lost", valid_when="immobilised"),
)
SECTIONS = (
    sitemod.SITE,
    ns.SURFACE,
    ns.POWER,
    ns.THERMAL,
    mob.SECTION,
    drillmod.SECTION,
    sci.SECTION,
    OPERATIONS,
    RELIABILITY,
)


def check(params: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Cross-field checks of the site and the rover (:func:`campaign.models.night_survival.check`) and of the
    plan (lists whose lengths must agree, thresholds that must be ordered)."""
    problems = ns.check(params)
    legs, shadowed = list(params["mobility.leg_km"]), list(params["science.site_shadowed"])
    if len(shadowed) != len(legs):
        problems.append(
            (
                "mission.science.site_shadowed",
                f"must have one entry per planned site, like "
                f"mission.mobility.leg_km ({len(legs)}), got {len(shadowed)}",
            )
        )
    if any(v not in (0.0, 1.0) for v in shadowed):
        problems.append(("mission.science.site_shadowed", f"entries must be 0 or 1, got {shadowed}"))
    if params["operations.soc_shadow_exit"] < params["operations.soc_dark_drive_min"]:
        problems.append(
            (
                "mission.operations.soc_shadow_exit",
                "must be >= mission.operations.soc_dark_drive_min "
                "(the rover must still be allowed to drive out when it decides to leave)",
            )
        )
    if params["science.goal_shadow_sites"] > params["science.goal_sites"]:
        problems.append(("mission.science.goal_shadow_sites", "must be <= mission.science.goal_sites"))
    return problems


class Tables(NamedTuple):
    """What :func:`prepare` computes on the host, once per campaign: the landing site's environment and the plan
    as arrays."""

    site: sitemod.SiteTables
    sun_hours_ahead: TableArray  # (rows,) the operators' sunlight forecast per environment-table row
    legs_km: TableArray  # (sites + 1,) with a last leg out of the last site's shadow
    shadowed: TableArray  # (sites + 1,) bool: the site each leg ends at is in shadow
    attempt_slots: TableArray  # (attempts per site,) int32


def prepare(params: Mapping[str, Any]) -> Tables:
    """The night-survival tables plus the plan as arrays: legs (with a last leg out of the last site's shadow),
    the shadow flag of each leg's end, and one slot per possible attempt at a site."""
    legs = np.asarray(params["mobility.leg_km"], dtype=np.float64)
    shadowed = np.asarray(params["science.site_shadowed"], dtype=np.float64)
    park = float(params["mobility.shadow_reach_km"]) * shadowed[-1]
    site = sitemod.prepare(params)
    forecast = sun_hours_ahead(np.asarray(site.table), float(params["power.sunlit_disk_fraction"]))
    return Tables(
        site=site,
        sun_hours_ahead=forecast,
        legs_km=np.append(legs, park),
        shadowed=np.append(shadowed, 0.0) > 0.5,
        attempt_slots=np.arange(int(params["drill.max_attempts_per_site"]), dtype=np.int32),
    )


def sun_hours_ahead(env_table: np.ndarray, sunlit_disk_fraction: float) -> np.ndarray:
    """The operators' forecast (host, once per campaign): for each row of the environment table, the hours of
    uninterrupted sunlight (more than ``sunlit_disk_fraction`` of the solar disk above the *surveyed* horizon,
    seen from the array) from that instant on. The planner uses it as the team would use their illumination
    predictions: the true horizon may differ."""
    col = lambda name: env_table[:, sitemod.ENV_COLUMNS.index(name)]  # noqa: E731
    disk = envmod.disk_fraction_visible(col("sun_elevation_deg"), col("sun_horizon_deg"), col("sun_radius_deg"))
    lit = disk > sunlit_disk_fraction
    ahead = np.zeros(lit.shape[0])
    run = 0.0
    for i in range(lit.shape[0] - 1, -1, -1):
        run = run + sitemod.TABLE_STEP_HOURS if lit[i] else 0.0
        ahead[i] = run
    return ahead


class Plan(NamedTuple):
    """Per-mission quantities fixed before the loop. Attempt arrays are flat, index ``site * A + attempt``."""

    legs_km: jnp.ndarray  # (sites + 1,)
    shadowed: jnp.ndarray  # (sites + 1,) bool
    attempt_h: jnp.ndarray  # setup plus drilling
    depth_m: jnp.ndarray
    reached: jnp.ndarray
    drill_lost: jnp.ndarray
    wear_m: jnp.ndarray
    delivered: jnp.ndarray
    reported_wt: jnp.ndarray
    true_wt: jnp.ndarray  # of the sample (the dry layer's if shallower)
    km_entrapment: jnp.ndarray
    km_wheel: jnp.ndarray
    failure_hour: jnp.ndarray
    fatigue_cycles: jnp.ndarray


def make_plan(params, inputs, tables: Tables, key) -> Plan:
    """Draw everything the loop needs from this mission's key (one purpose, one tag)."""
    dtype = inputs.surface.landing_time_frac.dtype
    legs = jnp.asarray(tables.legs_km).astype(dtype)
    shadowed = jnp.asarray(tables.shadowed)
    sites = legs.shape[0] - 1
    attempts = tables.attempt_slots.shape[0]
    d, s = params.drill, params.science
    ground = sci.ground_truth(s, shadowed[:sites], inputs.science.regional_mean_wt, subkey(key, "surface/ground"))

    slot = jnp.arange(sites * attempts)
    site_of = slot // attempts
    draw = lambda tag: indexed(key, tag, slot, lambda k: open_uniform(k, dtype))  # noqa: E731
    a = drillmod.attempt(
        d,
        ground.water_wt[site_of],
        ground.dry_layer_m[site_of],
        inputs.drill.ice_critical_wt,
        inputs.drill.rock_abundance_factor,
        draw("surface/drill/rock"),
        draw("surface/drill/jam"),
        draw("surface/drill/lose"),
    )
    true_wt = sci.sample_water_wt(s, ground.water_wt[site_of], ground.dry_layer_m[site_of], a.depth_m)
    noise = indexed(key, "surface/measure", slot, lambda k: jax.random.normal(k, (), dtype))

    m = params.mobility
    km_entrapment, km_wheel = mob.km_to_hazards(
        m,
        inputs.mobility.hazard_factor,
        open_uniform(subkey(key, "surface/entrapment"), dtype),
        open_uniform(subkey(key, "surface/wheel"), dtype),
    )
    rate_per_h = params.reliability.component_failure_per_year / (365.25 * 24.0)
    failure_hour = jnp.where(
        rate_per_h > 0,
        -jnp.log(open_uniform(subkey(key, "surface/component"), dtype)) / jnp.maximum(rate_per_h, 1e-30),
        jnp.inf,
    )
    fatigue = params.reliability.fatigue_cycles_median * jnp.exp(
        params.reliability.fatigue_sigma_log * jax.random.normal(subkey(key, "surface/fatigue"), (), dtype)
    )
    return Plan(
        legs_km=legs,
        shadowed=shadowed,
        attempt_h=d.setup_h + a.drilling_h,
        depth_m=a.depth_m,
        reached=a.reached_target,
        drill_lost=a.drill_lost,
        wear_m=a.wear_m,
        delivered=a.depth_m >= d.min_sample_depth_m,
        reported_wt=sci.measure(s, true_wt, noise),
        true_wt=true_wt,
        km_entrapment=km_entrapment,
        km_wheel=km_wheel,
        failure_hour=failure_hour,
        fatigue_cycles=fatigue,
    )


class Route(NamedTuple):
    """Where the rover is on its route and what its driving has done (scalars)."""

    leg: jnp.ndarray  # index into Plan.legs_km; the last leg leads out of the last site's shadow
    to_go_km: jnp.ndarray  # left on the current leg
    mobile: jnp.ndarray
    mobility_loss: jnp.ndarray
    immobilised_step: jnp.ndarray
    odometer_km: jnp.ndarray
    traverse_km: jnp.ndarray
    drive_h: jnp.ndarray
    shadow_h: jnp.ndarray
    sites_reached: jnp.ndarray


class Drilling(NamedTuple):
    """The drill and its tallies (scalars)."""

    site_open: jnp.ndarray  # the site ending the current leg still wants drilling
    attempt: jnp.ndarray  # attempts completed at the current site
    drill_h: jnp.ndarray  # progress into the current attempt
    drill_ok: jnp.ndarray
    wear_m: jnp.ndarray
    attempts: jnp.ndarray
    depth_max_m: jnp.ndarray
    depth_sum_m: jnp.ndarray


class Analyses(NamedTuple):
    """The analysers' queue and the science tallies (scalars)."""

    pending: jnp.ndarray  # attempt slot of the sample waiting for the analysers, -1 if none
    analyse_left_h: jnp.ndarray
    samples: jnp.ndarray
    target_samples: jnp.ndarray
    sites_quantified: jnp.ndarray
    shadow_sites_quantified: jnp.ndarray
    best_reported_wt: jnp.ndarray


class Ops(NamedTuple):
    """What the rover has done and where it is: its route, its drill, its analyses."""

    route: Route
    drill: Drilling
    science: Analyses


def init_ops(plan: Plan) -> Ops:
    dtype = plan.legs_km.dtype
    z, i = jnp.zeros((), dtype), jnp.zeros((), jnp.int32)
    yes = jnp.array(True)
    return Ops(
        route=Route(
            leg=i,
            to_go_km=plan.legs_km[0],
            mobile=yes,
            mobility_loss=i,
            immobilised_step=i,
            odometer_km=z,
            traverse_km=z,
            drive_h=z,
            shadow_h=z,
            sites_reached=i,
        ),
        drill=Drilling(
            site_open=yes, attempt=i, drill_h=z, drill_ok=yes, wear_m=z, attempts=i, depth_max_m=z, depth_sum_m=z
        ),
        science=Analyses(
            pending=i - 1,
            analyse_left_h=z,
            samples=i,
            target_samples=i,
            sites_quantified=i,
            shadow_sites_quantified=i,
            best_reported_wt=z - jnp.inf,
        ),
    )


class Record(NamedTuple):
    """One step as seen by the planner (with ``record=True``; for tests and diagnostics)."""

    mode: jnp.ndarray
    worked: jnp.ndarray  # the step's load was served and the rover alive
    dark: jnp.ndarray  # less than 1% of the solar disk on the array where the rover is
    in_shadow: jnp.ndarray
    earth_visible: jnp.ndarray
    soc: jnp.ndarray  # at the start of the step
    drive_km: jnp.ndarray
    leg: jnp.ndarray
    alive: jnp.ndarray  # at the end of the step


class Context(NamedTuple):
    """What every step of one mission shares, fixed before the loop (closed over, not carried)."""

    p: Any  # the rover's power/thermal parameters (night_survival.rover_parameters)
    o: Any  # the operations section
    m: Any  # the mobility section
    s: Any  # the science section
    plan: Plan
    dt_h: jnp.ndarray
    last: int  # the leg out of the last site's shadow (length 0 if none)
    attempts_per_site: int
    step_km: jnp.ndarray  # driven in a step of driving
    drive_out_wh: jnp.ndarray  # to drive the whole shadowed stretch (rules.shadow_drive_out_wh)
    analysers_ok: jnp.ndarray
    spectrometers_ok: jnp.ndarray
    bit_life_m: jnp.ndarray
    landing: tuple  # the landing's position in the environment table (site.landing_position)
    forecast: jnp.ndarray  # Tables.sun_hours_ahead


class Situation(NamedTuple):
    """The battery and the box at the start of a step, as the planner reads them."""

    alive: jnp.ndarray
    soc: jnp.ndarray
    leave_below: jnp.ndarray  # in shadow, the state of charge at which the rover leaves
    cool: jnp.ndarray  # the box at most max_operating_temp_k


class Choice(NamedTuple):
    """The planner's decision for a step."""

    mode: jnp.ndarray
    awake: jnp.ndarray
    shadow: jnp.ndarray  # the rover is in a shadowed stretch of its route
    dark: jnp.ndarray
    demand_w: jnp.ndarray  # nominal electrical demand (before the load factor)


def _shadow_at(c: Context, route: Route):
    return mob.in_shadow(c.m, c.plan.legs_km, c.plan.shadowed, route.leg, route.to_go_km)


def _awake(c: Context, now: Situation, lit, shadow):
    return rules.rover_awake(now.alive, now.cool, lit, shadow, now.soc, c.p.soc_operate_min, c.o.soc_dark_drive_min)


def situation(c: Context, ps: pt.State, step_index) -> Situation:
    """The state of charge (of the faded capacity) and the box's temperature at the start of the step. In shadow
    the rover leaves once the battery is down to the reserve it wants to keep plus what driving the whole
    shadowed stretch (at most shadow_reach_km, heater at full power) will take."""
    t_days = step_index * c.dt_h / 24.0
    capacity = pt.capacity_wh(c.p, t_days)
    soc = ps.energy_wh / capacity
    leave_below = c.o.soc_shadow_exit + c.drive_out_wh / capacity / c.p.discharge_efficiency
    return Situation(alive=ps.alive, soc=soc, leave_below=leave_below, cool=ps.temp_k <= c.o.max_operating_temp_k)


def move_on(c: Context, now: Situation, op: Ops, env: pt.Env) -> Ops:
    """Planner, first: leave behind a site that is done with (closed, or the drill lost), or abandon the one whose
    shadow the battery cannot afford; the next leg starts with a site open and no attempt made."""
    route, drill = op.route, op.drill
    shadow = _shadow_at(c, route)
    lit = (env.disk_fraction > c.p.sunlit_disk_fraction) & ~shadow
    awake = _awake(c, now, lit, shadow)
    at_end = route.to_go_km <= 0.0
    site_leg = route.leg < c.last
    target_shadow = c.plan.shadowed[route.leg] & (route.to_go_km <= c.m.shadow_reach_km)
    leaving = awake & shadow & (now.soc < now.leave_below) & route.mobile
    done_here = at_end & site_leg & (~drill.site_open | ~drill.drill_ok)
    advance = done_here | (leaving & site_leg & target_shadow)
    nxt = jnp.minimum(route.leg + 1, c.last)
    return op._replace(
        route=route._replace(
            leg=jnp.where(advance, nxt, route.leg), to_go_km=jnp.where(advance, c.plan.legs_km[nxt], route.to_go_km)
        ),
        drill=drill._replace(
            site_open=drill.site_open | advance,
            attempt=jnp.where(advance, 0, drill.attempt),
            drill_h=jnp.where(advance, 0.0, drill.drill_h),
        ),
    )


def choose_mode(c: Context, now: Situation, op: Ops, env: pt.Env, step_index) -> tuple[pt.Env, Choice]:
    """Planner, then: the light where the rover is (a shadowed stretch darkens its array and cools its sink) and
    the mode (:func:`campaign.models.rules.planner_mode`) with its electrical demand
    (:func:`campaign.models.rules.mode_demand_w`). Returns the rover's environment and the choice."""
    route, drill = op.route, op.drill
    shadow = _shadow_at(c, route)
    env = env._replace(
        disk_fraction=jnp.where(shadow, 0.0, env.disk_fraction),
        sink_temp_k=jnp.where(shadow, c.m.shadow_sink_temp_k, env.sink_temp_k),
    )
    lit = env.disk_fraction > c.p.sunlit_disk_fraction
    dark = env.disk_fraction < pt.DARK_DISK_FRACTION
    at_end = route.to_go_km <= 0.0
    site_leg = route.leg < c.last
    awake = _awake(c, now, lit, shadow)
    leaving = awake & shadow & (now.soc < now.leave_below) & route.mobile & ~at_end
    can_drill = at_end & site_leg & drill.site_open & drill.drill_ok
    entering = ~shadow & c.plan.shadowed[route.leg] & (route.to_go_km - c.step_km <= c.m.shadow_reach_km)
    row, _ = sitemod.step_position(c.landing, step_index, c.dt_h / sitemod.TABLE_STEP_HOURS, c.forecast.shape[0])
    mode = rules.planner_mode(
        c.o,
        awake,
        leaving,
        op.science.analyse_left_h > 0,
        can_drill,
        route.mobile,
        at_end,
        entering,
        env.earth_visible,
        dark,
        now.soc,
        c.forecast[row],
        jnp,
    )
    demand = rules.mode_demand_w(c.p, mode, awake, env.earth_visible, jnp)
    return env, Choice(mode=mode, awake=awake, shadow=shadow, dark=dark, demand_w=demand)


def drive(c: Context, route: Route, worked, choice: Choice, alive, step_index) -> tuple[Route, jnp.ndarray]:
    """Mobility: drive (where the step's load was served) up to the end of the leg or to the odometer reading of
    a mobility hazard, which immobilises the rover. Returns the route and the km driven."""
    plan = c.plan
    driving = worked & (choice.mode == rules.DRIVE)
    stop_km = jnp.minimum(plan.km_entrapment, plan.km_wheel)
    km = jnp.where(driving, jnp.clip(jnp.minimum(c.step_km, route.to_go_km), 0.0, stop_km - route.odometer_km), 0.0)
    odometer = route.odometer_km + km
    stuck = driving & (odometer >= stop_km)
    to_go = route.to_go_km - km
    arrived = driving & (to_go <= 0.0) & (route.leg < c.last)
    lost_now = stuck & route.mobile
    return Route(
        leg=route.leg,
        to_go_km=to_go,
        mobile=route.mobile & ~stuck,
        mobility_loss=jnp.where(
            lost_now, jnp.where(odometer >= plan.km_entrapment, mob.ENTRAPPED, mob.WHEEL_FAILED), route.mobility_loss
        ),
        immobilised_step=jnp.where(lost_now, step_index + 1, route.immobilised_step),
        odometer_km=odometer,
        traverse_km=route.traverse_km + jnp.where(c.spectrometers_ok, km, 0.0),
        drive_h=route.drive_h + jnp.where(driving, c.dt_h, 0.0),
        shadow_h=route.shadow_h + jnp.where(alive & choice.shadow, c.dt_h, 0.0),
        sites_reached=route.sites_reached + arrived.astype(jnp.int32),
    ), km


def drill_step(c: Context, drill: Drilling, leg, worked, mode) -> tuple[Drilling, jnp.ndarray, jnp.ndarray]:
    """Drilling: an attempt completes once its hours are in; a sample from the target depth, the last attempt
    at the site or a lost or worn-out drill closes the site. Returns the drill, whether a sample goes to the
    analysers and the attempt's slot."""
    plan, a = c.plan, c.attempts_per_site
    slot = leg * a + jnp.minimum(drill.attempt, a - 1)
    drilling = worked & (mode == rules.DRILL)
    drill_h = drill.drill_h + jnp.where(drilling, c.dt_h, 0.0)
    completes = drilling & (drill_h >= plan.attempt_h[slot])
    attempt = drill.attempt + completes.astype(jnp.int32)
    wear = drill.wear_m + jnp.where(completes, plan.wear_m[slot], 0.0)
    drill_ok = drill.drill_ok & ~(completes & plan.drill_lost[slot]) & (wear < c.bit_life_m)
    site_open = drill.site_open & ~(completes & (plan.reached[slot] | (attempt >= a)))
    to_analyse = completes & plan.delivered[slot] & c.analysers_ok
    return (
        Drilling(
            site_open=site_open,
            attempt=attempt,
            drill_h=jnp.where(completes, 0.0, drill_h),
            drill_ok=drill_ok,
            wear_m=wear,
            attempts=drill.attempts + completes.astype(jnp.int32),
            depth_max_m=jnp.where(completes, jnp.maximum(drill.depth_max_m, plan.depth_m[slot]), drill.depth_max_m),
            depth_sum_m=drill.depth_sum_m + jnp.where(completes, plan.depth_m[slot], 0.0),
        ),
        to_analyse,
        slot,
    )


def analyse(c: Context, sc: Analyses, worked, mode, to_analyse, slot) -> Analyses:
    """Science: the waiting sample's result counts once its analysis hours are in (water quantified from the
    target depth, in or at the edge of shadow); a sample just drilled joins the queue."""
    plan = c.plan
    analysing = worked & (mode == rules.ANALYSE)
    left = sc.analyse_left_h - jnp.where(analysing, c.dt_h, 0.0)
    result = analysing & (left <= 0.0)
    q = jnp.maximum(sc.pending, 0)
    at_target = result & plan.reached[q]
    found = at_target & sci.quantified(c.s, plan.reported_wt[q])
    in_shadow_site = plan.shadowed[q // c.attempts_per_site]
    return Analyses(
        pending=jnp.where(to_analyse, slot, jnp.where(result, -1, sc.pending)),
        analyse_left_h=jnp.where(to_analyse, c.s.analyse_h, jnp.where(result, 0.0, left)),
        samples=sc.samples + result.astype(jnp.int32),
        target_samples=sc.target_samples + at_target.astype(jnp.int32),
        sites_quantified=sc.sites_quantified + found.astype(jnp.int32),
        shadow_sites_quantified=sc.shadow_sites_quantified + (found & in_shadow_site).astype(jnp.int32),
        best_reported_wt=jnp.where(result, jnp.maximum(sc.best_reported_wt, plan.reported_wt[q]), sc.best_reported_wt),
    )


def failures(c: Context, ps: pt.State, step_index) -> pt.State:
    """A random component failure (at its drawn hour) and thermal fatigue (at the drawn number of cycles) end
    the mission like the cold does."""
    hours = (step_index + 1) * c.dt_h
    component = ps.alive & (hours >= c.plan.failure_hour)
    fatigue = ps.alive & ~component & (ps.thermal_cycles >= c.plan.fatigue_cycles)
    dies = component | fatigue
    return ps._replace(
        alive=ps.alive & ~dies,
        death_step=jnp.where(dies, step_index + 1, ps.death_step),
        cause=jnp.where(
            component, Outcome.SURFACE_COMPONENT_FAILURE, jnp.where(fatigue, Outcome.SURFACE_THERMAL_FATIGUE, ps.cause)
        ).astype(jnp.int16),
    )


def make_step(params, inputs, tables: Tables, plan: Plan, record: bool):
    """The step function ``(state, env, step_index) -> state`` of one mission (closing over its parameters): the
    named sub-steps :func:`situation`, :func:`move_on` and :func:`choose_mode` (the planner),
    :func:`campaign.models.power_thermal.step`, :func:`drive`, :func:`drill_step`, :func:`analyse` and
    :func:`failures`, in that order."""
    p = ns.rover_parameters(params, inputs)
    m, dt_h = params.mobility, params.surface.step_hours
    step_km = m.drive_speed_kmph * inputs.mobility.speed_factor * dt_h
    c = Context(
        p=p,
        o=params.operations,
        m=m,
        s=params.science,
        plan=plan,
        dt_h=dt_h,
        last=plan.legs_km.shape[0] - 1,
        attempts_per_site=tables.attempt_slots.shape[0],
        step_km=step_km,
        drive_out_wh=rules.shadow_drive_out_wh(p, m.shadow_reach_km, step_km, dt_h),
        analysers_ok=inputs.science.analysers_ok > 0.5,  # Bernoulli inputs: draws of 0 or 1
        spectrometers_ok=inputs.science.spectrometers_ok > 0.5,
        bit_life_m=params.drill.bit_life_m,
        landing=sitemod.landing_position(params, inputs, tables.site),
        forecast=jnp.asarray(tables.sun_hours_ahead),
    )

    def step(state, env: pt.Env, step_index):
        ps, op = state
        now = situation(c, ps, step_index)
        op = move_on(c, now, op, env)
        env, choice = choose_mode(c, now, op, env, step_index)
        new = pt.step(p, ps, env, dt_h, choice.demand_w)
        worked = ps.alive & new.load_served
        route, km = drive(c, op.route, worked, choice, ps.alive, step_index)
        drill, to_analyse, slot = drill_step(c, op.drill, op.route.leg, worked, choice.mode)
        op = Ops(route=route, drill=drill, science=analyse(c, op.science, worked, choice.mode, to_analyse, slot))
        new = failures(c, new, step_index)
        if not record:
            return new, op
        return (new, op), Record(
            mode=choice.mode,
            worked=worked,
            dark=choice.dark,
            in_shadow=choice.shadow,
            earth_visible=env.earth_visible,
            soc=now.soc,
            drive_km=km,
            leg=op.route.leg,
            alive=new.alive,
        )

    return step, p


def _run(params, inputs, tables: Tables, key, record: bool, loop_dtype=None):
    """The plan (drawn in the campaign's precision), then the time loop, in ``loop_dtype`` if one is given
    (``run.precision=mixed``: float32 in a float64 campaign), with outputs returned in the campaign's precision."""
    plan = make_plan(params, inputs, tables, key)
    dtype = inputs.surface.landing_time_frac.dtype
    if loop_dtype is not None and loop_dtype != dtype:
        params, inputs, tables, plan = as_dtype((params, inputs, tables, plan), loop_dtype)
    step, p = make_step(params, inputs, tables, plan, record)
    init = (pt.init(p, inputs.surface.landing_time_frac.dtype), init_ops(plan))
    # The loop tallies the landing site's light from the environment it hands the step, before the step puts
    # the rover in a shadowed stretch of its route: the site's, not the rover's.
    result = sitemod.run_steps(params, inputs, tables.site, step, init, record=record)
    return as_dtype(result, dtype), plan


def outputs(params, inputs, tables: Tables, ps: pt.State, op: Ops, light: sitemod.SiteLight) -> dict:
    """The outputs of :data:`OUTPUTS` from the final state and the landing site's light, with ``outcome``."""
    out = ns.survival_outputs(params, inputs, tables.site, ps, light)
    s = params.science
    route, drill, sc = op
    last = tables.legs_km.shape[0] - 1
    drilled = drill.attempts > 0
    out.update(
        {
            "water_goal_met": sci.goal_met(s, sc.sites_quantified, sc.shadow_sites_quantified, route.traverse_km),
            "sites_water_quantified": sc.sites_quantified,
            "shadow_sites_water_quantified": sc.shadow_sites_quantified,
            "samples_analysed": sc.samples,
            "target_depth_samples": sc.target_samples,
            "sample_analysed": sc.samples > 0,
            "best_reported_water_wt": jnp.where(sc.samples > 0, sc.best_reported_wt, 0.0),
            "sites_reached": route.sites_reached,
            "drill_attempts": drill.attempts,
            "drilled": drilled,
            "max_depth_m": drill.depth_max_m,
            "mean_depth_m": drill.depth_sum_m / jnp.maximum(drill.attempts, 1),
            "drill_lost": ~drill.drill_ok,
            "km_driven": route.odometer_km,
            "traverse_km": route.traverse_km,
            "drive_hours": route.drive_h,
            "shadow_hours": route.shadow_h,
            "plan_completed": (route.leg == last) & (route.to_go_km <= 0.0),
            "immobilised": ~route.mobile,
            "mobility_loss": route.mobility_loss,
            "immobilised_day": route.immobilised_step * params.surface.step_hours / 24.0,
        }
    )
    return out


def make_simulate(loop_dtype=None):
    """The surface model's ``simulate`` with its time loop in ``loop_dtype`` (None: the campaign's precision)."""

    def simulate(params, inputs, tables: Tables, key: jax.Array) -> dict:
        """Simulate the surface mission of one deployed rover (scalars in, scalars out)."""
        ((ps, op), light), _plan = _run(params, inputs, tables, key, record=False, loop_dtype=loop_dtype)
        return outputs(params, inputs, tables, ps, op, light)

    return simulate


simulate = make_simulate()


def trajectory(params, inputs, tables: Tables, key: jax.Array, loop_dtype=None):
    """The surface mission with every step recorded: ``(outputs, Record of arrays (steps,), Plan)``."""
    ((ps, op), light, rec), plan = _run(params, inputs, tables, key, record=True, loop_dtype=loop_dtype)
    return outputs(params, inputs, tables, ps, op, light), rec, plan


MODEL = MissionModel(
    name="surface",
    doc="100 days on the surface: power/thermal, driving, drilling and water science under an operations planner",
    sections=SECTIONS,
    outputs=OUTPUTS,
    simulate=simulate,
    prepare=prepare,
    check=check,
    with_loop_dtype=make_simulate,
)
