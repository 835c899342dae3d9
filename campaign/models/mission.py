"""The mission chain: launch and transfer -> powered descent and landing -> surface survival.

Each phase runs on what the previous one delivered and only counts if that phase succeeded:

* the landing starts from the transfer's realised mass at PDI and its realised dry mass (plus the unusable
  residual), instead of the landing model's own nominal values;
* the surface phase starts where the lander touched down: the touchdown error (downrange, crossrange) is turned
  into the rover's offset east and north of the surveyed site using the approach azimuth, replacing the surface
  model's own landing-offset inputs (it moves the local horizon, see :mod:`campaign.models.night_survival`);
* outputs of a phase never reached are marked invalid (``valid_when``) and written as null; its flags are false.

Every model still runs for every mission (``vmap`` does not branch), so the chain costs the sum of its phases.
The outcome is the first failure in flight order.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

import jax
import jax.numpy as jnp

from . import landing, launch, night_survival
from ._keys import subkey
from ._spec import Kind, MissionModel
from .outcomes import Outcome


def _gated(outputs, condition):
    """Outputs of a later phase: valid only where ``condition`` (the earlier phase succeeded)."""
    # Flags are set false where the phase was not reached (below); numbers become null. A number that already
    # depends on a flag of its own phase stays tied to it: that flag is false here too.
    return tuple(replace(o, valid_when=condition) if o.kind is not Kind.BOOL and o.valid_when is None else o
                 for o in outputs)


OUTPUTS = launch.OUTPUTS + _gated(landing.OUTPUTS, "transfer_ok") + _gated(night_survival.OUTPUTS, "landing_ok")


def prepare(params: Mapping[str, object]) -> dict:
    return {**landing.prepare(params), **night_survival.prepare(params)}


def site_offset_m(downrange_m, crossrange_m, approach_azimuth_deg):
    """East and north offsets (m) of a touchdown error given along and across an approach flown towards
    ``approach_azimuth_deg`` (from north through east); crossrange is positive to the left of the track."""
    a = jnp.radians(approach_azimuth_deg)
    east = downrange_m * jnp.sin(a) - crossrange_m * jnp.cos(a)
    north = downrange_m * jnp.cos(a) + crossrange_m * jnp.sin(a)
    return east, north


def simulate(params: Mapping[str, jax.Array], inputs: Mapping[str, jax.Array], key: jax.Array) -> dict:
    """Simulate one mission from launch to the end of the surface phase (scalars in, scalars out)."""
    first = launch.simulate(params, inputs, subkey(key, "phase/launch"))
    delivered = dict(params)
    delivered["landing.mass_at_pdi_kg"] = first["mass_at_pdi_kg"]
    propellant = params["launch.propellant_load_kg"] + inputs["launch.propellant_load_error_kg"]
    delivered["landing.dry_mass_kg"] = (params["launch.dry_mass_kg"] * (1 + inputs["launch.dry_mass_growth_frac"])
                                        + params["launch.unusable_propellant_frac"] * propellant)
    landing_inputs = {**inputs, "landing.propellant_error_kg": jnp.zeros_like(inputs["landing.propellant_error_kg"])}
    second = landing.simulate(delivered, landing_inputs, subkey(key, "phase/landing"))

    east, north = site_offset_m(second["landing_downrange_m"], second["landing_crossrange_m"],
                                params["landing.approach_azimuth_deg"])
    surface_inputs = {**inputs, "site.landing_offset_east_m": east, "site.landing_offset_north_m": north}
    third = night_survival.simulate(params, surface_inputs, subkey(key, "phase/surface"))

    attempted_landing = first["transfer_ok"]
    landed = attempted_landing & second["landing_ok"]
    outcome = jnp.where(first["outcome"] != Outcome.SUCCESS, first["outcome"],
                        jnp.where(second["outcome"] != Outcome.SUCCESS, second["outcome"], third["outcome"]))
    out = dict(first)
    for name, value in second.items():
        out[name] = value & attempted_landing if value.dtype == jnp.bool_ else value
    for name, value in third.items():
        out[name] = value & landed if value.dtype == jnp.bool_ else value
    out["landing_ok"] = landed
    out["outcome"] = outcome.astype(jnp.int16)
    return out


MODEL = MissionModel(
    name="mission",
    doc="Launch, transfer, powered descent and landing, then surface survival for the mission's length",
    sections=launch.MODEL.sections + landing.MODEL.sections + night_survival.MODEL.sections,
    outputs=OUTPUTS,
    simulate=simulate,
    prepare=prepare,
)
