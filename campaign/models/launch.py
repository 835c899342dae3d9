"""Launch and transfer: H3 ascent, trajectory corrections, lunar orbit insertion and descent-orbit burns.

The phase ends at powered-descent initiation (PDI). It answers: did the launcher deliver the stack to lunar
transfer, did the lander's new engine survive every burn, and how much propellant is left for the powered
descent once the transfer has been paid for?

Physics and assumptions
-----------------------
* Ascent succeeds with probability ``ascent_reliability`` (epistemic: a Beta posterior from the H3 flight
  record, DATA.md "Launch").
* The launcher's injection leaves a velocity error ``dv_inj`` (three Gaussian components, radial/along/cross).
  Trajectory-correction manoeuvres (TCM) remove it at a cost ``tcm_gain * |dv_inj|`` (1 for an immediate
  correction, larger the later the correction) plus a clean-up budget for navigation residuals.
* Lunar orbit insertion (LOI) costs its nominal delta-v plus an arrival dispersion; descent-orbit insertion
  (DOI) its nominal delta-v.
* Every burn uses the ideal rocket equation with a dispersed specific impulse:
  ``m_after = m_before * exp(-dv / (Isp * g0))``.
* The lander engine (a new LPSC design) fails at each start with probability ``engine_failure_prob_per_burn``
  (epistemic). The number of good starts before the first failure is geometric, drawn by inverse CDF from one
  uniform, so the burn sequence needs no loop.
* At PDI the propellant margin is the usable propellant left (above the unusable residual) minus what the
  nominal powered descent needs by the rocket equation. A negative margin fails the transfer phase: the lander
  cannot afford the descent.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from ._keys import open_uniform, subkey
from ._spec import Input, Kind, MissionModel, Output, Param, Section
from .outcomes import Outcome, first_failure

G0_MPS2 = 9.80665  # standard gravity, defines Isp in seconds

SECTION = Section(
    name="launch",
    params=(
        Param("dry_mass_kg", "kg", "Lander dry mass at separation, rover and payload included", gt=0),
        Param("propellant_load_kg", "kg", "Propellant loaded in the lander", gt=0),
        Param("isp_s", "s", "Nominal specific impulse of the lander's main engine", gt=0),
        Param("unusable_propellant_frac", "1", "Residual propellant that cannot be burned", ge=0, lt=1),
        Param("tcm_gain", "1", "TCM delta-v per m/s of injection velocity error", ge=0),
        Param("tcm_burns", "1", "Planned trajectory-correction burns", ge=0, integer=True),
        Param("loi_dv_mps", "m/s", "Nominal lunar-orbit-insertion delta-v", ge=0),
        Param("doi_burns", "1", "Burns to lower the orbit to the PDI point", ge=0, integer=True),
        Param("doi_dv_mps", "m/s", "Nominal delta-v of all descent-orbit burns", ge=0),
        Param("powered_descent_dv_mps", "m/s", "Delta-v budget of the powered descent from PDI", ge=0),
    ),
    inputs=(
        Input("ascent_reliability", "1", "Probability that the H3 ascent reaches injection", (0.0, 1.0)),
        Input("engine_failure_prob_per_burn", "1", "Lander engine failure probability per start", (0.0, 1.0)),
        Input("injection_error_radial_mps", "m/s", "Injection velocity error, radial component"),
        Input("injection_error_along_mps", "m/s", "Injection velocity error, along-track component"),
        Input("injection_error_cross_mps", "m/s", "Injection velocity error, cross-track component"),
        Input("tcm_cleanup_dv_mps", "m/s", "TCM delta-v for navigation residuals", (0.0, float("inf"))),
        Input("loi_dv_dispersion_mps", "m/s", "Deviation of the LOI delta-v from nominal"),
        Input("isp_dispersion_frac", "1", "Relative deviation of the realised Isp from nominal"),
        Input("dry_mass_growth_frac", "1", "Relative deviation of the dry mass from its allocation"),
        Input("propellant_load_error_kg", "kg", "Deviation of the loaded propellant from nominal"),
    ),
)

OUTPUTS = (
    Output("launch_ok", Kind.BOOL, "", "H3 ascent reached lunar-transfer injection", role="phase"),
    Output("reached_pdi", Kind.BOOL, "", "Every burn up to powered-descent initiation succeeded"),
    Output("transfer_ok", Kind.BOOL, "", "Reached PDI with enough propellant for the descent", role="phase"),
    Output("injection_error_mps", Kind.FLOAT, "m/s", "Magnitude of the injection velocity error",
           valid_when="launch_ok"),
    Output("tcm_dv_mps", Kind.FLOAT, "m/s", "Trajectory-correction delta-v", valid_when="launch_ok"),
    Output("loi_dv_mps", Kind.FLOAT, "m/s", "Lunar-orbit-insertion delta-v", valid_when="launch_ok"),
    Output("dv_to_pdi_mps", Kind.FLOAT, "m/s", "Delta-v from injection to PDI", valid_when="launch_ok"),
    Output("burns_completed", Kind.INT, "1", "Engine burns completed before PDI or the first failure",
           valid_when="launch_ok"),
    Output("mass_at_pdi_kg", Kind.FLOAT, "kg", "Lander mass at PDI", valid_when="reached_pdi"),
    Output("propellant_at_pdi_kg", Kind.FLOAT, "kg", "Propellant on board at PDI (residual included)",
           valid_when="reached_pdi"),
    Output("descent_propellant_kg", Kind.FLOAT, "kg", "Propellant the nominal powered descent needs",
           valid_when="reached_pdi"),
    Output("propellant_margin_kg", Kind.FLOAT, "kg", "Usable propellant at PDI minus the descent's need",
           valid_when="reached_pdi"),
)


def propellant_for_dv(mass_kg: jax.Array, dv_mps: jax.Array, isp_s: jax.Array) -> jax.Array:
    """Propellant (kg) burned to give ``mass_kg`` a delta-v ``dv_mps`` at ``isp_s`` (ideal rocket equation)."""
    return mass_kg * -jnp.expm1(-dv_mps / (isp_s * G0_MPS2))


def first_engine_failure(u: jax.Array, p_fail: jax.Array) -> jax.Array:
    """Number of successful starts before the first failure, given one uniform ``u`` in (0, 1).

    Geometric by inverse CDF: ``P(K >= k) = (1 - p_fail)^k``. Infinite when ``p_fail == 0``.
    """
    log_survive = jnp.log1p(-p_fail)
    safe = jnp.where(log_survive < 0, log_survive, -1.0)
    return jnp.where(log_survive < 0, jnp.floor(jnp.log(u) / safe), jnp.inf)


def simulate(params, inputs, tables, key: jax.Array) -> dict:
    """Simulate launch and transfer for one mission (scalars in, scalars out; see the module docstring).

    ``params.launch`` and ``inputs.launch`` are the section's records; ``tables`` is unused (no ``prepare``)."""
    p, x = params.launch, inputs.launch
    dtype = x.ascent_reliability.dtype

    launch_ok = open_uniform(subkey(key, "launch/ascent"), dtype) < x.ascent_reliability

    injection_error = jnp.sqrt(
        x.injection_error_radial_mps**2 + x.injection_error_along_mps**2 + x.injection_error_cross_mps**2)
    tcm_dv = p.tcm_gain * injection_error + x.tcm_cleanup_dv_mps
    loi_dv = jnp.maximum(p.loi_dv_mps + x.loi_dv_dispersion_mps, 0.0)
    doi_dv = p.doi_dv_mps
    isp = p.isp_s * (1.0 + x.isp_dispersion_frac)

    dry, floor_mass = dry_and_floor_mass_kg(p, x)
    m0 = dry + (p.propellant_load_kg + x.propellant_load_error_kg)
    m_tcm = m0 - propellant_for_dv(m0, tcm_dv, isp)
    m_loi = m_tcm - propellant_for_dv(m_tcm, loi_dv, isp)
    m_pdi = m_loi - propellant_for_dv(m_loi, doi_dv, isp)

    good_starts = first_engine_failure(open_uniform(subkey(key, "launch/engine"), dtype),
                                       x.engine_failure_prob_per_burn)
    n_tcm, n_doi = p.tcm_burns, p.doi_burns
    descent_propellant = propellant_for_dv(m_pdi, p.powered_descent_dv_mps, isp)
    margin = m_pdi - floor_mass - descent_propellant

    outcome = first_failure([  # in flight order
        (~launch_ok, Outcome.LAUNCH_VEHICLE_FAILURE),
        (good_starts < n_tcm, Outcome.ENGINE_FAILURE_TCM),
        (m_tcm < floor_mass, Outcome.PROPELLANT_DEPLETED_BEFORE_PDI),
        (good_starts < n_tcm + 1, Outcome.ENGINE_FAILURE_LOI),
        (m_loi < floor_mass, Outcome.PROPELLANT_DEPLETED_BEFORE_PDI),
        (good_starts < n_tcm + 1 + n_doi, Outcome.ENGINE_FAILURE_DOI),
        (m_pdi < floor_mass, Outcome.PROPELLANT_DEPLETED_BEFORE_PDI),
        (margin < 0, Outcome.PROPELLANT_SHORT_FOR_DESCENT),
    ])

    reached_pdi = launch_ok & ((outcome == Outcome.SUCCESS) | (outcome == Outcome.PROPELLANT_SHORT_FOR_DESCENT))
    planned_burns = n_tcm + 1 + n_doi
    return {
        "outcome": outcome.astype(jnp.int16),
        "launch_ok": launch_ok,
        "reached_pdi": reached_pdi,
        "transfer_ok": outcome == Outcome.SUCCESS,
        "injection_error_mps": injection_error,
        "tcm_dv_mps": tcm_dv,
        "loi_dv_mps": loi_dv,
        "dv_to_pdi_mps": tcm_dv + loi_dv + doi_dv,
        "burns_completed": jnp.minimum(good_starts, planned_burns).astype(jnp.int32),
        "mass_at_pdi_kg": m_pdi,
        "propellant_at_pdi_kg": m_pdi - dry,
        "descent_propellant_kg": descent_propellant,
        "propellant_margin_kg": margin,
    }


def dry_and_floor_mass_kg(p, x) -> tuple[jax.Array, jax.Array]:
    """The lander's realised dry mass and the mass below which its engine starves (dry mass plus the unusable
    residual of the loaded propellant), from the ``launch`` section's params ``p`` and inputs ``x``."""
    dry = p.dry_mass_kg * (1.0 + x.dry_mass_growth_frac)
    propellant = p.propellant_load_kg + x.propellant_load_error_kg
    return dry, dry + p.unusable_propellant_frac * propellant


MODEL = MissionModel(
    name="launch",
    doc="Launch and transfer to powered-descent initiation",
    sections=(SECTION,),
    outputs=OUTPUTS,
    simulate=simulate,
)
