"""The mission chain: launch and transfer -> powered descent and landing -> rover deployment -> surface mission.

Each phase runs on what the previous one delivered and only counts if that phase succeeded:

* the landing starts from the transfer's realised mass at PDI and its realised dry mass (plus the unusable
  residual), instead of the landing model's own nominal values;
* the surface phase starts where the lander touched down: the touchdown error (downrange, crossrange) is turned
  into the rover's offset east and north of the surveyed site using the approach azimuth, replacing the surface
  model's own landing-offset inputs (it moves the local horizon, see :mod:`campaign.models.night_survival`);
* the deployment lowers the rover from a lander tilted by the slope at its touchdown point (plus its legs'
  settling);
* the surface mission (:mod:`campaign.models.surface`: 100 days of power/thermal, driving, drilling and water
  science) runs only for a deployed rover;
* outputs of a phase never reached are marked invalid (``valid_when``) and written as null; its flags are false.

Every model still runs for every mission (``vmap`` does not branch), so the chain costs the sum of its phases.
The outcome is the first failure in flight order.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

import jax
import jax.numpy as jnp

from . import deployment, landing, launch, surface
from ._keys import open_uniform, subkey
from ._spec import Kind, MissionModel, section_params
from .outcomes import Outcome


def _gated(outputs, condition):
    """Outputs of a later phase: valid only where ``condition`` (the earlier phase succeeded)."""
    # Flags are set false where the phase was not reached (below); numbers become null. A number that already
    # depends on a flag of its own phase stays tied to it: that flag is false here too.
    return tuple(replace(o, valid_when=condition) if o.kind is not Kind.BOOL and o.valid_when is None else o
                 for o in outputs)


OUTPUTS = (launch.OUTPUTS + _gated(landing.OUTPUTS, "transfer_ok") + _gated(deployment.OUTPUTS, "landing_ok")
           + _gated(surface.OUTPUTS, "deployment_ok"))


def prepare(params: Mapping[str, object]) -> dict:
    return {**landing.prepare(params), **surface.prepare(params)}


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
    third = deployment.deploy(section_params(params, "deployment"), second["slope_deg"], inputs["deployment.leg_settling_deg"],
                              open_uniform(subkey(key, "phase/deployment"), second["slope_deg"].dtype))
    fourth = surface.simulate(params, surface_inputs, subkey(key, "phase/surface"))

    reached = (first["transfer_ok"], first["transfer_ok"] & second["landing_ok"])
    reached += (reached[1] & third["deployment_ok"],)
    outcome = first["outcome"]
    for phase in (second, third, fourth):
        outcome = jnp.where(outcome != Outcome.SUCCESS, outcome, phase["outcome"])
    out = dict(first)
    for gate, phase in zip(reached, (second, third, fourth)):
        for name, value in phase.items():
            out[name] = value & gate if value.dtype == jnp.bool_ else value
    out["landing_ok"], out["deployment_ok"] = reached[1], reached[2]
    out["outcome"] = outcome.astype(jnp.int16)
    return out


MODEL = MissionModel(
    name="mission",
    doc="Launch, transfer, landing, rover deployment, then the surface mission: survival, driving, drilling, water",
    sections=launch.MODEL.sections + landing.MODEL.sections + (deployment.SECTION,) + surface.MODEL.sections,
    outputs=OUTPUTS,
    simulate=simulate,
    prepare=prepare,
    check=surface.check,
)
