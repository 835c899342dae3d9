"""NumPy oracle of one rover power/thermal step, vectorised over missions.

A second, independent implementation of :func:`campaign.models.power_thermal.step` in plain NumPy (independent on
purpose: the exact integration of the box's temperature and the battery's bookkeeping are what the tests compare):
the tests check that both agree, and the benchmarks use it as the vectorised-NumPy baseline that peer tools would
run (through :mod:`tests.oracles.night_survival`).
Only the quantities that define the physics are computed (energy, temperature, served power, survival);
the bookkeeping of statistics is left to the JAX model.
"""

from __future__ import annotations

import numpy as np

SIGMA = 5.670374419e-8


def step(p: dict, energy_wh, temp_k, step_index, env: dict, dt_h: float, demand_w=None) -> dict:
    """One step for arrays of missions. ``p`` maps parameter names (as in the JAX model) to scalars or arrays;
    ``env`` holds ``solar_flux_w_m2, disk_fraction, array_cos_incidence, sink_temp_k, earth_visible``.
    ``demand_w`` is the nominal electrical load an operations planner chose (W, before ``p["load_factor"]``), as
    in :func:`campaign.models.power_thermal.step`; without it the rover runs its duty-cycle average when the Sun
    is up and the battery above its operating threshold, and hibernates otherwise.
    Returns the new energy (Wh) and temperature (K), the served load and heater power (W), and whether the box
    left its survival range; and, for the bookkeeping of a whole mission (:mod:`tests.oracles.night_survival`), the
    array power and the wanted load and heater (W), the energy stored (Wh), the capacity and floor (Wh), and
    whether the essential load was served."""
    dt_s = dt_h * 3600.0
    age_years = step_index * dt_h / 24.0 / 365.25
    capacity = p["battery_capacity_wh"] * (1.0 - p["battery_fade_per_year"] * age_years)
    floor = p["soc_min"] * capacity

    array_w = (
        env["solar_flux_w_m2"]
        * p["array_area_m2"]
        * p["array_efficiency"]
        * (1.0 - p["array_degradation_per_year"] * age_years)
        * env["array_cos_incidence"]
        * env["disk_fraction"]
    )
    if demand_w is None:
        awake = (env["disk_fraction"] > p["sunlit_disk_fraction"]) & (energy_wh / capacity >= p["soc_operate_min"])
        comm = np.where(env["earth_visible"], p["duty_comm"] * p["comm_w"], 0.0)
        awake_w = (
            p["idle_w"]
            + p["duty_drive"] * p["drive_w"]
            + p["duty_drill"] * p["drill_w"]
            + p["duty_analyse"] * p["analyse_w"]
            + comm
        )
        demand_w = np.where(awake, awake_w, p["hibernate_w"])
    wanted_load = p["load_factor"] * demand_w

    def exact_box(heat_w):
        opening = np.clip(
            (temp_k - p["heater_setpoint_k"] - p["louvre_open_start_k"])
            / (p["louvre_open_full_k"] - p["louvre_open_start_k"]),
            0.0,
            1.0,
        )
        emissivity = p["radiator_emissivity_closed"] + opening * (
            p["radiator_emissivity_open"] - p["radiator_emissivity_closed"]
        )
        k_rad = emissivity * p["radiator_area_m2"] * SIGMA
        conductance = p["insulation_conductance_w_per_k"] + 4.0 * k_rad * temp_k**3
        offset = (
            p["insulation_conductance_w_per_k"] * env["sink_temp_k"]
            + 4.0 * k_rad * temp_k**4
            - k_rad * (temp_k**4 - env["sink_temp_k"] ** 4)
        )
        decay = np.exp(-conductance * dt_s / p["box_heat_capacity_j_per_k"])
        asymptote = (heat_w + offset) / conductance
        return asymptote + (temp_k - asymptote) * decay, conductance, offset, decay

    internal = p["load_heat_fraction"] * wanted_load
    unheated, conductance, offset, decay = exact_box(internal)
    target = (p["heater_setpoint_k"] - decay * temp_k) / np.maximum(1.0 - decay, 1e-12)
    wanted_heater = np.where(
        unheated < p["heater_setpoint_k"],
        np.clip(target * conductance - offset - internal, 0.0, p["heater_max_w"]),
        0.0,
    )

    supply_w = array_w + (energy_wh - floor) * p["discharge_efficiency"] / dt_h
    on = supply_w >= wanted_load
    load = np.where(on, wanted_load, 0.0)
    heater = np.where(on, np.minimum(wanted_heater, supply_w - load), 0.0)
    surplus = array_w - load - heater
    stored = np.maximum(np.minimum(np.maximum(surplus, 0.0) * dt_h * p["charge_efficiency"], capacity - energy_wh), 0.0)
    taken = np.maximum(-surplus, 0.0) * dt_h / p["discharge_efficiency"]
    energy = np.clip(energy_wh + stored - taken, floor, capacity)
    temperature, _, _, _ = exact_box(p["load_heat_fraction"] * load + heater)
    return {
        "energy_wh": energy,
        "temp_k": temperature,
        "load_w": load,
        "heater_w": heater,
        "lost": (temperature < p["survival_temp_k"]) | (temperature > p["max_temp_k"]),
        "array_w": array_w,
        "wanted_load_w": wanted_load,
        "wanted_heater_w": wanted_heater,
        "stored_wh": stored,
        "capacity_wh": capacity,
        "floor_wh": floor,
        "powered": on,
    }
