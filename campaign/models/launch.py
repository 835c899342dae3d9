"""Launch and transfer: H3 ascent, trajectory corrections, lunar orbit insertion and descent-orbit burns.

The phase ends at powered-descent initiation (PDI). It answers: did the launcher deliver the stack to lunar
transfer, did the lander's new engine survive every burn, and how much propellant is left for the powered
descent once the transfer has been paid for?

Physics and assumptions
-----------------------
* Ascent succeeds with an epistemic reliability (:func:`campaign.models.rules.ascent_reliability`). With
  ``configuration_prior`` (the default), it is ``ascent_reliability_common * (1 - configuration_failure_prob)``:
  what every H3 configuration shares (Beta posterior from the flights counted against the common vehicle) times
  the survival of the H3-24L configuration's own failure modes (a new-configuration prior updated with F8's
  fairing-separation failure). Without it, the pooled ``ascent_reliability`` (the whole H3 record as one
  vehicle). DATA.md "Launch"; the derivation and its numbers are in docs/priors.md.
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

from . import rules
from ._keys import open_uniform, subkey
from ._spec import Input, Kind, MissionModel, Output, Param, Section

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
        Param(
            "configuration_prior",
            "",
            "Ascent reliability from the configuration prior (common H3 record x H3-24L term); false: the pooled prior",
            kind="bool",
        ),
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
        Input(
            "ascent_reliability_common",
            "1",
            "Reliability of what every H3 configuration shares (configuration prior)",
            (0.0, 1.0),
        ),
        Input(
            "configuration_failure_prob",
            "1",
            "Failure probability specific to the H3-24L configuration (configuration prior)",
            (0.0, 1.0),
        ),
    ),
)

OUTPUTS = (
    Output("launch_ok", Kind.BOOL, "", "H3 ascent reached lunar-transfer injection", role="phase"),
    Output("reached_pdi", Kind.BOOL, "", "Every burn up to powered-descent initiation succeeded"),
    Output(
        "ascent_reliability_used",
        Kind.FLOAT,
        "1",
        "Ascent reliability the launch drew against (configuration or pooled prior, launch.configuration_prior)",
        meaning="ascent_reliability",
    ),
    Output("transfer_ok", Kind.BOOL, "", "Reached PDI with enough propellant for the descent", role="phase"),
    Output(
        "injection_error_mps", Kind.FLOAT, "m/s", "Magnitude of the injection velocity error", valid_when="launch_ok"
    ),
    Output("tcm_dv_mps", Kind.FLOAT, "m/s", "Trajectory-correction delta-v", valid_when="launch_ok"),
    Output("loi_dv_mps", Kind.FLOAT, "m/s", "Lunar-orbit-insertion delta-v", valid_when="launch_ok"),
    Output("dv_to_pdi_mps", Kind.FLOAT, "m/s", "Delta-v from injection to PDI", valid_when="launch_ok"),
    Output(
        "burns_completed",
        Kind.INT,
        "1",
        "Engine burns completed before PDI or the first failure",
        valid_when="launch_ok",
    ),
    Output("mass_at_pdi_kg", Kind.FLOAT, "kg", "Lander mass at PDI", valid_when="reached_pdi"),
    Output(
        "propellant_at_pdi_kg",
        Kind.FLOAT,
        "kg",
        "Propellant on board at PDI (residual included)",
        valid_when="reached_pdi",
    ),
    Output(
        "descent_propellant_kg",
        Kind.FLOAT,
        "kg",
        "Propellant the nominal powered descent needs",
        valid_when="reached_pdi",
    ),
    Output(
        "propellant_margin_kg",
        Kind.FLOAT,
        "kg",
        "Usable propellant at PDI minus the descent's need",
        valid_when="reached_pdi",
    ),
)


def simulate(params, inputs, tables, key: jax.Array) -> dict:
    """Simulate launch and transfer for one mission (scalars in, scalars out; see the module docstring):
    ``params.launch`` and ``inputs.launch`` are the section's records; ``tables`` is unused (no ``prepare``).
    The physics is :func:`campaign.models.rules.launch_outputs`, shared with the NumPy oracle."""
    dtype = inputs.launch.ascent_reliability.dtype
    return rules.launch_outputs(
        params.launch,
        inputs.launch,
        open_uniform(subkey(key, "launch/ascent"), dtype),
        open_uniform(subkey(key, "launch/engine"), dtype),
        jnp,
    )


MODEL = MissionModel(
    name="launch",
    doc="Launch and transfer to powered-descent initiation",
    sections=(SECTION,),
    outputs=OUTPUTS,
    simulate=simulate,
)
