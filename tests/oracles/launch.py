"""Launch and transfer to powered-descent initiation in NumPy (:func:`campaign.models.launch.simulate`), arrays
over missions. The phase is closed-form (no state, no time loop), so it is the shared formula itself,
:func:`campaign.models.rules.launch_outputs`, fed the NumPy draws."""

from __future__ import annotations

import numpy as np

from campaign.models import rules
from tests.oracles import section_params


def launch(params, x, d) -> dict[str, np.ndarray]:
    """Launch and transfer to PDI of arrays of missions: the outputs of :func:`campaign.models.launch.simulate`
    (same names and units) from the design ``params``, the sampled inputs ``x`` and the draws ``d``."""
    return rules.launch_outputs(
        section_params(params, "launch"), section_params(x, "launch"), d["launch.ascent"], d["launch.engine"], np
    )


def dry_mass_kg(params, x) -> np.ndarray:
    """Lander mass (kg) with no usable propellant left: the dry mass with its growth, plus the unusable residual
    of the propellant loaded. The descent starts from it (and from the transfer's mass at PDI)."""
    propellant = params["launch.propellant_load_kg"] + x["launch.propellant_load_error_kg"]
    return (
        params["launch.dry_mass_kg"] * (1 + x["launch.dry_mass_growth_frac"])
        + params["launch.unusable_propellant_frac"] * propellant
    )
