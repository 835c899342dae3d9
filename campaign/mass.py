"""The rover's mass as a function of its design values: what a design lever costs against the ~350 kg rover.

LUPEX's mass breakdown is not public (DATA.md: ~350 kg with instruments, no watt or watt-hour figure), so the
model is deliberately simple and every coefficient is in ``conf/mass/rover.yaml`` with its source or `assumed`:

* battery: nameplate capacity over the pack-level specific energy (cells, harness, structure and thermal hardware);
* solar array: area times the areal mass of a thin-film blanket with its frame;
* tower: the mast that lifts the array above the rover's deck, linear in its length (a mast for a light thin-film
  array, sized by stiffness rather than strength at these lengths: assumed linear, no published figure);
* insulation: multilayer insulation's conductance falls as 1 / (number of layers) and its mass grows with the
  layers, so its mass is ``insulation_kg_w_per_k / conductance``;
* radiator: area times areal mass (panel, louvres, heat pipes);
* everything else (structure, mobility, drill, instruments, avionics): ``other_kg``, fixed so that the default
  design weighs the published ~350 kg (:func:`other_for`; the test suite checks the figure in conf).

The margin is ``limit_kg`` minus the total: negative when a design is heavier than the rover as published.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

# The design values the mass depends on, by their parameter keys (section.name, as in CampaignConfig.params).
BATTERY = "power.battery_capacity_wh"
ARRAY_AREA = "power.array_area_m2"
ARRAY_HEIGHT = "power.array_height_m"
CONDUCTANCE = "thermal.insulation_conductance_w_per_k"
RADIATOR = "thermal.radiator_area_m2"
LEVERS = (BATTERY, ARRAY_AREA, ARRAY_HEIGHT, CONDUCTANCE, RADIATOR)


@dataclass(frozen=True)
class MassModel:
    """Mass coefficients (``conf/mass/``): kg, Wh/kg, kg/m2, kg/m, kg W/K, m."""

    limit_kg: float
    other_kg: float
    battery_wh_per_kg: float
    array_kg_per_m2: float
    deck_height_m: float
    tower_kg_per_m: float
    insulation_kg_w_per_k: float
    radiator_kg_per_m2: float

    def applies_to(self, params: Mapping[str, Any]) -> bool:
        """Whether ``params`` describe a rover (a model with the power and thermal sections)."""
        return all(k in params for k in LEVERS)

    def components(self, params: Mapping[str, Any]) -> dict[str, float]:
        """Mass (kg) of each design-dependent component for the design values ``params`` (keys as in
        :data:`LEVERS`)."""
        tower_m = max(float(params[ARRAY_HEIGHT]) - self.deck_height_m, 0.0)
        return {
            "battery_kg": float(params[BATTERY]) / self.battery_wh_per_kg,
            "array_kg": float(params[ARRAY_AREA]) * self.array_kg_per_m2,
            "tower_kg": tower_m * self.tower_kg_per_m,
            "insulation_kg": self.insulation_kg_w_per_k / float(params[CONDUCTANCE]),
            "radiator_kg": float(params[RADIATOR]) * self.radiator_kg_per_m2,
        }

    def total_kg(self, params: Mapping[str, Any]) -> float:
        return self.other_kg + sum(self.components(params).values())

    def breakdown(self, params: Mapping[str, Any]) -> dict:
        """Components, other mass, total and margin against the limit (kg), for ``summary.json``."""
        parts = self.components(params)
        total = self.other_kg + sum(parts.values())
        return {
            **parts,
            "other_kg": self.other_kg,
            "total_kg": total,
            "limit_kg": self.limit_kg,
            "margin_kg": self.limit_kg - total,
        }


def other_for(model: MassModel, params: Mapping[str, Any], reference_kg: float) -> float:
    """The ``other_kg`` for which the design ``params`` weighs ``reference_kg`` (how conf's figure is made)."""
    return reference_kg - sum(model.components(params).values())


def breakdown_of_run(resolved: Mapping) -> dict | None:
    """:meth:`MassModel.breakdown` from a run's stored config (``run.json`` ``config``: its ``mass`` section and
    mission design values), or None for a run without a rover or from before the mass model."""
    if not resolved.get("mass"):
        return None
    params = {
        f"{section}.{name}": value
        for section, values in (resolved.get("mission") or {}).items()
        if isinstance(values, Mapping)
        for name, value in values.items()
    }
    model = MassModel(**resolved["mass"])
    return model.breakdown(params) if model.applies_to(params) else None
