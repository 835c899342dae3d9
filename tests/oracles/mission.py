"""The whole mission (launch -> transfer -> landing -> deployment -> surface) in plain NumPy, vectorised over
missions, one time step after another: the oracle of :mod:`campaign.models.mission` and the NumPy peer of the
benchmarks.

The same physics and rules as :mod:`campaign.models.mission` and the models it chains, written the way an
analyst would write it for a peer tool: arrays of shape (n,) per quantity, the powered descent's Runge-Kutta
steps (:mod:`tests.oracles.landing`) and the surface mission's hourly steps (:mod:`tests.oracles.surface`) in
Python loops, every decision a boolean mask. The closed-form phases (launch, deployment) and the decision rules
(first failure, tip-over, the planner's mode, the phase chain) are the shared kernels of
:mod:`campaign.models.rules`; the night-survival pieces are those of :mod:`tests.oracles.night_survival`.

Interface (for the benchmark's peers, like :mod:`tests.oracles.night_survival`):

* ``draws(rng, params, n)``: every random number the JAX model draws inside itself from a mission's key (launch
  ascent and engine, the descent's events and navigation errors per step, the deployment, the surface plan's
  ground truth, drilling and measurement per (site, attempt) slot, mobility hazards, component failure and
  fatigue), drawn with NumPy from the same distributions: uniforms on (0, 1), standard normals. Arrays of shape
  (n, ...) named in :func:`draw_shapes`.
* ``simulate(params, inputs, draws)``: the outputs of :func:`campaign.models.mission.simulate` (same names,
  units and dtypes). ``params`` maps ``"<section>.<param>"`` to the design values and the ``prepare`` arrays
  (``dict(spec.params)``), ``inputs`` each sampled input's name to an array of shape (n,) (or a scalar: one
  mission), ``draws`` as ``draws`` returns them (for one mission the leading axis may be left out).

As in the JAX model, every phase runs for every mission; outputs of a phase never reached are returned as
computed (the engine writes them as null through the outputs' ``valid_when``), and its flags are false.

Only NumPy and SciPy run here (JAX is imported by the campaign modules but never used), so forked worker
processes are safe.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from campaign.models import mission as missionmod
from campaign.models import rules
from campaign.models._spec import Kind
from tests.oracles import night_survival as nm
from tests.oracles import section_params
from tests.oracles.landing import landing
from tests.oracles.launch import dry_mass_kg, launch
from tests.oracles.surface import surface

UNIFORM, NORMAL = "uniform", "normal"


# The descent's uniform draws, each from its own stream (campaign.models.landing draws them by these names)
LANDING_UNIFORMS = (
    "misalign",
    "engine_out",
    "engine_out_time",
    "altimeter_fault",
    "slope_quantile_target",
    "rock_target",
    "hazard_detected",
    "divert_direction",
    "divert_distance",
    "slope_quantile_safe",
    "slope_quantile_landed",
    "rock_landed",
    "slope_azimuth",
    "unmodelled_fault",
)


def draw_shapes(params: Mapping[str, object]) -> dict[str, tuple[str, tuple[int, ...]]]:
    """``name -> (distribution, shape of one mission's draws)`` of every draw the model makes inside itself."""
    steps, fixes = len(params["landing.step_index"]), len(params["landing.fix_index"])
    waves = len(params["landing.relief_wavelength_m"])
    sites = len(params["plan.legs_km"]) - 1
    slots = sites * len(params["plan.attempt_slots"])  # slot = site * attempts + attempt
    one = lambda kind: (kind, ())  # noqa: E731
    return {
        "launch.ascent": one(UNIFORM),
        "launch.engine": one(UNIFORM),
        **{f"landing.{name}": one(UNIFORM) for name in LANDING_UNIFORMS},
        "landing.od_position": (NORMAL, (3,)),
        "landing.accel_bias": (NORMAL, (3,)),
        "landing.velocimeter_bias": (NORMAL, (3,)),
        "landing.feature_matching": (NORMAL, (fixes, 3)),
        "landing.altimeter": (NORMAL, (steps,)),
        "landing.imu": (NORMAL, (steps, 3)),
        "landing.velocimeter": (NORMAL, (steps, 3)),
        "landing.relief": (UNIFORM, (waves, 2)),
        "deployment.lowering": one(UNIFORM),
        "science.wet": (UNIFORM, (sites,)),
        "science.dry_layer": (UNIFORM, (sites,)),
        "science.content": (NORMAL, (sites,)),
        "drill.rock": (UNIFORM, (slots,)),
        "drill.jam": (UNIFORM, (slots,)),
        "drill.lose": (UNIFORM, (slots,)),
        "science.measure": (NORMAL, (slots,)),
        "mobility.entrapment": one(UNIFORM),
        "mobility.wheel": one(UNIFORM),
        "reliability.component": one(UNIFORM),
        "reliability.fatigue": one(NORMAL),
    }


def draws(rng: np.random.Generator, params: Mapping[str, object], n: int) -> dict[str, np.ndarray]:
    """The model's own random draws for ``n`` missions (see :func:`draw_shapes`)."""
    eps = np.finfo(np.float64).eps
    out = {}
    for name, (kind, shape) in draw_shapes(params).items():
        if kind == UNIFORM:
            out[name] = np.clip(rng.random((n, *shape)), eps / 2, 1 - eps / 2)
        else:
            out[name] = rng.standard_normal((n, *shape))
    return out


DTYPES = {Kind.FLOAT: np.float64, Kind.INT: np.int32, Kind.BOOL: np.bool_}


def simulate(
    params: Mapping[str, object], inputs: Mapping[str, object], draws: Mapping[str, np.ndarray]
) -> dict[str, np.ndarray]:
    """Outputs of :func:`campaign.models.mission.simulate` for arrays of missions (see the module docstring)."""
    x = nm.as_arrays(inputs)
    d = {
        name: np.asarray(draws[name], np.float64).reshape((-1, *shape))
        for name, (_, shape) in draw_shapes(params).items()
    }
    first = launch(params, x, d)
    # The descent starts from the mass the transfer delivered (its dispersions replace the landing's own).
    second = landing(params, x, d, first["mass_at_pdi_kg"], dry_mass_kg(params, x))
    third = rules.deploy(
        section_params(params, "deployment"),
        second["slope_deg"],
        x["deployment.leg_settling_deg"],
        d["deployment.lowering"],
        np,
    )
    east, north = rules.site_offset_m(
        second["landing_downrange_m"], second["landing_crossrange_m"], params["landing.approach_azimuth_deg"], np
    )
    fourth = surface(params, x, d, east, north)
    out = rules.chain_phases(
        [(first, "transfer_ok"), (second, "landing_ok"), (third, "deployment_ok"), (fourth, "surface_ok")], np
    )
    return {
        "outcome": out["outcome"],
        **{o.name: np.asarray(out[o.name]).astype(DTYPES[o.kind]) for o in missionmod.OUTPUTS},
    }
