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
from typing import NamedTuple

import jax
import jax.numpy as jnp

from . import deployment, landing, launch, rules, surface
from ._keys import open_uniform, subkey
from ._spec import Kind, MissionModel


def _gated(outputs, condition):
    """Outputs of a later phase: valid only where ``condition`` (the earlier phase succeeded)."""
    # Flags are set false where the phase was not reached (below); numbers become null. A number that already
    # depends on a flag of its own phase stays tied to it: that flag is false here too.
    return tuple(
        replace(o, valid_when=condition) if o.kind is not Kind.BOOL and o.valid_when is None else o for o in outputs
    )


OUTPUTS = (
    launch.OUTPUTS
    + _gated(landing.OUTPUTS, "transfer_ok")
    + _gated(deployment.OUTPUTS, "landing_ok")
    + _gated(surface.OUTPUTS, "deployment_ok")
)


class Tables(NamedTuple):
    """What :func:`prepare` computes on the host: the descent's and the surface mission's tables."""

    landing: landing.Tables
    surface: surface.Tables


def prepare(params: Mapping[str, object]) -> Tables:
    return Tables(landing.prepare(params), surface.prepare(params))


# Hand-overs: each builds the next phase's records from what the previous phase delivered. ``_replace`` on a
# typed record fails on a misspelt field, so a hand-over is checked when it is traced.


def transfer_to_landing(params, inputs, transfer: dict):
    """The descent starts from the transfer's realised mass at PDI and its realised dry mass (plus the unusable
    residual), instead of the landing section's nominal values; its own propellant error is already in them."""
    _, _, floor_mass = rules.loaded_mass_kg(params.launch, inputs.launch)
    p = params._replace(
        landing=params.landing._replace(mass_at_pdi_kg=transfer["mass_at_pdi_kg"], dry_mass_kg=floor_mass)
    )
    x = inputs._replace(
        landing=inputs.landing._replace(propellant_error_kg=jnp.zeros_like(inputs.landing.propellant_error_kg))
    )
    return p, x


def touchdown_to_surface(params, inputs, touchdown: dict):
    """The rover starts where the lander touched down: the touchdown error turned into the offset east and north
    of the surveyed site (it moves the local horizon), replacing the site's own landing-offset inputs."""
    east, north = rules.site_offset_m(
        touchdown["landing_downrange_m"], touchdown["landing_crossrange_m"], params.landing.approach_azimuth_deg, jnp
    )
    return inputs._replace(site=inputs.site._replace(landing_offset_east_m=east, landing_offset_north_m=north))


def make_simulate(loop_dtype=None):
    """The mission's ``simulate``, with the surface mission's time loop in ``loop_dtype`` (None: the campaign's
    precision)."""
    surface_simulate = surface.make_simulate(loop_dtype)

    def simulate(params, inputs, tables: Tables, key: jax.Array) -> dict:
        """Simulate one mission from launch to the end of the surface phase (scalars in, scalars out)."""
        first = launch.simulate(params, inputs, None, subkey(key, "phase/launch"))
        p, x = transfer_to_landing(params, inputs, first)
        second = landing.simulate(p, x, tables.landing, subkey(key, "phase/landing"))
        u = open_uniform(subkey(key, "phase/deployment"), second["slope_deg"].dtype)
        third = deployment.deploy(params.deployment, second["slope_deg"], inputs.deployment.leg_settling_deg, u)
        fourth = surface_simulate(
            params, touchdown_to_surface(params, inputs, second), tables.surface, subkey(key, "phase/surface")
        )
        # the first failure in flight order; a later phase's flags count only where every earlier one succeeded
        return rules.chain_phases(
            [(first, "transfer_ok"), (second, "landing_ok"), (third, "deployment_ok"), (fourth, "surface_ok")], jnp
        )

    return simulate


simulate = make_simulate()


MODEL = MissionModel(
    name="mission",
    doc="Launch, transfer, landing, rover deployment, then the surface mission: survival, driving, drilling, water",
    sections=launch.MODEL.sections + landing.MODEL.sections + (deployment.SECTION,) + surface.MODEL.sections,
    outputs=OUTPUTS,
    simulate=simulate,
    prepare=prepare,
    check=surface.check,
    with_loop_dtype=make_simulate,
)
