"""The surface mission in plain NumPy (:func:`campaign.models.surface.simulate`), vectorised over rovers: what
every drilling attempt would do, then the hourly time loop in Python, the operations planner choosing each
step's mode, the power/thermal step of :mod:`tests.oracles.night_survival` serving it, the activities advancing
where it was served. The loop, its state and the drilling physics are written apart from the JAX model (the
agreement tests compare them); the planner's rules are shared (:mod:`campaign.models.rules`).
"""

from __future__ import annotations

import numpy as np

from campaign.models import power_thermal as pt
from campaign.models import rules
from campaign.models.mobility import ENTRAPPED, WHEEL_FAILED
from campaign.models.outcomes import Outcome
from campaign.models.rules import ANALYSE, DRILL, DRIVE
from tests.oracles import night_survival as nm
from tests.oracles import section_params


def drill_attempts(p, water_wt, dry_layer_m, ice_critical_wt, rock_factor, u_rock, u_jam, u_lose) -> dict:
    """What each drilling attempt would do (:func:`campaign.models.drill.attempt`): the first of the target
    depth, a blocking rock, a jam and the time budget ends it."""
    target, dry_rate = p["target_depth_m"], p["dry_rate_m_per_h"]
    ice = (np.maximum(water_wt, 0.0) / ice_critical_wt) ** p["ice_transition_sharpness"]
    icy_rate = p["icy_rate_m_per_h"] + (dry_rate - p["icy_rate_m_per_h"]) / (1.0 + ice)
    dry_layer = np.minimum(dry_layer_m, target)
    t_dry = dry_layer / dry_rate

    def depth_after(hours):
        return np.where(hours <= t_dry, hours * dry_rate, dry_layer + (hours - t_dry) * icy_rate)

    rock_rate = p["rock_blocking_per_m"] * rock_factor
    rock_depth = np.where(rock_rate > 0, -np.log(u_rock) / np.maximum(rock_rate, 1e-30), np.inf)
    jam_h = -np.log(u_jam) / p["jam_per_h"] if p["jam_per_h"] > 0 else np.full(u_jam.shape, np.inf)
    budget_h = p["max_attempt_h"]
    limits = np.stack(
        np.broadcast_arrays(
            target,
            np.minimum(rock_depth, target * 2),
            depth_after(np.minimum(jam_h, budget_h * 2)),
            depth_after(budget_h),
        ),
        axis=-1,
    )
    stopped_by = np.argmin(limits, axis=-1)  # 0 target, 1 rock, 2 jam, 3 time budget
    depth = np.min(limits, axis=-1)
    jammed = stopped_by == 2
    hours = np.minimum(depth, dry_layer) / dry_rate + np.maximum(depth - dry_layer, 0.0) / icy_rate
    return {
        "depth_m": depth,
        "drilling_h": np.where(jammed, jam_h, hours),
        "reached": stopped_by == 0,
        "drill_lost": jammed & (u_lose < p["jam_loses_drill_prob"]),
        "wear_m": np.minimum(depth, dry_layer) + p["icy_wear_factor"] * np.maximum(depth - dry_layer, 0.0),
    }


def surface_plan(params, x, d) -> dict[str, np.ndarray]:
    """Everything the surface loop needs that is fixed before it (:func:`campaign.models.surface.make_plan`):
    per (site, attempt) slot (n, slots) what the attempt would do and the water it would report; per mission the
    odometer readings of the mobility hazards, the hour of a component failure and the cycles to fatigue."""
    s, dr, mob = (section_params(params, name) for name in ("science", "drill", "mobility"))
    attempts = len(params["plan.attempt_slots"])
    shadowed = params["plan.shadowed"][:-1] > 0.5

    # Ground truth of each site: wet or dry, its water below a desiccated layer.
    wet = d["science.wet"] < np.where(shadowed, s["wet_fraction_shadowed"], s["wet_fraction_sunlit"])
    wet_mean = x["science.regional_mean_wt"] / max(s["wet_fraction_shadowed"], 1e-6)
    sigma = s["wet_sigma_log"]
    content = wet_mean[:, None] * np.exp(sigma * d["science.content"] - 0.5 * sigma**2)
    water = np.repeat(np.where(wet, content, s["dry_water_wt"]), attempts, axis=1)  # per slot
    layer = np.repeat(d["science.dry_layer"] * s["dry_layer_max_m"], attempts, axis=1)

    a = drill_attempts(
        dr,
        water,
        layer,
        x["drill.ice_critical_wt"][:, None],
        x["drill.rock_abundance_factor"][:, None],
        d["drill.rock"],
        d["drill.jam"],
        d["drill.lose"],
    )
    true_wt = np.where(a["depth_m"] > layer, water, s["dry_water_wt"])
    precision = np.sqrt(s["precision_abs_wt"] ** 2 + (s["precision_rel"] * true_wt) ** 2)

    rate_per_h = params["reliability.component_failure_per_year"] / (365.25 * 24.0)
    return {
        "attempt_h": dr["setup_h"] + a["drilling_h"],
        "depth_m": a["depth_m"],
        "reached": a["reached"],
        "drill_lost": a["drill_lost"],
        "wear_m": a["wear_m"],
        "delivered": a["depth_m"] >= dr["min_sample_depth_m"],
        "reported_wt": true_wt + precision * d["science.measure"],
        "km_entrapment": rules.exponential_first_event(
            mob["entrapment_per_km"] * x["mobility.hazard_factor"], d["mobility.entrapment"], np
        ),
        "km_wheel": rules.exponential_first_event(
            mob["wheel_failure_per_km"] * x["mobility.hazard_factor"], d["mobility.wheel"], np
        ),
        "failure_hour": rules.exponential_first_event(rate_per_h, d["reliability.component"], np),
        "fatigue_cycles": params["reliability.fatigue_cycles_median"]
        * np.exp(params["reliability.fatigue_sigma_log"] * d["reliability.fatigue"]),
    }


def surface(params, x, d, east_m, north_m) -> dict[str, np.ndarray]:
    """The surface mission of rovers landed ``east_m``, ``north_m`` from the surveyed site
    (:func:`campaign.models.surface.simulate`): the operations planner picks each hour's mode, the power/thermal
    step serves it, the activities advance where it was served."""
    plan = surface_plan(params, x, d)
    p = nm.rover_parameters(params, x)
    o, mob, sci = (section_params(params, name) for name in ("operations", "mobility", "science"))
    n = east_m.shape[0]
    at = np.arange(n)
    dt_h = float(params["surface.step_hours"])
    legs, shadowed = np.asarray(params["plan.legs_km"], np.float64), np.asarray(params["plan.shadowed"]) > 0.5
    last = legs.shape[0] - 1  # the leg out of the last site's shadow
    attempts_per_site = len(params["plan.attempt_slots"])
    reach = mob["shadow_reach_km"]
    step_km = mob["drive_speed_kmph"] * x["mobility.speed_factor"] * dt_h
    analysers_ok, spectrometers_ok = x["science.analysers_ok"] > 0.5, x["science.spectrometers_ok"] > 0.5
    forecast = params["plan.sun_hours_ahead"]
    # Energy to drive the whole shadowed stretch, heater at full power.
    drive_out_wh = rules.shadow_drive_out_wh(p, reach, step_km, dt_h)

    table = nm.site_table(params)
    distance_m, shift = nm.horizon_shift(params, x, east_m, north_m)
    start, rows_per_step = nm.table_positions(params, x)
    ps, light = nm.initial_state(p, n), nm.initial_site_light(n)

    def in_shadow(leg, to_go):
        return rules.in_shadow(reach, legs, shadowed, leg, to_go, np)

    def awake_at(alive, soc, cool, lit, shadow):
        return rules.rover_awake(alive, cool, lit, shadow, soc, p["soc_operate_min"], o["soc_dark_drive_min"])

    zeros, izeros = np.zeros(n), np.zeros(n, np.int64)
    leg, to_go, site_open, attempt, drill_h = izeros, np.full(n, legs[0]), np.ones(n, bool), izeros, zeros
    drill_ok, wear, pending, analyse_left = np.ones(n, bool), zeros, izeros - 1, zeros
    mobile, mobility_loss, immobilised_step = np.ones(n, bool), izeros, izeros
    odometer, traverse, drive_h, shadow_h = zeros, zeros, zeros, zeros
    n_attempts, depth_max, depth_sum, sites_reached = izeros, zeros, zeros, izeros
    samples, target_samples, sites_quantified, shadow_sites_quantified = izeros, izeros, izeros, izeros
    best_reported = np.full(n, -np.inf)
    stop_km = np.minimum(plan["km_entrapment"], plan["km_wheel"])

    for k in range(len(params["surface.step_index"])):
        position = start + k * rows_per_step
        env = nm.environment(table, shift, position)
        # the landing site's light, before the rover's shadow darkens env
        nm.tally_site_light(light, env, dt_h, p["sunlit_disk_fraction"])
        alive = ps["alive"]
        capacity = p["battery_capacity_wh"] * (1.0 - p["battery_fade_per_year"] * (k * dt_h / 24.0) / 365.25)
        soc = ps["energy_wh"] / capacity
        # In shadow the rover leaves once the battery is down to its reserve plus the drive out.
        leave_below = o["soc_shadow_exit"] + drive_out_wh / capacity / p["discharge_efficiency"]
        cool = ps["temp_k"] <= o["max_operating_temp_k"]

        # Leave behind a site that is done with, or abandon the one whose shadow the battery cannot afford.
        shadow = in_shadow(leg, to_go)
        awake = awake_at(alive, soc, cool, (env["disk_fraction"] > p["sunlit_disk_fraction"]) & ~shadow, shadow)
        leaving = awake & shadow & (soc < leave_below) & mobile
        done_here = (to_go <= 0.0) & (leg < last) & (~site_open | ~drill_ok)
        advance = done_here | (leaving & (leg < last) & shadowed[leg] & (to_go <= reach))
        nxt = np.minimum(leg + 1, last)
        leg, to_go = np.where(advance, nxt, leg), np.where(advance, legs[nxt], to_go)
        site_open = site_open | advance
        attempt, drill_h = np.where(advance, 0, attempt), np.where(advance, 0.0, drill_h)

        # The light where the rover is now, and the mode.
        shadow = in_shadow(leg, to_go)
        env["disk_fraction"] = np.where(shadow, 0.0, env["disk_fraction"])
        env["sink_temp_k"] = np.where(shadow, mob["shadow_sink_temp_k"], env["sink_temp_k"])
        lit = env["disk_fraction"] > p["sunlit_disk_fraction"]
        dark = env["disk_fraction"] < pt.DARK_DISK_FRACTION
        at_end, site_leg = to_go <= 0.0, leg < last
        awake = awake_at(alive, soc, cool, lit, shadow)
        leaving = awake & shadow & (soc < leave_below) & mobile & ~at_end
        entering = ~shadow & shadowed[leg] & (to_go - step_km <= reach)
        sun_ahead_h = forecast[np.minimum(np.floor(position).astype(np.int64), forecast.shape[0] - 2)]
        mode = rules.planner_mode(
            o,
            awake,
            leaving,
            analyse_left > 0,
            at_end & site_leg & site_open & drill_ok,
            mobile,
            at_end,
            entering,
            env["earth_visible"],
            dark,
            soc,
            sun_ahead_h,
            np,
        )
        demand = rules.mode_demand_w(p, mode, awake, env["earth_visible"], np)
        served = nm.advance(ps, p, env, k, dt_h, demand)["powered"]
        worked = alive & served

        # Driving, up to the end of the leg or to the odometer reading of a mobility hazard.
        driving = worked & (mode == DRIVE)
        km = np.where(driving, np.minimum(np.maximum(np.minimum(step_km, to_go), 0.0), stop_km - odometer), 0.0)
        odometer = odometer + km
        stuck = driving & (odometer >= stop_km)
        to_go = to_go - km
        arrived = driving & (to_go <= 0.0) & site_leg

        # Drilling: an attempt completes once its hours are in.
        slot = leg * attempts_per_site + np.minimum(attempt, attempts_per_site - 1)
        here = at, np.minimum(slot, plan["depth_m"].shape[1] - 1)  # the leg out of the last site has no slots
        drilling = worked & (mode == DRILL)
        drill_h = drill_h + np.where(drilling, dt_h, 0.0)
        completes = drilling & (drill_h >= plan["attempt_h"][here])
        attempt = attempt + completes
        wear = wear + np.where(completes, plan["wear_m"][here], 0.0)
        drill_ok = drill_ok & ~(completes & plan["drill_lost"][here]) & (wear < params["drill.bit_life_m"])
        site_open = site_open & ~(completes & (plan["reached"][here] | (attempt >= attempts_per_site)))
        to_analyse = completes & plan["delivered"][here] & analysers_ok
        depth = plan["depth_m"][here]

        # Analysis: the sample's result counts once its hours are in.
        analysing = worked & (mode == ANALYSE)
        left = analyse_left - np.where(analysing, dt_h, 0.0)
        result = analysing & (left <= 0.0)
        q = np.maximum(pending, 0)
        reported = plan["reported_wt"][at, q]
        at_target = result & plan["reached"][at, q]
        found = at_target & (reported > sci["detection_limit_wt"])

        drill_h = np.where(completes, 0.0, drill_h)
        pending = np.where(to_analyse, slot, np.where(result, -1, pending))
        analyse_left = np.where(to_analyse, sci["analyse_h"], np.where(result, 0.0, left))
        lost_now = stuck & mobile
        mobility_loss = np.where(
            lost_now, np.where(odometer >= plan["km_entrapment"], ENTRAPPED, WHEEL_FAILED), mobility_loss
        )
        immobilised_step = np.where(lost_now, k + 1, immobilised_step)
        mobile = mobile & ~stuck
        traverse = traverse + np.where(spectrometers_ok, km, 0.0)
        drive_h = drive_h + np.where(driving, dt_h, 0.0)
        shadow_h = shadow_h + np.where(alive & shadow, dt_h, 0.0)
        n_attempts = n_attempts + completes
        depth_max = np.where(completes, np.maximum(depth_max, depth), depth_max)
        depth_sum = depth_sum + np.where(completes, depth, 0.0)
        sites_reached = sites_reached + arrived
        samples = samples + result
        target_samples = target_samples + at_target
        sites_quantified = sites_quantified + found
        shadow_sites_quantified = shadow_sites_quantified + (found & shadowed[q // attempts_per_site])
        best_reported = np.where(result, np.maximum(best_reported, reported), best_reported)

        # A random component failure and thermal fatigue end the mission like the cold does.
        component = ps["alive"] & ((k + 1) * dt_h >= plan["failure_hour"])
        fatigue = ps["alive"] & ~component & (ps["thermal_cycles"] >= plan["fatigue_cycles"])
        dies = component | fatigue
        ps["alive"] = ps["alive"] & ~dies
        ps["death_step"] = np.where(dies, k + 1, ps["death_step"])
        ps["cause"] = np.where(
            component,
            Outcome.SURFACE_COMPONENT_FAILURE,
            np.where(fatigue, Outcome.SURFACE_THERMAL_FATIGUE, ps["cause"]),
        ).astype(np.int16)

    return {
        **nm.survival_outputs(params, x, ps, light, distance_m),
        "water_goal_met": (
            (sites_quantified >= sci["goal_sites"])
            & (shadow_sites_quantified >= sci["goal_shadow_sites"])
            & (traverse >= sci["goal_traverse_km"])
        ),
        "sites_water_quantified": sites_quantified,
        "shadow_sites_water_quantified": shadow_sites_quantified,
        "samples_analysed": samples,
        "target_depth_samples": target_samples,
        "sample_analysed": samples > 0,
        "best_reported_water_wt": np.where(samples > 0, best_reported, 0.0),
        "sites_reached": sites_reached,
        "drill_attempts": n_attempts,
        "drilled": n_attempts > 0,
        "max_depth_m": depth_max,
        "mean_depth_m": depth_sum / np.maximum(n_attempts, 1),
        "drill_lost": ~drill_ok,
        "km_driven": odometer,
        "traverse_km": traverse,
        "drive_hours": drive_h,
        "shadow_hours": shadow_h,
        "plan_completed": (leg == last) & (to_go <= 0.0),
        "immobilised": ~mobile,
        "mobility_loss": mobility_loss,
        "immobilised_day": immobilised_step * dt_h / 24.0,
    }
